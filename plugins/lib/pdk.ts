// A typed view of the `kong` object that kong-pdk 0.6.0 hands to a phase handler.
//
// Why our own types: kong-pdk's d.ts (generated from Kong 3.8) does not type-check and has wrong signatures
// (../../docs/kong-protocol.md §3.1, item 5): tuples where Kong sends one value, no parameter on
// getQueryArg/getVar, no max_allowed_file_size on getRawBody. What arrives is decided by Kong's `rpc/mp_rpc.lua` (§1.5):
// - only the FIRST Lua return value is sent; nil arrives as `undefined`;
// - request/response header and query tables are multimaps whose values are ALWAYS arrays
//   (`fix_mmap`: a bare query key `?x` becomes `[]`, a repeated bare key keeps `true` inside the array);
// - raw bodies are msgpack bin, i.e. `Uint8Array`.
//
// Every method is an RPC returning a Promise (pdk.js). Three rules for plugin code:
// 1. Never `await` or `return` a namespace (`kong.request`, ...): kong-pdk's Proxy turns the `then` lookup
//    into an RPC named `kong.request.then`.
// 2. `kong.response.exit/error` resolve at once without waiting, and Kong never steps the event again
//    (§1.9): `return` right after them, and make no PDK call after them.
// 3. Make PDK calls one after another (they share one pipe per event); batch reads (one getHeaders()).
// 4. Never pass `undefined`/`null` as an argument followed by another one: Kong runs `method(unpack(args))`
//    and a nil in the middle of the args table may cut the list there (a Lua table border is unspecified).

/** Request/response headers as Kong sends them over RPC: lower-case names, every value an array. */
export type HeaderMultimap = Record<string, string[]>;

/** Query arguments as Kong sends them: `?a=1&a=2&b&c=` → `{a: ["1","2"], b: [], c: [""]}`. */
export type QueryMultimap = Record<string, (string | true)[]>;

/** Header values accepted by `setHeaders`/`exit`: a string or several values for one name. */
export type HeaderValues = Record<string, string | string[]>;

/** A JSON-encodable body for `kong.response.exit` (a Lua table is JSON-encoded by Kong). */
export type JsonBody = object;

/** A Kong consumer as returned by `kong.client.getConsumer/loadConsumer`. */
export interface KongConsumer {
  id: string;
  username?: string | null;
  custom_id?: string | null;
  tags?: string[] | null;
  created_at?: number;
  [key: string]: unknown;
}

/**
 * Whether Kong's `kong.client.load_consumer(value, false)` accepts `value` as an id. Any other value is a Lua error
 * in Kong (kong/pdk/client.lua: "cannot load a consumer with an id that is not a uuid"), which ends the request
 * with 500: never look up a non-UUID by id. Kong's check: kong/tools/uuid.lua is_valid_uuid (case-insensitive).
 */
export function isKongUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** A credential entity (`kong.client.getCredential`, `kong.client.authenticate`). */
export interface KongCredential {
  id: string;
  consumer?: { id: string } | null;
  [key: string]: unknown;
}

export interface KongRoute {
  id: string;
  name?: string | null;
  paths?: string[] | null;
  hosts?: string[] | null;
  protocols?: string[];
  /** A foreign key: Kong returns `{ id }`, not the service entity (kong.router.getService for that). */
  service?: { id: string } | null;
  [key: string]: unknown;
}

export interface KongService {
  id: string;
  name?: string | null;
  host?: string;
  port?: number;
  protocol?: string;
  path?: string | null;
  [key: string]: unknown;
}

/** Values that survive a round trip through `kong.ctx.shared` (msgpack → Lua → msgpack). */
export type SharedValue = string | number | boolean | null | SharedValue[] | { [key: string]: SharedValue };

