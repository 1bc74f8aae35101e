// Kong's side of the PDK as an external plugin sees it: the functions Kong 3.9 runs when a plugin server
// asks for `kong.<ns>.<fn>` (kong/runloop/plugin_servers/plugin.lua `exposed_api` + kong/pdk/*.lua), with
// the phase checks of kong/pdk/private/phases.lua and the log-timer restrictions of §1.8 of
// ../../docs/kong-protocol.md.
import * as os from 'node:os';
import type { Phase, RequestContext, HeaderMap } from './request-context';
import { parseQueryArgs } from './request-context';
import { adaSearchRemove, makeOrderedArgs } from './query-encoding';
import { cjsonEncode, CjsonError } from './cjson';
import type { Consumer, Route } from './entities';
import { kongNormalizeBytes } from './declarative';
import { UUID_RE } from '../schema/validators';
import { kongEscapeBytes } from './router';
import { serializeValue } from './serialize';

/** A Lua `error()` raised inside the PDK: Kong stops stepping the event (plugin_servers/rpc/mp_rpc.lua bridge_loop). */
export class LuaError extends Error {}

export const KONG_VERSION = '3.9.3';

export interface PdkEnv {
  pluginName: string;
  pluginId: string;
  nodeId: string;
  findConsumer(idOrUsername: string, byUsername: boolean): Consumer | undefined;
  log(level: string, pluginName: string, message: string): void;
  /** kong.conf trusted_ips (default: none), used by the get_forwarded_* functions. */
  isTrustedIp(ip: string): boolean;
  serialize(ctx: RequestContext): Record<string, unknown>;
}

/** What a PDK call asks of the event loop besides its return value. */
export type PdkOutcome = { kind: 'value'; value: unknown } | { kind: 'exit' };

type Fn = (ctx: RequestContext, args: unknown[], env: PdkEnv) => unknown;

interface PdkMethod {
  /** Phases allowed by check_phase; 'any' when the function has no check. */
  phases: readonly Phase[] | 'any';
  fn: Fn;
  /** must_fix in mp_rpc.lua: multimap or binary encoding of the result. */
  fix?: 'mmap' | 'raw';
  /** exposed_api overrides used in the log timer with the saved request data (plugin.lua). */
  logOverride?: Fn;
  /** Uses ngx.var / ngx.req / ngx.resp: fails in the log timer unless overridden. */
  needsRequest?: boolean;
}

// kong/pdk/private/phases.lua groups, restricted to the phases a JS plugin can implement.
const REWRITE_ACCESS: readonly Phase[] = ['rewrite', 'access'];
const REWRITE_ACCESS_RESPONSE: readonly Phase[] = ['rewrite', 'access', 'response'];
const REQUEST_READ: readonly Phase[] = ['rewrite', 'access', 'response', 'log'];
const RESPONSE_LOG: readonly Phase[] = ['response', 'log'];
const ACCESS_RESPONSE_LOG: readonly Phase[] = ['access', 'response', 'log'];
const ALL_REQUEST: readonly Phase[] = ['certificate', 'rewrite', 'access', 'response', 'log'];

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new LuaError(`${what} must be a string`);
  return v;
}

/**
 * The `max_headers`/`max_args` argument of get_headers/get_query (kong/pdk/request.lua and response.lua: default
 * 100, a number from 1 to 1000, otherwise a Lua error).
 */
function maxEntries(v: unknown, what: 'max_headers' | 'max_args'): number {
  if (v === undefined || v === null) return 100;
  if (typeof v !== 'number') throw new LuaError(`${what} must be a number`);
  if (v < 1) throw new LuaError(`${what} must be >= 1`);
  if (v > 1000) throw new LuaError(`${what} must be <= 1000`);
  return Math.floor(v);
}

/**
 * nginx's $http_NAME (kong.request.get_header): every header line whose name, lower-cased with `-` read as `_`,
 * equals NAME — so `X_Auth` and `X-Auth` both match — joined with ", " ("; " for Cookie) when there are several
 * (nginx ngx_http_variable_unknown_header).
 */
function httpVariable(h: HeaderMap, name: string): string | undefined {
  const want = name.toLowerCase().replace(/-/g, '_');
  const values = h
    .lines()
    .filter(([k]) => k.replace(/-/g, '_') === want)
    .map(([, v]) => v);
  if (values.length === 0) return undefined;
  return values.join(want === 'cookie' ? '; ' : ', ');
}

function headerValueList(value: unknown, name: string): string[] {
  // kong/pdk/private/checks.lua validate_header: string, number, boolean, or an array of those.
  const one = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new LuaError(
      `invalid header value for "${name}": got ${v === null || v === undefined ? 'nil' : typeof v}, expected array of string, string, number or boolean`,
    );
  };
  if (Array.isArray(value)) {
    if (value.length === 0) throw new LuaError(`invalid header value for "${name}": got empty array`);
    return value.map(one);
  }
  return [one(value)];
}

