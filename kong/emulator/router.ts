// Route selection as Kong 3.9 does it with the default `router_flavor = traditional_compatible`:
// every route becomes an ATC matcher with a 64-bit priority, matchers are tried in priority order, and the
// first that matches wins. Sources (Kong/kong):
//   kong/router/compat.lua     route splitting by path group, get_priority
//   kong/router/transform.lua  the expression each route field turns into (host wildcards, header regexes)
//   kong/router/atc.lua        select(): normalised path, strip_path, upstream uri, preserve_host, captures
//   kong/router/utils.lua      strip_uri_args, sanitize_uri_postfix, get_upstream_uri (service path join)
//   kong/tools/uri.lua         normalize() before matching, escape() before proxying
//   kong/runloop/handler.lua   https-only routes answer plain http with https_redirect_status_code
//   atc-router src/router.rs   matchers sorted by (priority, uuid) and iterated in reverse

import type { KongConfig, Route, Service } from './entities';
import { kongNormalizeBytes, routeRegexSource, uuidV5 } from './declarative';

export interface RouterRequest {
  method: string;
  /** The request target as received: path plus optional `?query` (not decoded, not normalised). */
  path: string;
  /** The Host header as received (may carry a port). */
  host: string;
  scheme: 'http' | 'https';
  headers: Record<string, string | string[]>;
}

export interface RouteMatch {
  route: Route;
  /** Undefined for a route without a service (Kong still matches it; plugins may answer). */
  service: Service | undefined;
  /** The path Kong sends upstream: strip_path/service path applied, then escaped (kong.tools.uri.escape). */
  upstreamPath: string;
  /** upstreamPath plus the original query string (Kong appends `?` + args whenever the request had `?`). */
  upstreamUri: string;
  /** Host header to send upstream when the route has preserve_host (the request's Host, port included). */
  upstreamHost?: string;
  /** Regex captures of the matched path: "0" = whole match, "1".. and named groups (Kong's uri_captures). */
  uriCaptures?: Record<string, string>;
  /** The matched prefix, or the text the path regex matched; absent when no path was involved. */
  matchedPath?: string;
  /**
   * Set when the route is https-only and the request came over http: Kong answers with this status
   * instead of proxying (426 with a JSON message, or a redirect to `httpsLocation`).
   */
  httpsRedirect?: number;
  httpsLocation?: string;
}

interface PathMatcher {
  prefix?: string;
  regex?: RegExp;
  raw: string;
}

interface HeaderMatcher {
  name: string; // lower-case, '_' → '-'
  equals: string[]; // lower-cased values
  regexes: RegExp[];
}

interface Matcher {
  id: string;
  priority: bigint;
  route: Route;
  service: Service | undefined;
  methods?: Set<string>;
  hosts?: { op: 'eq' | 'prefix' | 'postfix'; value: string; port?: number }[];
  paths?: PathMatcher[];
  headers?: HeaderMatcher[];
}

// compat.lua: the uuid v5 namespace used to name the sub-routes of a split route.
const SPLIT_ROUTE_NAMESPACE = '7f145bf9-0dce-4f91-98eb-debbce4b9f6b';

const isRegexPath = (p: string) => p.startsWith('~');

/** Lua `tonumber` for the port part of a Host header (decimal digits; anything else is not a number). */
function luaPortNumber(s: string): number | undefined {
  const t = s.trim();
  if (/^\d+(\.\d*)?$/.test(t)) return Number(t);
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t, 16);
  return undefined;
}

/** transform.lua split_host_port: the first ':' splits only if what follows is a number. */
export function splitHostPort(key: string): { host: string; port?: number } {
  const p = key.indexOf(':');
  if (p < 0) return { host: key };
  const port = luaPortNumber(key.slice(p + 1));
  if (port === undefined) return { host: key };
  return { host: key.slice(0, p), port };
}

// ---------------------------------------------------------------------------------------------
// Priority (compat.lua get_priority). Kong intends a uint64 laid out as
//   bits 61-63 match weight | 60 plain hosts only | 52-59 header count | 51 regex | 19-50 regex_priority | 0-18 length
// but its `lshift_uint64(v, n)` rebinds a local instead of casting, so for plain Lua numbers LuaJIT's
// bit.lshift runs in 32 bits with the shift count masked to 5 bits: weight lands at bit 29 (61 & 31),
// header count at bit 20, regex_priority at bit 19, all as a signed int32. bit.bor then widens that
// int32 (sign-extending) when a real 64-bit operand (the plain-host or regex bit) is present, and the FFI
// call converts a negative number to a huge usize either way. We reproduce that arithmetic exactly, so
// route ordering matches a real Kong 3.9 node, including its quirks (e.g. the plain-host bit outranks
// the match weight for routes with at most three matching fields). [inferred from the source, not run]
// ---------------------------------------------------------------------------------------------