export interface KongRequest {
  getScheme(): Promise<string>;
  getHost(): Promise<string>;
  getPort(): Promise<number>;
  getForwardedScheme(): Promise<string>;
  getForwardedHost(): Promise<string>;
  getForwardedPort(): Promise<number>;
  getForwardedPath(): Promise<string>;
  getForwardedPrefix(): Promise<string | undefined>;
  getHttpVersion(): Promise<number | undefined>;
  getMethod(): Promise<string>;
  getPath(): Promise<string>;
  getRawPath(): Promise<string>;
  /** `ngx.var.request_uri`: the raw path plus `?query` as the client sent it. */
  getPathWithQuery(): Promise<string>;
  getRawQuery(): Promise<string>;
  /** First value of a query argument; `true` for a bare key (`?flag`); undefined when absent. */
  getQueryArg(name: string): Promise<string | true | undefined>;
  getQuery(maxArgs?: number): Promise<QueryMultimap>;
  /** First value of a header, case-insensitive (`_` matches `-`); undefined when absent. */
  getHeader(name: string): Promise<string | undefined>;
  getHeaders(maxHeaders?: number): Promise<HeaderMultimap>;
  /**
   * The body bytes. The size argument is REQUIRED here although Kong makes it optional: without it a body
   * spooled to disk makes `get_raw_body` return nil and `fix_raw(nil)` raises a Lua error (§1.5).
   * 0 = read the temp file without limit. undefined when Kong has no body to give.
   */
  getRawBody(maxAllowedFileSize: number): Promise<Uint8Array | undefined>;
  getBody(mimetype?: string, maxArgs?: number, maxAllowedFileSize?: number): Promise<unknown>;
  getStartTime(): Promise<number>;
  getUriCaptures(): Promise<{ unnamed?: string[]; named?: Record<string, string> | [] } | undefined>;
}

export interface KongResponse {
  /** response and log phases only (§1.11). */
  getStatus(): Promise<number>;
  /** response and log phases only. */
  getHeader(name: string): Promise<string | undefined>;
  /** response and log phases only. */
  getHeaders(maxHeaders?: number): Promise<HeaderMultimap>;
  /** "exit" | "error" | "service"; response and log phases only. */
  getSource(): Promise<string>;
  setStatus(status: number): Promise<void>;
  setHeader(name: string, value: string | string[]): Promise<void>;
  addHeader(name: string, value: string | string[]): Promise<void>;
  clearHeader(name: string): Promise<void>;
  /** Replaces each named header; other headers stay. */
  setHeaders(headers: HeaderValues): Promise<void>;
  /**
   * Resolves immediately; Kong ends the request. The caller must `return` right after.
   * No `undefined` body before headers: Kong calls `exit(unpack(args))`, and with a nil in the middle
   * where unpack stops is unspecified, so the headers may be lost (../../docs/kong-protocol.md §1.5). For a response
   * without a body and with headers, pass `''` (Kong then sends Content-Length: 0). The overloads enforce it.
   */
  exit(status: number): Promise<void>;
  exit(status: number, body: string | JsonBody): Promise<void>;
  exit(status: number, body: string | JsonBody, headers: HeaderValues | undefined): Promise<void>;
  /** Like exit, with Kong's error template chosen by Accept (status >= 400). Same rule for the message. */
  error(status: number): Promise<void>;
  error(status: number, message: string): Promise<void>;
  error(status: number, message: string, headers: HeaderValues | undefined): Promise<void>;
}

export interface KongServiceRequest {
  enableBuffering(): Promise<void>;
  setScheme(scheme: 'http' | 'https'): Promise<void>;
  setPath(path: string): Promise<void>;
  setRawQuery(query: string): Promise<void>;
  setMethod(method: string): Promise<void>;
  setQuery(args: Record<string, string | boolean | (string | boolean)[]>): Promise<void>;
  clearQueryArg(name: string): Promise<void>;
  setHeader(name: string, value: string | string[]): Promise<void>;
  addHeader(name: string, value: string | string[]): Promise<void>;
  clearHeader(name: string): Promise<void>;
  setHeaders(headers: HeaderValues): Promise<void>;
  setRawBody(body: string | Uint8Array): Promise<void>;
  setBody(args: Record<string, unknown>, mimetype?: string): Promise<void>;
}

export interface KongServiceResponse {
  getStatus(): Promise<number | undefined>;
  /** NOTE: returns `{}` in the response phase (a non-iterable proxy table in Kong, §1.5); use getHeader. */
  getHeaders(maxHeaders?: number): Promise<HeaderMultimap>;
  getHeader(name: string): Promise<string | undefined>;
  getRawBody(): Promise<Uint8Array | undefined>;
  getBody(mimetype?: string, maxArgs?: number): Promise<unknown>;
}

export interface KongServiceNs {
  request: KongServiceRequest;
  response: KongServiceResponse;
  setUpstream(host: string): Promise<boolean | undefined>;
  setTarget(host: string, port: number): Promise<void>;
  setRetries(retries: number): Promise<void>;
  setTimeouts(connectTimeout: number, writeTimeout: number, readTimeout: number): Promise<void>;
  setTlsVerify(on: boolean): Promise<boolean | undefined>;
  setTlsVerifyDepth(depth: number): Promise<boolean | undefined>;
}

export interface KongClientTls {
  requestClientCertificate(caCerts?: unknown): Promise<boolean | undefined>;
  disableSessionReuse(): Promise<boolean | undefined>;
  /** PEM chain, undefined when the client sent none. */
  getFullClientCertificateChain(): Promise<string | undefined>;
  setClientVerify(result: string): Promise<void>;
}

