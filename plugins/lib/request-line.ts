// The request line in one RPC: path with query AND the HTTP version, so that a body-less request costs no body read.
//
// Kong 3.9 answers one PDK call per round trip (kong/runloop/plugin_servers/mp_rpc.lua bridge_loop) and has no call
// returning several request facts. `kong.nginx.get_var(v)` is `ngx.var[v]` (plugin_servers/plugin.lua exposed_api),
// and nginx's `$request` is the request line: for HTTP/1.x the bytes the client sent ("GET /a?b=1 HTTP/1.1"), for
// HTTP/2 and 3 one nginx builds from the pseudo-headers (method, ":path", "HTTP/2.0"). Its target is the same
// substring `kong.request.get_path_with_query()` returns (`ngx.var.request_uri`, nginx's unparsed URI) when it is in
// origin form (starts with "/"). Anything else (absolute form "GET http://h/p", HTTP/0.9 without a version, an
// unexpected shape) falls back to get_path_with_query and an unknown version: the old reads, one RPC more.
//
// The method is NOT taken from the line: `kong.request.get_method()` is `ngx.req.get_method()`, which an earlier
// plugin may have changed (grpc-gateway, priority 998, sets POST); the line keeps the client's.
import type { HeaderMultimap, Kong } from './pdk';
import { headerValues } from './pdk';

export interface RequestLine {
  /** As `kong.request.get_path_with_query()` returns it. */
  pathWithQuery: string;
  /** Major version (1, 2, 3), or undefined where the line did not say. */
  httpMajor: number | undefined;
}

/** method SP+ origin-form target SP+ HTTP/x.y; nginx (1.21.1+) refuses a space or control char inside the target. */
const ORIGIN_FORM = /^[A-Za-z_-]+ +(\/[^ ]*) +HTTP\/(\d)\.\d$/;

/** Parses `$request`; undefined for anything but the origin form with a version. */
export function parseRequestLine(line: string | undefined): RequestLine | undefined {
  if (typeof line !== 'string') return undefined;
  const m = ORIGIN_FORM.exec(line);
  return m === null ? undefined : { pathWithQuery: m[1]!, httpMajor: Number(m[2]) };
}

/** Path with query and HTTP version: one RPC (`$request`), two when the line is not in origin form. */
export async function readRequestLine(kong: Pick<Kong, 'nginx' | 'request'>): Promise<RequestLine> {
  const parsed = parseRequestLine(await kong.nginx.getVar('request'));
  if (parsed !== undefined) return parsed;
  return { pathWithQuery: await kong.request.getPathWithQuery(), httpMajor: undefined };
}

/**
 * Whether the request certainly has no body, so that reading it (one RPC) would return "": HTTP/1.x without
 * Content-Length and Transfer-Encoding (RFC 9112 §6.3: the body length is zero; nginx reads none). HTTP/2 and 3 may
 * carry a body without Content-Length (RFC 9113 §8.1.1), and an unknown version is not HTTP/1 as far as we know.
 * A body an earlier plugin set (`kong.service.request.set_raw_body` → ngx.req.set_body_data) comes with a
 * Content-Length header (lua-nginx-module ngx_http_lua_req_body.c: set_body_data ends in
 * ngx_http_lua_set_content_length_header, "" included), so it is read.
 */
export function certainlyNoBody(line: RequestLine, headers: HeaderMultimap): boolean {
  return (
    line.httpMajor === 1 &&
    headerValues(headers, 'content-length').length === 0 &&
    headerValues(headers, 'transfer-encoding').length === 0
  );
}
