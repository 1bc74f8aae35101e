// The per-request state that Kong keeps in nginx (ngx.var, ngx.req, ngx.header, ngx.ctx) and that the
// emulated PDK reads and writes.
import type { Consumer, Route, Service } from './entities';
import type { SerializeValue } from './serialize';

export type Phase = 'certificate' | 'rewrite' | 'access' | 'response' | 'log';

/** A header list in arrival order, names as the client sent them. */
export type HeaderList = [string, string][];

export interface IncomingRequest {
  method: string;
  scheme: 'http' | 'https';
  /** Raw request target path (no query), as on the request line. */
  rawPath: string;
  rawQuery: string;
  headers: HeaderList;
  body: Buffer;
  httpVersion: number;
  clientIp: string;
  clientPort: number;
  serverPort: number;
  /** PEM of the client certificate chain, leaf first, when the TLS client presented one. */
  clientCertChainPem?: string;
  /** TLS server name (SNI) the client sent. */
  serverName?: string;
  /** The negotiated TLS version as OpenSSL names it (`TLSv1.2`, `TLSv1.3`); https only (default `TLSv1.3`). */
  tlsVersion?: string;
}

/**
 * Headers keyed case-insensitively, keeping the first-seen spelling, with all values. Each value is one header
 * LINE and remembers its place in arrival order, as nginx's header list does: get_headers(max) returns the first
 * `max` lines of that list (lua-nginx-module ngx_http_lua_ffi_req_get_headers), not the first `max` names.
 */
export class HeaderMap {
  private readonly map = new Map<string, { name: string; values: string[]; order: number[] }>();
  private nextOrder = 0;

  static from(list: Iterable<[string, string]>): HeaderMap {
    const h = new HeaderMap();
    for (const [k, v] of list) h.add(k, v);
    return h;
  }

  get(name: string): string[] | undefined {
    return this.map.get(name.toLowerCase())?.values;
  }
  first(name: string): string | undefined {
    return this.get(name)?.[0];
  }
  set(name: string, values: string | string[]): void {
    const list = Array.isArray(values) ? [...values] : [values];
    // ngx.req.set_header overwrites the first line of that name in place; further values are new lines.
    const prev = this.map.get(name.toLowerCase());
    const order = list.map((_, i) => (i === 0 && prev ? prev.order[0]! : this.nextOrder++));
    this.map.set(name.toLowerCase(), { name, values: list, order });
  }
  add(name: string, value: string): void {
    const e = this.map.get(name.toLowerCase());
    if (e) {
      e.values.push(value);
      e.order.push(this.nextOrder++);
    } else this.map.set(name.toLowerCase(), { name, values: [value], order: [this.nextOrder++] });
  }
  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }
  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }
  /** Header lines in arrival order, names lower-cased. */
  lines(): [string, string][] {
    const all: [number, string, string][] = [];
    for (const [k, e] of this.map) e.values.forEach((v, i) => all.push([e.order[i]!, k, v]));
    all.sort((a, b) => a[0] - b[0]);
    return all.map(([, k, v]) => [k, v]);
  }
  /**
   * Lower-cased keys, all values, like ngx.req.get_headers / ngx.resp.get_headers: the first `max` header lines
   * (one per line, repeated names included; lua-nginx-module ngx_http_lua_ffi_req_get_headers_count).
   */
  toLowerRecord(max = 100): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of this.lines().slice(0, max)) {
      const prev = out[k];
      out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    return out;
  }
  entries(): [string, string[]][] {
    return [...this.map.values()].map((e) => [e.name, e.values]);
  }
  clone(): HeaderMap {
    const h = new HeaderMap();
    for (const [k, e] of this.map) h.map.set(k, { name: e.name, values: [...e.values], order: [...e.order] });
    h.nextOrder = this.nextOrder;
    return h;
  }
}

/**
 * What plugins asked to change in the request sent upstream (kong.service.request.*, kong.service.*). Kong applies
 * most of these to nginx's request itself (ngx.req.set_header, set_uri_args, set_method, set_body_data), so later
 * kong.request.* reads see them; `headers` is the same table as RequestContext.requestHeaders.
 */