const U64 = (v: bigint) => BigInt.asUintN(64, v);
const int32Shift = (v: number, n: number) => (v << (n & 31)) | 0; // LuaJIT 32-bit bit.lshift
const PLAIN_HOST_ONLY_BIT = 1n << 60n;
const REGEX_URL_BIT = 1n << 51n;
const MAX_HEADER_COUNT = 255;

function priorityOf(route: Route, paths: string[] | undefined): bigint {
  let weight = 0;
  if (route.methods && route.methods.length > 0) weight++;
  if (route.hosts && route.hosts.length > 0) weight++;
  let headerCount = route.headers ? Object.keys(route.headers).length : 0;
  if (headerCount > 0) {
    weight++;
    headerCount = Math.min(headerCount, MAX_HEADER_COUNT);
  }
  // compat.lua: `type(hosts) == "table"` — an empty hosts array still counts as "plain hosts only".
  const plainHostOnly = Array.isArray(route.hosts) && !route.hosts.some((h) => h.includes('*'));
  let uriLength = 0;
  let regexUrl = false;
  if (paths && paths.length > 0) {
    weight++;
    if (isRegexPath(paths[0]!)) regexUrl = true;
    else uriLength = Buffer.byteLength(paths[0]!, 'utf8');
  }
  // 32-bit part, combined as LuaJIT's bit.bor would combine int32 numbers.
  const low32 =
    int32Shift(weight, 61) |
    int32Shift(headerCount, 52) |
    int32Shift(regexUrl ? route.regex_priority : 0, 19) |
    (uriLength & 0x7ffff);
  let priority = U64(BigInt(low32 | 0)); // sign-extended to 64 bits, as a negative number becomes in uint64
  if (plainHostOnly) priority |= PLAIN_HOST_ONLY_BIT;
  if (regexUrl) priority |= REGEX_URL_BIT;
  return priority;
}

// ---------------------------------------------------------------------------------------------
// Building matchers
// ---------------------------------------------------------------------------------------------

function compilePath(p: string): PathMatcher {
  if (!isRegexPath(p)) return { prefix: p, raw: p };
  const r = routeRegexSource(p.slice(1));
  if ('error' in r) throw new Error(`route path ${p}: ${r.error}`);
  // transform.lua: regex paths are anchored at the start only ("^" prefix), like the traditional router.
  return { regex: new RegExp(`^(?:${r.source})`), raw: p };
}

function compileHeaders(headers: Record<string, string[]>): HeaderMatcher[] {
  return Object.entries(headers).map(([name, values]) => {
    const m: HeaderMatcher = { name: name.toLowerCase().replace(/_/g, '-'), equals: [], regexes: [] };
    for (const v of values) {
      // transform.lua: values starting with "~*" are regexes; value and regex are both lower-cased and the
      // regex is unanchored (ATC `~` is a search).
      if (v.startsWith('~*')) {
        const r = routeRegexSource(v.slice(2).toLowerCase());
        if ('error' in r) throw new Error(`route header ${name}: ${r.error}`);
        m.regexes.push(new RegExp(r.source));
      } else {
        m.equals.push(v.toLowerCase());
      }
    }
    return m;
  });
}

function compileHosts(hosts: string[]): NonNullable<Matcher['hosts']> {
  return hosts.map((h) => {
    const { host, port } = splitHostPort(h);
    if (host.startsWith('*'))
      return { op: 'postfix' as const, value: host.slice(1), ...(port !== undefined ? { port } : {}) };
    if (host.endsWith('*'))
      return { op: 'prefix' as const, value: host.slice(0, -1), ...(port !== undefined ? { port } : {}) };
    return { op: 'eq' as const, value: host, ...(port !== undefined ? { port } : {}) };
  });
}

/** compat.lua split_route_by_path_into: one sub-route per prefix length, one for all regexes. */
function pathGroups(route: Route): { key: string | null; paths: string[] | undefined }[] {
  const paths = route.paths;
  if (!paths || paths.length <= 1) return [{ key: null, paths }];
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const key = isRegexPath(p) ? 'true' : String(Buffer.byteLength(p, 'utf8'));
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  }
  return Array.from(groups, ([key, ps]) => ({ key, paths: ps }));
}