function setHeaderChecked(h: HeaderMap, name: unknown, value: unknown, add: boolean): void {
  const n = str(name, 'header name');
  const values = headerValueList(value, n);
  for (const v of values)
    if (/[\r\n]/.test(v)) throw new LuaError(`invalid header value for "${n}": contains CR or LF`);
  if (add) for (const v of values) h.add(n, v);
  else h.set(n, values);
}

function setHeadersChecked(h: HeaderMap, headers: unknown): void {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers))
    throw new LuaError('headers must be a table');
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) setHeaderChecked(h, k, v, false);
}

/** kong.request.get_host: ngx.var.host, lower-cased, no port. */
function requestHost(ctx: RequestContext): string {
  const host = ctx.requestHeaders.first('host') ?? '';
  return host
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '[$1]')
    .toLowerCase();
}

/**
 * A route as Kong's DAO returns it (kong/db/schema/entities/routes.lua 3.9.3): the service is a foreign key,
 * `{ id }`, and the fields the declarative file may omit carry their defaults.
 */
export function routeEntity(route: Route): Record<string, unknown> {
  const { service, ...rest } = route;
  return {
    path_handling: 'v0',
    request_buffering: true,
    response_buffering: true,
    ...rest,
    ...(service ? { service: { id: service } } : {}),
  };
}

/**
 * kong.request.get_path (kong/pdk/request.lua 3.9.3 line 416): `normalize(get_raw_path(), true)` from
 * kong/tools/uri.lua: reserved escapes (%2F %3F %25 %40 ...) stay encoded (upper-cased), others are decoded,
 * dot segments are resolved keeping a trailing slash (`/x/.` → `/x/`), `//` merged. On bytes; a JS string out.
 */
export function normalizePath(raw: string): string {
  return Buffer.from(kongNormalizeBytes(Buffer.from(raw, 'utf8').toString('latin1'), true), 'latin1').toString('utf8');
}

// Default messages of kong.response.error (kong/tools/http.lua `get_default_exit_body` message table): Kong's own
// texts. Not plugins/lib/errors.ts DEFAULT_ERROR_MESSAGES, Bulwark's refusal texts (some differ, e.g. 413 and 429).
export const RESPONSE_ERROR_MESSAGES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  407: 'Proxy authentication required',
  408: 'Request timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length required',
  412: 'Precondition failed',
  413: 'Payload too large',
  414: 'URI too long',
  415: 'Unsupported media type',
  416: 'Range not satisfiable',
  417: 'Expectation failed',
  421: 'Misdirected request',
  422: 'Unprocessable entity',
  426: 'Upgrade required',
  429: 'Too many requests',
  431: 'Request header fields too large',
  500: 'An unexpected error occurred',
  502: 'An invalid response was received from the upstream server',
  503: 'The upstream server is currently unavailable',
  504: 'The upstream server is timing out',
};

export function responseErrorMessage(status: number): string {
  return RESPONSE_ERROR_MESSAGES[status] ?? `The upstream server responded with ${status}`;
}