export interface ServiceRequestChanges {
  scheme?: string;
  method?: string;
  path?: string;
  rawQuery?: string;
  headers: HeaderMap;
  body?: Buffer;
  upstreamHost?: string;
  target?: { host: string; port: number };
}

export interface ExitResponse {
  status: number;
  body?: Buffer;
  headers: HeaderMap;
  source: 'exit' | 'error';
}

export interface UpstreamResponse {
  status: number;
  headers: HeaderMap;
  /** The whole body when it was read before responding (buffered proxying, Kong's own errors); else empty. */
  body: Buffer;
  /** Unbuffered proxying: the body as the upstream sends it. */
  stream?: import('node:stream').Readable;
}

export interface RequestContext {
  id: string; // X-Kong-Request-Id
  worker: number;
  phase: Phase;
  request: IncomingRequest;
  requestHeaders: HeaderMap;
  startTime: number; // ms since epoch
  route?: Route;
  service?: Service;
  uriCaptures?: { unnamed: string[]; named: Record<string, string> };
  consumer?: Consumer;
  credential?: Record<string, unknown>;
  /** Request changes for the upstream; seeded from the router's result. */
  serviceRequest: ServiceRequestChanges;
  /**
   * What handler.lua access.before puts in `$upstream_uri` (the escaped upstream path after strip_path and the
   * service path) and `$upstream_host` (the client's Host when the route has preserve_host), once a route matched.
   */
  routed?: { upstreamPath: string; upstreamHost?: string };
  /** Downstream response status/headers as nginx holds them (ngx.status, ngx.header). */
  responseStatus?: number;
  responseHeaders: HeaderMap;
  upstream?: UpstreamResponse;
  exited?: ExitResponse;
  /** kong.ctx.shared, shared by all plugins of the request. */
  ctxShared: Map<string, unknown>;
  /** ngx.ctx entries set through kong.nginx.set_ctx. */
  ngxCtx: Map<string, unknown>;
  bufferedProxying: boolean;
  /** Set when a certificate-phase handler called kong.client.tls.request_client_certificate. */
  clientCertRequested: boolean;
  /** kong.log.set_serialize_value calls, in order (kong/emulator/serialize.ts). */
  serializeValues: SerializeValue[];
  /** Set in the log phase: Kong runs log handlers in a timer with saved data. */
  logSnapshot?: LogSnapshot;
}

export interface LogSnapshot {
  serialized: string;
  requestHeaders: HeaderMap;
  responseHeaders: HeaderMap;
  responseStatus: number;
  responseSource: 'exit' | 'error' | 'service';
  reqStartTime: number;
  ctxShared: Map<string, unknown>;
  uriCaptures?: { unnamed: string[]; named: Record<string, string> };
}

/**
 * ngx.req.get_uri_args: `a=1&a=2&b&c=` → {a: ["1","2"], b: true, c: ""}; only the first `max` (default 100)
 * `&`-separated pieces are parsed, and empty pieces and pieces with an empty name count toward `max` although
 * they give no argument (lua-nginx-module ngx_http_lua_ffi_req_get_uri_args_count counts every `&`).
 */
export function parseQueryArgs(rawQuery: string, max = 100): Record<string, string | true | (string | true)[]> {
  const out: Record<string, string | true | (string | true)[]> = {};
  if (!rawQuery) return out;
  for (const part of rawQuery.split('&').slice(0, max)) {
    const eq = part.indexOf('=');
    const key = decodeQueryComponent(eq < 0 ? part : part.slice(0, eq));
    if (key === '') continue; // nginx ignores args with an empty name (an empty piece included)
    const value: string | true = eq < 0 ? true : decodeQueryComponent(part.slice(eq + 1));
    const prev = out[key];
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

export function decodeQueryComponent(s: string): string {
  const plus = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    // ngx.unescape_uri leaves invalid escapes as they are
    return plus.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}