export interface KongClient {
  tls: KongClientTls;
  /** The connection peer address (after nginx realip, if Kong has trusted_ips configured). */
  getIp(): Promise<string>;
  getForwardedIp(): Promise<string>;
  getPort(): Promise<number>;
  getForwardedPort(): Promise<number>;
  getCredential(): Promise<KongCredential | undefined>;
  loadConsumer(consumerId: string, searchByUsername?: boolean): Promise<KongConsumer | undefined>;
  getConsumer(): Promise<KongConsumer | undefined>;
  /** access phase only. At least one of the two must be non-null or Kong raises an error. */
  authenticate(consumer: KongConsumer | null, credential: KongCredential | null): Promise<void>;
  getProtocol(allowTerminated?: boolean): Promise<string | undefined>;
  getConsumerGroups(): Promise<unknown[] | undefined>;
  setAuthenticatedConsumerGroups(groups: unknown[]): Promise<void>;
}

export interface KongCtxShared {
  get(key: string): Promise<unknown>;
  set(key: string, value: SharedValue): Promise<void>;
}

export interface KongLog {
  // Kong `tostring`-concatenates the arguments: pass strings (JSON.stringify structured data).
  alert(...args: string[]): Promise<void>;
  crit(...args: string[]): Promise<void>;
  err(...args: string[]): Promise<void>;
  warn(...args: string[]): Promise<void>;
  notice(...args: string[]): Promise<void>;
  info(...args: string[]): Promise<void>;
  debug(...args: string[]): Promise<void>;
  /** Kong's override returns the serialized log entry as a JSON string. */
  serialize(): Promise<string | undefined>;
  setSerializeValue(key: string, value: unknown, options?: { mode?: 'set' | 'add' | 'replace' }): Promise<void>;
}

export interface KongRouter {
  getRoute(): Promise<KongRoute | undefined>;
  getService(): Promise<KongService | undefined>;
}

export interface KongNginx {
  getVar(name: string): Promise<string | undefined>;
  getCtx(key: string): Promise<unknown>;
  setCtx(key: string, value: SharedValue): Promise<void>;
  getSubsystem(): Promise<string>;
  reqStartTime(): Promise<number>;
  // `getTls1VersionStr` would be mangled by pdk.js's camel→snake conversion; this spelling maps correctly.
  getTls1_versionStr(): Promise<string | undefined>;
}

export interface KongNode {
  getId(): Promise<string>;
  getHostname(): Promise<string>;
}

export interface KongIp {
  isTrusted(address: string): Promise<boolean>;
}

export interface KongPlugin {
  getId(): Promise<string>;
}

export interface Kong {
  request: KongRequest;
  response: KongResponse;
  service: KongServiceNs;
  client: KongClient;
  ctx: { shared: KongCtxShared };
  log: KongLog;
  router: KongRouter;
  nginx: KongNginx;
  node: KongNode;
  ip: KongIp;
  plugin: KongPlugin;
}

/** The one cast between kong-pdk's untyped proxy and our types. */
export function asKong(raw: unknown): Kong {
  if (raw === null || (typeof raw !== 'object' && typeof raw !== 'function')) {
    throw new TypeError('expected the kong PDK object');
  }
  return raw as Kong;
}

/** Values of a header in a multimap, case-insensitive; [] when absent. Tolerates a bare string value. */
export function headerValues(headers: HeaderMultimap, name: string): string[] {
  const lower = name.toLowerCase();
  let value: unknown = Object.prototype.hasOwnProperty.call(headers, lower) ? headers[lower] : undefined;
  if (value === undefined) {
    // Kong's keys are lower-case already; this path serves hand-built maps (tests, other sources).
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === lower) {
        value = headers[key];
        break;
      }
    }
  }
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** The first value of a header (what `kong.request.getHeader` would return), or undefined. */
export function firstHeader(headers: HeaderMultimap, name: string): string | undefined {
  return headerValues(headers, name)[0];
}

/** All instances of a list-valued header joined with ", " (RFC 9110 §5.3), or undefined when absent. */
export function joinedHeader(headers: HeaderMultimap, name: string): string | undefined {
  const values = headerValues(headers, name);
  return values.length === 0 ? undefined : values.join(', ');
}

/** True when the header is present (any number of instances). */
export function hasHeader(headers: HeaderMultimap, name: string): boolean {
  return headerValues(headers, name).length > 0;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decode a raw body as UTF-8 (`String(u8)` would give "104,105"). */
export function bodyText(body: Uint8Array | undefined): string {
  return body === undefined ? '' : utf8.decode(body);
}