/** The body kong.response.error sends, chosen by Accept (kong/tools/http.lua templates); JSON by default. */
export function errorBody(
  status: number,
  message: string | undefined,
  accept: string | undefined,
  requestId: string,
): { body: string; contentType: string } {
  const msg = message ?? responseErrorMessage(status);
  const a = (accept ?? '').toLowerCase();
  if (a.includes('text/html')) {
    return {
      contentType: 'text/html; charset=utf-8',
      body: `<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n    <meta name="viewport" content="width=device-width, initial-scale=1.0">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>${msg}.</p>\n    <p>request_id: ${requestId}</p>\n  </body>\n</html>\n`,
    };
  }
  if (a.includes('application/xml')) {
    return {
      contentType: 'application/xml; charset=utf-8',
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>${msg}</message>\n  <requestid>${requestId}</requestid>\n</error>\n`,
    };
  }
  if (a.includes('text/plain')) {
    return { contentType: 'text/plain; charset=utf-8', body: `${msg}\nrequest_id: ${requestId}\n` };
  }
  return {
    contentType: 'application/json; charset=utf-8',
    body: `{\n  "message":${JSON.stringify(msg)},\n  "request_id":"${requestId}"\n}`,
  };
}

function checkStatus(status: unknown, min = 100): number {
  if (typeof status !== 'number' || !Number.isInteger(status)) throw new LuaError('code must be a number');
  if (status < min || status > 599) throw new LuaError(`code must be a number between ${min} and 599`);
  return status;
}

/** kong.response.exit → pdk/response.lua `exit` + `send`: a table body becomes JSON. */
function applyExit(ctx: RequestContext, args: unknown[], source: 'exit' | 'error'): void {
  const status = checkStatus(args[0], source === 'error' ? 400 : 100);
  const headers = ctx.responseHeaders.clone();
  const extra = args[2];
  if (extra !== undefined && extra !== null) setHeadersChecked(headers, extra);
  let body: Buffer | undefined;
  if (source === 'error') {
    const msg = args[1];
    if (msg !== undefined && msg !== null && typeof msg !== 'string')
      throw new LuaError('message must be a nil or a string');
    const { body: b, contentType } = errorBody(
      status,
      msg as string | undefined,
      ctx.requestHeaders.first('accept'),
      ctx.id,
    );
    body = Buffer.from(b);
    headers.set('Content-Type', contentType);
  } else {
    const b = args[1];
    if (b === undefined || b === null) body = undefined;
    else if (typeof b === 'string') body = Buffer.from(b);
    else if (b instanceof Uint8Array) body = Buffer.from(b);
    else if (typeof b === 'object') {
      // kong/pdk/response.lua 3.9.3 lines 1015-1021: cjson.encode, an encoding error is error("invalid body: ...").
      body = Buffer.from(luaCjson(b, 'invalid body: '), 'utf8');
      if (!headers.has('content-type')) headers.set('Content-Type', 'application/json; charset=utf-8');
    } else throw new LuaError('body must be a nil, string or table');
  }
  ctx.exited = { status, body, headers, source };
}

function mmapSource(value: Record<string, unknown>): Record<string, unknown> {
  return value;
}

/** cjson.encode (Kong's settings); its error is a Lua error with the caller's prefix. */
function luaCjson(v: unknown, prefix: string): string {
  try {
    return cjsonEncode(v);
  } catch (err) {
    if (err instanceof CjsonError) throw new LuaError(prefix + err.message);
    throw err;
  }
}

/** make_ordered_args; its error() (a value ngx.encode_args refuses) is a Lua error. */
function ngxArgs(args: Record<string, unknown>): string {
  try {
    return makeOrderedArgs(args);
  } catch (err) {
    throw new LuaError((err as Error).message);
  }
}

/** The request's query as nginx holds it now (ngx.var.args: plugins may have rewritten it). */
function currentQuery(c: RequestContext): string {
  return c.serviceRequest.rawQuery ?? c.request.rawQuery;
}

/** The request body as nginx holds it now (ngx.req.set_body_data replaces it for later readers). */
function currentBody(c: RequestContext): Buffer {
  return c.serviceRequest.body ?? c.request.body;
}

/** The saved request data the log timer reads (plugin.lua `exposed_api` overrides). */
function snap(ctx: RequestContext) {
  if (!ctx.logSnapshot) throw new LuaError('emulator bug: log phase without snapshot');
  return ctx.logSnapshot;
}

const M: Record<string, PdkMethod> = {
  // ---- kong.request (kong/pdk/request.lua)
  'kong.request.get_scheme': { phases: REQUEST_READ, needsRequest: true, fn: (c) => c.request.scheme },
  'kong.request.get_host': { phases: REQUEST_READ, needsRequest: true, fn: (c) => requestHost(c) },
  'kong.request.get_port': { phases: REQUEST_READ, needsRequest: true, fn: (c) => c.request.serverPort },
  'kong.request.get_forwarded_scheme': {
    phases: REQUEST_READ,
    needsRequest: true,
    fn: (c, _a, e) =>
      (e.isTrustedIp(c.request.clientIp) && c.requestHeaders.first('x-forwarded-proto')?.toLowerCase()) ||
      c.request.scheme,
  },
  'kong.request.get_forwarded_host': {
    phases: REQUEST_READ,
    needsRequest: true,
    fn: (c, _a, e) =>
      (e.isTrustedIp(c.request.clientIp) &&
        c.requestHeaders.first('x-forwarded-host')?.split(',')[0].trim().replace(/:\d+$/, '').toLowerCase()) ||
      requestHost(c),
  },
  'kong.request.get_forwarded_port': {
    phases: REQUEST_READ,
    needsRequest: true,
    fn: (c, _a, e) => {
      const p = e.isTrustedIp(c.request.clientIp) ? Number(c.requestHeaders.first('x-forwarded-port')) : NaN;
      return Number.isInteger(p) && p > 0 && p < 65536 ? p : c.request.serverPort;
    },
  },
  'kong.request.get_forwarded_path': {
    phases: REQUEST_READ,
    needsRequest: true,
    fn: (c, _a, e) =>
      (e.isTrustedIp(c.request.clientIp) && c.requestHeaders.first('x-forwarded-path')) ||
      normalizePath(c.request.rawPath),
  },
  'kong.request.get_forwarded_prefix': {
    phases: REQUEST_READ,
    needsRequest: true,
    fn: (c, _a, e) => (e.isTrustedIp(c.request.clientIp) ? c.requestHeaders.first('x-forwarded-prefix') : undefined),
  },
  'kong.request.get_http_version': { phases: REQUEST_READ, needsRequest: true, fn: (c) => c.request.httpVersion },
  // ngx.req.set_method (kong.service.request.set_method) changes what ngx.req.get_method returns afterwards.
  'kong.request.get_method': {
    phases: REQUEST_READ,
    needsRequest: true,
    fn: (c) => c.serviceRequest.method ?? c.request.method,
  },
  'kong.request.get_path': { phases: REQUEST_READ, needsRequest: true, fn: (c) => normalizePath(c.request.rawPath) },
  'kong.request.get_raw_path': { phases: REQUEST_READ, needsRequest: true, fn: (c) => c.request.rawPath },
  'kong.request.get_path_with_query': {
    phases: REQUEST_READ,
    needsRequest: true,
    fn: (c) => (c.request.rawQuery ? `${c.request.rawPath}?${c.request.rawQuery}` : c.request.rawPath),
  },
  // ngx.var.args, which kong.service.request.set_raw_query/set_query/clear_query_arg rewrite (ngx.req.set_uri_args).
  'kong.request.get_raw_query': { phases: REQUEST_READ, needsRequest: true, fn: (c) => currentQuery(c) },
  'kong.request.get_query_arg': {
    phases: REQUEST_READ,
    needsRequest: true,
    fn: (c, a) => {
      const v = parseQueryArgs(currentQuery(c))[str(a[0], 'query argument name')];
      return Array.isArray(v) ? v[0] : v;
    },
  },
  'kong.request.get_query': {
    phases: REQUEST_READ,
    needsRequest: true,
    fix: 'mmap',
    fn: (c, a) => parseQueryArgs(currentQuery(c), maxEntries(a[0], 'max_args')),
  },
  'kong.request.get_header': {
    phases: REQUEST_READ,
    fn: (c, a) => httpVariable(c.requestHeaders, str(a[0], 'header name')),
    logOverride: (c, a) => httpVariable(snap(c).requestHeaders, str(a[0], 'header name')),
  },
  'kong.request.get_headers': {
    phases: REQUEST_READ,
    fix: 'mmap',
    fn: (c, a) => c.requestHeaders.toLowerRecord(maxEntries(a[0], 'max_headers')),
    logOverride: (c, a) => snap(c).requestHeaders.toLowerRecord(maxEntries(a[0], 'max_headers')),
  },
  'kong.request.get_raw_body': {
    phases: REWRITE_ACCESS_RESPONSE,
    needsRequest: true,
    fix: 'raw',
    fn: (c, a) => {
      // Bodies over client_body_buffer_size (8k) are spooled to a file: read only when a max file size is given
      // (0 = no limit); otherwise, and when the body exceeds that size, get_raw_body returns nil (+ err, dropped).
      const body = currentBody(c);
      const max = a[0];
      if (body.length <= 8192) return body;
      if (typeof max !== 'number') return undefined;
      if (max > 0 && body.length > max) return undefined;
      return body;
    },
  },
  'kong.request.get_body': {
    phases: REWRITE_ACCESS_RESPONSE,
    needsRequest: true,
    fn: (c, a) => {
      const ct = (typeof a[0] === 'string' ? a[0] : (c.requestHeaders.first('content-type') ?? '')).toLowerCase();
      const text = currentBody(c).toString('utf8');
      if (ct.includes('application/json')) {
        try {
          return JSON.parse(text);
        } catch {
          return undefined;
        }
      }
      if (ct.includes('application/x-www-form-urlencoded'))
        return parseQueryArgs(text, typeof a[1] === 'number' ? a[1] : 100);
      return undefined; // multipart is not emulated; unsupported content types return nil, "unsupported content type"
    },
  },
  'kong.request.get_start_time': {
    phases: REQUEST_READ,
    fn: (c) => c.startTime,
    logOverride: (c) => snap(c).reqStartTime,
  },
  'kong.request.get_uri_captures': {
    phases: REQUEST_READ,
    fn: (c) => c.uriCaptures ?? { unnamed: [], named: {} },
    logOverride: (c) => snap(c).uriCaptures ?? { unnamed: [], named: {} },
  },

  // ---- kong.response (kong/pdk/response.lua)
  'kong.response.get_status': {
    phases: RESPONSE_LOG,
    fn: (c) => c.responseStatus ?? 200,
    logOverride: (c) => snap(c).responseStatus,
  },
  'kong.response.get_header': {
    phases: RESPONSE_LOG,
    fn: (c, a) => c.responseHeaders.first(str(a[0], 'header name')),
    logOverride: (c, a) => snap(c).responseHeaders.first(str(a[0], 'header name')),
  },
  'kong.response.get_headers': {
    phases: RESPONSE_LOG,
    fix: 'mmap',
    fn: (c, a) => c.responseHeaders.toLowerRecord(maxEntries(a[0], 'max_headers')),
    logOverride: (c, a) => snap(c).responseHeaders.toLowerRecord(maxEntries(a[0], 'max_headers')),
  },
  'kong.response.get_source': {
    phases: RESPONSE_LOG,
    fn: (c) => (c.exited ? c.exited.source : 'service'),
    logOverride: (c) => snap(c).responseSource,
  },
  'kong.response.set_status': {
    phases: REWRITE_ACCESS_RESPONSE,
    fn: (c, a) => void (c.responseStatus = checkStatus(a[0])),
  },
  'kong.response.set_header': {
    phases: REWRITE_ACCESS_RESPONSE,
    fn: (c, a) => void setHeaderChecked(c.responseHeaders, a[0], a[1], false),
  },
  'kong.response.add_header': {
    phases: REWRITE_ACCESS_RESPONSE,
    fn: (c, a) => void setHeaderChecked(c.responseHeaders, a[0], a[1], true),
  },
  'kong.response.clear_header': {
    phases: REWRITE_ACCESS_RESPONSE,
    fn: (c, a) => void c.responseHeaders.delete(str(a[0], 'header name')),
  },
  'kong.response.set_headers': {
    phases: REWRITE_ACCESS_RESPONSE,
    fn: (c, a) => void setHeadersChecked(c.responseHeaders, a[0]),
  },

  // ---- kong.service (kong/pdk/service.lua)
  'kong.service.set_upstream': {
    phases: ['access'],
    fn: (c, a) => void (c.serviceRequest.upstreamHost = str(a[0], 'host')),
  },
  'kong.service.set_target': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => {
      const port = a[1];
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
        throw new LuaError('port must be an integer');
      c.serviceRequest.target = { host: str(a[0], 'host'), port };
    },
  },
  'kong.service.set_retries': { phases: ['access'], fn: () => undefined },
  'kong.service.set_timeouts': { phases: ['access'], fn: () => undefined },
  'kong.service.set_tls_verify': { phases: REWRITE_ACCESS, fn: () => true },
  'kong.service.set_tls_verify_depth': { phases: REWRITE_ACCESS, fn: () => true },

  // ---- kong.service.request (kong/pdk/service/request.lua)
  'kong.service.request.enable_buffering': { phases: REWRITE_ACCESS, fn: (c) => void (c.bufferedProxying = true) },
  'kong.service.request.set_scheme': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => {
      const s = str(a[0], 'scheme');
      if (s !== 'http' && s !== 'https') throw new LuaError(`invalid scheme: ${s}`);
      c.serviceRequest.scheme = s;
    },
  },
  'kong.service.request.set_path': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => {
      const p = str(a[0], 'path');
      if (!p.startsWith('/')) throw new LuaError('path must start with /');
      // service/request.lua (3.9.3 line 145): `ngx_var.upstream_uri = escape(path)` (kong.tools.uri.escape).
      c.serviceRequest.path = kongEscapeBytes(Buffer.from(p, 'utf8').toString('latin1'));
    },
  },
  'kong.service.request.set_raw_query': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => void (c.serviceRequest.rawQuery = str(a[0], 'query')),
  },
  'kong.service.request.set_method': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => {
      const m = str(a[0], 'method');
      if (!/^(GET|HEAD|PUT|POST|DELETE|OPTIONS|MKCOL|COPY|MOVE|PROPFIND|PROPPATCH|LOCK|UNLOCK|PATCH|TRACE)$/.test(m))
        throw new LuaError(`invalid method: ${m}`);
      c.serviceRequest.method = m;
    },
  },
  'kong.service.request.set_query': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => {
      if (a[0] === null || typeof a[0] !== 'object') throw new LuaError('args must be a table');
      c.serviceRequest.rawQuery = ngxArgs(a[0] as Record<string, unknown>);
    },
  },
  'kong.service.request.clear_query_arg': {
    phases: REWRITE_ACCESS,
    // kong/pdk/service/request.lua 3.9.3 lines 280-291: resty.ada.search.remove re-serialises the whole query.
    fn: (c, a) => {
      const name = str(a[0], 'query argument name');
      const q = currentQuery(c);
      if (q !== '') c.serviceRequest.rawQuery = adaSearchRemove(q, name);
    },
  },
  'kong.service.request.set_header': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => void setHeaderChecked(c.serviceRequest.headers, a[0], a[1], false),
  },
  'kong.service.request.add_header': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => void setHeaderChecked(c.serviceRequest.headers, a[0], a[1], true),
  },
  'kong.service.request.clear_header': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => void c.serviceRequest.headers.delete(str(a[0], 'header name')),
  },
  'kong.service.request.set_headers': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => void setHeadersChecked(c.serviceRequest.headers, a[0]),
  },
  'kong.service.request.set_raw_body': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => {
      const b = a[0];
      if (typeof b === 'string') c.serviceRequest.body = Buffer.from(b);
      else if (b instanceof Uint8Array) c.serviceRequest.body = Buffer.from(b);
      else throw new LuaError('body must be a string');
    },
  },
  'kong.service.request.set_body': {
    phases: REWRITE_ACCESS,
    fn: (c, a) => {
      if (a[0] === null || typeof a[0] !== 'object') throw new LuaError('args must be a table');
      const mime = (
        typeof a[1] === 'string' ? a[1] : (c.requestHeaders.first('content-type') ?? 'application/json')
      ).toLowerCase();
      if (mime.includes('json')) c.serviceRequest.body = Buffer.from(luaCjson(a[0], ''), 'utf8');
      else if (mime.includes('x-www-form-urlencoded'))
        c.serviceRequest.body = Buffer.from(ngxArgs(a[0] as Record<string, unknown>));
      else throw new LuaError(`unsupported content type: ${mime}`);
      c.serviceRequest.headers.set('Content-Type', mime);
    },
  },

  // ---- kong.service.response (kong/pdk/service/response.lua)
  'kong.service.response.get_status': { phases: RESPONSE_LOG, needsRequest: true, fn: (c) => c.upstream?.status },
  // In the response phase this is a metatable proxy over ctx.buffered_headers that fix_mmap cannot iterate:
  // external plugins receive {} (../../docs/kong-protocol.md §1.5 [inferred]). Use get_header or
  // kong.response.get_headers.
  'kong.service.response.get_headers': { phases: RESPONSE_LOG, needsRequest: true, fix: 'mmap', fn: () => ({}) },
  'kong.service.response.get_header': {
    phases: RESPONSE_LOG,
    needsRequest: true,
    fn: (c, a) => c.upstream?.headers.first(str(a[0], 'header name')),
  },
  'kong.service.response.get_raw_body': { phases: ['response'], fix: 'raw', fn: (c) => c.upstream?.body },
  'kong.service.response.get_body': {
    phases: ['response'],
    fn: (c) => {
      if (!c.upstream) return undefined;
      try {
        return JSON.parse(c.upstream.body.toString('utf8'));
      } catch {
        return undefined;
      }
    },
  },

  // ---- kong.client (kong/pdk/client.lua)
  'kong.client.get_ip': { phases: ALL_REQUEST, needsRequest: true, fn: (c) => c.request.clientIp },
  'kong.client.get_forwarded_ip': {
    phases: ALL_REQUEST,
    needsRequest: true,
    fn: (c, _a, e) => {
      // realip module with trusted_ips: the rightmost untrusted X-Forwarded-For hop (real_ip_recursive on).
      if (!e.isTrustedIp(c.request.clientIp)) return c.request.clientIp;
      const hops = (c.requestHeaders.get('x-forwarded-for') ?? [])
        .join(',')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (let i = hops.length - 1; i >= 0; i--) if (!e.isTrustedIp(hops[i])) return hops[i];
      return hops[0] ?? c.request.clientIp;
    },
  },
  'kong.client.get_port': { phases: ALL_REQUEST, needsRequest: true, fn: (c) => c.request.clientPort },
  'kong.client.get_forwarded_port': { phases: ALL_REQUEST, needsRequest: true, fn: (c) => c.request.clientPort },
  'kong.client.get_credential': { phases: ACCESS_RESPONSE_LOG, fn: (c) => c.credential },
  'kong.client.get_consumer': { phases: ACCESS_RESPONSE_LOG, fn: (c) => c.consumer },
  'kong.client.load_consumer': {
    phases: ACCESS_RESPONSE_LOG,
    fn: (_c, a, e) => {
      // kong/pdk/client.lua (3.9.3) load_consumer, lines 187-193: a non-UUID without search_by_username is a Lua
      // error (the handler fails: 500 in access), not a nil. UUID check: kong/tools/uuid.lua is_valid_uuid ('ioj').
      const key = str(a[0], 'consumer_id');
      const byUsername = a[1] !== undefined && a[1] !== null && a[1] !== false;
      if (!UUID_RE.test(key) && !byUsername) throw new LuaError('cannot load a consumer with an id that is not a uuid');
      return e.findConsumer(key, byUsername);
    },
  },
  'kong.client.authenticate': {
    phases: ['access'],
    fn: (c, a) => {
      const consumer = a[0] ?? undefined;
      const credential = a[1] ?? undefined;
      if (consumer === undefined && credential === undefined)
        throw new LuaError('either credential or consumer must be provided');
      if (consumer !== undefined && typeof consumer !== 'object') throw new LuaError('consumer must be a table or nil');
      if (credential !== undefined && typeof credential !== 'object')
        throw new LuaError('credential must be a table or nil');
      c.consumer = consumer as Consumer | undefined;
      c.credential = credential as Record<string, unknown> | undefined;
    },
  },
  'kong.client.get_protocol': {
    phases: ACCESS_RESPONSE_LOG,
    needsRequest: true,
    fn: (c) => c.request.scheme,
  },
  'kong.client.tls.get_full_client_certificate_chain': {
    // kong/pdk/client/tls.lua 3.9.3 lines 21-25 + 129-132: REWRITE_AND_LATER (rewrite, access, response, balancer,
    // log), so the certificate phase is a Lua error; in the log timer resty.kong.tls refuses it (no request).
    // Plain HTTP returns nil ("connection is not TLS"), no certificate nil.
    phases: ['rewrite', 'access', 'response', 'log'],
    needsRequest: true,
    // nginx only asks for (and so only has) a client certificate when the certificate phase requested one.
    fn: (c) => (c.clientCertRequested ? c.request.clientCertChainPem : undefined),
  },
  'kong.client.tls.request_client_certificate': {
    phases: ['certificate'],
    fn: (c) => {
      c.clientCertRequested = true;
      return true;
    },
  },
  'kong.client.tls.disable_session_reuse': { phases: ['certificate'], fn: () => true },
  'kong.client.tls.set_client_verify': { phases: ['rewrite', 'access', 'response'], fn: () => undefined },

  // ---- kong.ctx.shared, kong.nginx (plugin.lua overrides; no phase checks)
  'kong.ctx.shared.get': {
    phases: 'any',
    fn: (c, a) => c.ctxShared.get(str(a[0], 'key')),
    logOverride: (c, a) => snap(c).ctxShared.get(str(a[0], 'key')),
  },
  'kong.ctx.shared.set': {
    phases: 'any',
    fn: (c, a) => void c.ctxShared.set(str(a[0], 'key'), a[1]),
    logOverride: (c, a) => void snap(c).ctxShared.set(str(a[0], 'key'), a[1]),
  },
  'kong.nginx.get_var': {
    phases: 'any',
    needsRequest: true,
    fn: (c, a) => {
      const name = str(a[0], 'variable name');
      if (name === 'remote_addr') return c.request.clientIp;
      if (name === 'scheme') return c.request.scheme;
      if (name === 'request_uri')
        return c.request.rawQuery ? `${c.request.rawPath}?${c.request.rawQuery}` : c.request.rawPath;
      // $request, the request line: the client's method (ngx.req.set_method does not change it) and target, and the
      // protocol; for HTTP/2 nginx builds it from the pseudo-headers with " HTTP/2.0" (ngx_http_v2_construct_request_line).
      if (name === 'request') {
        const target = c.request.rawQuery ? `${c.request.rawPath}?${c.request.rawQuery}` : c.request.rawPath;
        const v = c.request.httpVersion;
        return `${c.request.method} ${target} HTTP/${Number.isInteger(v) ? `${v}.0` : String(v)}`;
      }
      if (name === 'host') return requestHost(c);
      // nginx_kong.lua `set $upstream_uri ''` / `set $upstream_host ''`; handler.lua access.before (3.9.3 line 1324)
      // sets `upstream_uri = escape(match_t.upstream_uri)` (and upstream_host with preserve_host) before the access
      // plugins run; kong.service.request.set_path replaces it (service/request.lua line 145); access.after (line
      // 1392) appends `?` + $args once the plugins are done.
      if (name === 'upstream_uri') {
        if (c.routed === undefined) return '';
        const path = c.serviceRequest.path ?? c.routed.upstreamPath;
        if (c.phase === 'access') return path;
        const query = currentQuery(c);
        return query !== '' ? `${path}?${query}` : path;
      }
      if (name === 'upstream_host') return c.routed?.upstreamHost ?? '';
      if (name.startsWith('http_')) return c.requestHeaders.first(name.slice(5).replace(/_/g, '-'));
      return undefined;
    },
  },
  'kong.nginx.get_ctx': { phases: 'any', fn: (c, a) => c.ngxCtx.get(str(a[0], 'key')) },
  'kong.nginx.set_ctx': { phases: 'any', fn: (c, a) => void c.ngxCtx.set(str(a[0], 'key'), a[1]) },
  'kong.nginx.get_subsystem': { phases: 'any', fn: () => 'http' },
  // plugin_servers/plugin.lua 3.9.3 line 56: ngx.ssl.get_tls1_version_str, no phase check: "TLSv1.2"/"TLSv1.3" on
  // a TLS connection (the certificate phase included), nil on plain HTTP; in the log timer "no request found".
  'kong.nginx.get_tls1_version_str': {
    phases: 'any',
    needsRequest: true,
    fn: (c) => (c.request.scheme === 'https' ? (c.request.tlsVersion ?? 'TLSv1.3') : undefined),
  },
  'kong.nginx.req_start_time': {
    phases: 'any',
    fn: (c) => c.startTime / 1000,
    logOverride: (c) => snap(c).reqStartTime / 1000,
  },

  // ---- kong.log (kong/pdk/log.lua; serialize is overridden to return a JSON string)
  'kong.log.serialize': {
    phases: ['log'],
    fn: (c) => snap(c).serialized,
    logOverride: (c) => snap(c).serialized,
  },
  // kong/pdk/log.lua 3.9.3 line 637: check_phase(phases_with_ctx) = rewrite, access, header_filter, response,
  // body_filter, log (lines 73-79): the certificate phase is a Lua error (its @phases doc line says otherwise).
  'kong.log.set_serialize_value': {
    phases: ['rewrite', 'access', 'response', 'log'],
    fn: (c, a) => {
      try {
        c.serializeValues.push(serializeValue(a[0], a[1], a[2]));
      } catch (err) {
        throw new LuaError((err as Error).message);
      }
    },
  },

  // ---- kong.router, kong.node, kong.ip, kong.plugin
  'kong.router.get_route': { phases: ACCESS_RESPONSE_LOG, fn: (c) => c.route && routeEntity(c.route) },
  'kong.router.get_service': { phases: ACCESS_RESPONSE_LOG, fn: (c) => c.service },
  'kong.node.get_id': { phases: 'any', fn: (_c, _a, e) => e.nodeId },
  'kong.node.get_hostname': { phases: 'any', fn: () => os.hostname() },
  'kong.node.get_memory_stats': {
    phases: 'any',
    fn: () => ({
      lua_shared_dicts: {},
      workers_lua_vms: [{ http_allocated_gc: process.memoryUsage().heapUsed, pid: process.pid }],
    }),
  },
  'kong.ip.is_trusted': { phases: 'any', fn: (_c, a, e) => e.isTrustedIp(str(a[0], 'address')) },
  'kong.plugin.get_id': { phases: 'any', fn: (_c, _a, e) => e.pluginId },
};

for (const level of ['alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug', 'deprecation']) {
  // Lua's log functions tostring() and concatenate their arguments.
  M[`kong.log.${level}`] = {
    phases: 'any',
    fn: (_c, a, e) =>
      e.log(
        level,
        e.pluginName,
        a.map((x) => (x === undefined || x === null ? 'nil' : typeof x === 'object' ? '[table]' : String(x))).join(''),
      ),
  };
}

/** The Step method Kong uses to send a PDK result back (mp_rpc.lua get_step_method). */
export function stepMethodFor(method: string): string {
  switch (method) {
    case 'kong.client.get_credential':
    case 'kong.client.authenticate':
      return 'plugin.StepCredential';
    case 'kong.client.load_consumer':
    case 'kong.client.get_consumer':
      return 'plugin.StepConsumer';
    case 'kong.node.get_memory_stats':
      return 'plugin.StepMemoryStats';
    case 'kong.router.get_route':
      return 'plugin.StepRoute';
    case 'kong.router.get_service':
      return 'plugin.StepService';
    case 'kong.request.get_query':
    case 'kong.request.get_headers':
    case 'kong.response.get_headers':
    case 'kong.service.response.get_headers':
      return 'plugin.StepMultiMap';
    default:
      return 'plugin.Step';
  }
}

/** fix_mmap (mp_rpc.lua): each string → [string], true → [], arrays kept; an empty result is a map. */
export function fixMultimap(value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (value === null || typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(mmapSource(value as Record<string, unknown>))) {
    if (typeof v === 'string') out[k] = [v];
    else if (v === true) out[k] = [];
    else out[k] = v;
  }
  return out;
}

export const LOG_TIMER_ERROR = 'API disabled in the context of ngx.timer';

/** Whether Kong would let a phase call this method; returns the Lua error message, or undefined when allowed. */
export function phaseViolation(method: string, phase: Phase): string | undefined {
  const m = M[method];
  if (!m) return undefined;
  if (m.phases !== 'any' && !m.phases.includes(phase)) {
    return `function cannot be called in ${phase} phase (only in: ${m.phases.join(', ')})`;
  }
  if (phase === 'log' && !m.logOverride && m.needsRequest) return LOG_TIMER_ERROR;
  return undefined;
}

export function isKnownPdkMethod(method: string): boolean {
  return method in M || method === 'kong.response.exit' || method === 'kong.response.error';
}

/**
 * Runs one PDK call as Kong's call_pdk_method does: unknown methods return nil; Lua errors throw LuaError;
 * exit/error record the delayed response. The returned value is already passed through must_fix.
 */
export function callPdk(method: string, args: unknown[], ctx: RequestContext, env: PdkEnv): PdkOutcome {
  if (method === 'kong.response.exit' || method === 'kong.response.error') {
    if (!['rewrite', 'access', 'response'].includes(ctx.phase)) {
      throw new LuaError(`function cannot be called in ${ctx.phase} phase (only in: rewrite, access, response)`);
    }
    applyExit(ctx, args, method === 'kong.response.error' ? 'error' : 'exit');
    return { kind: 'exit' };
  }
  const m = M[method];
  if (!m) {
    env.log('err', env.pluginName, `could not find pdk method: ${method}`);
    return { kind: 'value', value: undefined };
  }
  const violation = phaseViolation(method, ctx.phase);
  if (violation) throw new LuaError(violation);
  const fn = ctx.phase === 'log' && m.logOverride ? m.logOverride : m.fn;
  let value = fn(ctx, args, env);
  if (m.fix === 'mmap') value = fixMultimap(value);
  else if (m.fix === 'raw') {
    // fix_raw(nil) packs `#nil`: a Lua error during the pack (../../docs/kong-protocol.md §1.5 [inferred]).
    if (value === undefined || value === null) throw new LuaError('attempt to get length of a nil value');
    value = value instanceof Uint8Array ? new Uint8Array(value) : new Uint8Array(Buffer.from(String(value)));
  }
  return { kind: 'value', value };
}