// ---------------------------------------------------------------------------------------------
// Path handling (atc.lua select + utils.lua)
// ---------------------------------------------------------------------------------------------

/** utils.lua sanitize_uri_postfix. */
function sanitizeUriPostfix(postfix: string): string {
  if (postfix === '.' || postfix === '..') return '';
  if (postfix.startsWith('./')) return postfix.slice(2);
  if (postfix.startsWith('../')) return postfix.slice(3);
  return postfix;
}

/** utils.lua get_upstream_uri (path_handling v0, the only one traditional_compatible supports). */
export function joinUpstreamPath(
  stripPath: boolean,
  requestPostfix: string,
  reqUri: string,
  upstreamBase: string,
): string {
  if (upstreamBase.endsWith('/')) {
    if (!stripPath) return upstreamBase + reqUri.slice(1);
    if (requestPostfix === '') {
      if (upstreamBase === '/') return '/';
      return reqUri.endsWith('/') ? upstreamBase : upstreamBase.slice(0, -1);
    }
    if (requestPostfix.startsWith('/')) return upstreamBase.slice(0, -1) + requestPostfix;
    return upstreamBase + requestPostfix;
  }
  if (!stripPath) return reqUri === '/' ? upstreamBase : upstreamBase + reqUri;
  if (requestPostfix === '') return reqUri.length > 1 && reqUri.endsWith('/') ? upstreamBase + '/' : upstreamBase;
  if (requestPostfix.startsWith('/')) return upstreamBase + requestPostfix;
  return `${upstreamBase}/${requestPostfix}`;
}

// kong/tools/uri.lua ESCAPE_PATTERN: everything outside these characters is percent-encoded (per byte).
const KEEP_UNESCAPED = /[!#$&'()*+,/:;=?@[\]A-Za-z0-9\-_.~%]/;

/** kong.tools.uri.escape on a byte string (latin1 JS string). */
export function kongEscapeBytes(uri: string): string {
  let out = '';
  for (const ch of uri) {
    out += KEEP_UNESCAPED.test(ch) ? ch : `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The request path as Kong's router sees it (utils.lua strip_uri_args + normalize(uri, true)), as a UTF-8
 * string; null when the decoded bytes are not valid UTF-8 (the ATC router refuses such a path).
 */
export function routerPath(requestTarget: string): string | null {
  const q = requestTarget.indexOf('?', 1);
  const raw = q >= 0 ? requestTarget.slice(0, q) : requestTarget;
  const bytes = kongNormalizeBytes(Buffer.from(raw, 'utf8').toString('latin1'), true);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(bytes, 'latin1'));
  } catch {
    return null;
  }
}

function headerValues(headers: RouterRequest['headers'], name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase().replace(/_/g, '-') !== name) continue;
    if (Array.isArray(v)) out.push(...v);
    else out.push(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

export class Router {
  private readonly matchers: Matcher[];

  constructor(config: KongConfig) {
    const services = new Map(config.services.map((s) => [s.id, s]));
    const matchers: Matcher[] = [];
    for (const route of config.routes) {
      const service = route.service ? services.get(route.service) : undefined;
      if (route.service && !service)
        throw new Error(`route ${route.name ?? route.id}: unknown service ${route.service}`);
      for (const group of pathGroups(route)) {
        matchers.push({
          id: group.key === null ? route.id.toLowerCase() : uuidV5(SPLIT_ROUTE_NAMESPACE, `${route.id}#${group.key}`),
          priority: priorityOf(route, group.paths),
          route,
          service,
          ...(route.methods && route.methods.length > 0 ? { methods: new Set(route.methods) } : {}),
          ...(route.hosts && route.hosts.length > 0 ? { hosts: compileHosts(route.hosts) } : {}),
          // compat.lua (3.x) moves regex paths in front of prefixes within one route's expression.
          ...(group.paths && group.paths.length > 0
            ? {
                paths: [...group.paths.filter(isRegexPath), ...group.paths.filter((p) => !isRegexPath(p))].map(
                  compilePath,
                ),
              }
            : {}),
          ...(route.headers && Object.keys(route.headers).length > 0 ? { headers: compileHeaders(route.headers) } : {}),
        });
      }
    }
    // atc-router: BTreeMap<(priority, uuid)> iterated in reverse — highest priority first, and among
    // equal priorities the greatest uuid first.
    matchers.sort((a, b) =>
      a.priority === b.priority ? (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) : a.priority < b.priority ? 1 : -1,
    );
    this.matchers = matchers;
  }

  match(req: RouterRequest): RouteMatch | null {
    const path = routerPath(req.path);
    if (path === null) return null;
    const { host, port } = splitHostPort(req.host ?? '');

    for (const m of this.matchers) {
      if (m.methods && !m.methods.has(req.method)) continue;
      if (m.hosts && !m.hosts.some((h) => hostMatches(h, host, port))) continue;
      let matchedPath: string | undefined;
      let captures: RegExpExecArray | null = null;
      if (m.paths) {
        for (const p of m.paths) {
          if (p.prefix !== undefined) {
            if (path.startsWith(p.prefix)) {
              matchedPath = p.prefix;
              break;
            }
          } else {
            const r = p.regex!.exec(path);
            if (r) {
              matchedPath = r[0];
              captures = r;
              break;
            }
          }
        }
        if (matchedPath === undefined) continue;
      }
      if (m.headers && !m.headers.every((h) => headerMatches(h, req.headers))) continue;
      return this.result(m, req, path, matchedPath, captures);
    }
    return null;
  }

  private result(
    m: Matcher,
    req: RouterRequest,
    path: string,
    matchedPath: string | undefined,
    captures: RegExpExecArray | null,
  ): RouteMatch {
    const route = m.route;
    // atc.lua select: strip the matched prefix (or regex match) only when strip_path is on.
    const prefix = route.strip_path ? matchedPath : undefined;
    const postfix = sanitizeUriPostfix(prefix !== undefined ? path.slice(prefix.length) : path.slice(1));
    const upstreamBase = m.service?.path ?? '/';
    const joined = joinUpstreamPath(route.strip_path, postfix, path, upstreamBase);
    const upstreamPath = kongEscapeBytes(Buffer.from(joined, 'utf8').toString('latin1'));
    const q = req.path.indexOf('?', 1);
    const upstreamUri = q >= 0 ? `${upstreamPath}?${req.path.slice(q + 1)}` : upstreamPath;

    const result: RouteMatch = { route, service: m.service, upstreamPath, upstreamUri };
    if (matchedPath !== undefined) result.matchedPath = matchedPath;
    if (route.preserve_host) result.upstreamHost = req.host;
    if (captures && captures.length > 1) {
      // atc-router records every participating group by index ("0" = whole match) and by name.
      const uc: Record<string, string> = {};
      captures.forEach((c, i) => {
        if (c !== undefined) uc[String(i)] = c;
      });
      for (const [name, c] of Object.entries(captures.groups ?? {})) if (c !== undefined) uc[name] = c;
      // atc.lua: `uri_captures = (captures and captures[1]) and captures or nil`.
      if (uc['1'] !== undefined) result.uriCaptures = uc;
    }
    // runloop/handler.lua: only a route whose protocols have https but not http redirects plain http.
    if (route.protocols.includes('https') && !route.protocols.includes('http') && req.scheme !== 'https') {
      result.httpsRedirect = route.https_redirect_status_code;
      if (route.https_redirect_status_code !== 426) {
        // nginx $host: the Host header without its port, lower-cased; then the raw request target.
        const nginxHost = (
          req.host.startsWith('[') ? req.host.slice(0, req.host.indexOf(']') + 1) : req.host.split(':')[0]!
        ).toLowerCase();
        result.httpsLocation = `https://${nginxHost}${req.path}`;
      }
    }
    return result;
  }
}

/**
 * transform.lua host expression: `==` for a plain host, `=^` (ends with ".example.com") for `*.example.com`,
 * `^=` (starts with "example.") for `example.*`, and `net.port ==` when the route host carries a port.
 * The comparison is case-sensitive, as the ATC router receives the Host header unmodified.
 */
function hostMatches(h: NonNullable<Matcher['hosts']>[number], host: string, port: number | undefined): boolean {
  if (h.port !== undefined && h.port !== port) return false;
  if (h.op === 'eq') return host === h.value;
  if (h.op === 'postfix') return host.endsWith(h.value);
  return host.startsWith(h.value);
}

function headerMatches(h: HeaderMatcher, headers: RouterRequest['headers']): boolean {
  return headerValues(headers, h.name).some((raw) => {
    const v = raw.toLowerCase();
    return h.equals.includes(v) || h.regexes.some((r) => r.test(v));
  });
}
