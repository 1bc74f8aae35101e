// Reading request headers, query arguments and response headers WHOLE, in one RPC each.
//
// Why: Kong's `kong.request.get_headers()`, `get_query()` and `kong.response.get_headers()` return at most 100
// entries unless asked for more (at most 1000; kong/pdk/request.lua MAX_HEADERS_DEFAULT / MAX_HEADERS,
// kong/pdk/response.lua), and the second return value "truncated" is dropped by the plugin RPC
// (../../docs/kong-protocol.md §1.5). A plugin that decides on a truncated table misses whatever came after entry 100:
// a spoofed identity header it should strip, a forged token it should refuse. So every Bulwark read goes
// through here:
// - headers: `getHeaders(1000)`; nginx counts one entry per header LINE (repeated names included,
//   lua-nginx-module ngx_http_lua_ffi_req_get_headers_count), and so does `headerLineCount`. A result with
//   1000 lines may have been cut: the request is refused (431) before any decision is made on it.
// - query: `getRawQuery()` and nginx's own parsing here. Not `getQuery(1000)`: nginx counts every `&`-separated
//   piece toward the limit, empty ones and empty names included, but returns only named arguments
//   (ngx_http_lua_ffi_req_get_uri_args_count), so `?&&&…&access_token=x` is cut without the result ever
//   looking full. The raw string has no cap; more than 1000 pieces is refused (400), as Kong would have cut it.
// - response headers: `getHeaders(1000)`; a full result is reported as incomplete (a response cannot be
//   "refused"; the caller acts on every name it cares about instead).
import { decodeKongString, kongStringBytes } from './kong-strings';
import type { HeaderMultimap, Kong, QueryMultimap } from './pdk';
import { splitRawQuery } from './percent-encoding';
import type { RequestContext } from './plugin';

/** Kong's largest `max_headers` (kong/pdk/request.lua and response.lua `MAX_HEADERS`). */
export const MAX_HEADER_LINES = 1000;
/** Kong's largest `max_args` for get_query (kong/pdk/request.lua `MAX_QUERY_ARGS`). */
export const MAX_QUERY_ARGS = 1000;

/** Header lines in a multimap as Kong sends it (every value an array; one entry per line). */
export function headerLineCount(headers: HeaderMultimap): number {
  let n = 0;
  for (const v of Object.values(headers as Record<string, unknown>)) n += Array.isArray(v) ? v.length : 1;
  return n;
}

/** How many arguments nginx counts in a raw query: every `&`-separated piece, empty ones included. */
export function queryPieceCount(rawQuery: string): number {
  if (rawQuery === '') return 0;
  let n = 1;
  for (let i = 0; i < rawQuery.length; i++) if (rawQuery.charCodeAt(i) === 0x26) n++;
  return n;
}

const latin1Hex = /^[0-9A-Fa-f]{2}$/;

/**
 * nginx's unescape of a query key or value (ngx_http_lua_unescape_uri, NGX_UNESCAPE_URI_COMPONENT): `+` is a
 * space, `%XX` a byte, a malformed escape stays as it is; the bytes reach the plugin as a MessagePack string, which
 * bulwark-pluginserver decodes with `decodeKongString` (bytes that are not UTF-8 as U+DC00 + byte; a raw one in `s`
 * is already such an escape and stays that byte).
 */
export function unescapeQueryComponent(s: string): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) bytes.push(0x20);
    else if (c === 0x25 && latin1Hex.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of kongStringBytes(String.fromCodePoint(cp))) bytes.push(b);
    }
  }
  const unescaped = Uint8Array.from(bytes);
  return decodeKongString(unescaped, 0, unescaped.length);
}

/**
 * A raw query as `kong.request.get_query(1000)` would give it over RPC (after fix_mmap): names unescaped, every
 * value an array, a lone bare key `?x` as `[]`, a repeated bare key keeping `true` in the array; pieces with an
 * empty name dropped. The caller checks `queryPieceCount` first.
 */
export function parseRawQuery(rawQuery: string): QueryMultimap {
  const grouped = new Map<string, (string | true)[]>();
  if (rawQuery === '') return {};
  for (const { rawName, rawValue } of splitRawQuery(rawQuery)) {
    const name = unescapeQueryComponent(rawName);
    if (name === '') continue;
    const value: string | true = rawValue === undefined ? true : unescapeQueryComponent(rawValue);
    const list = grouped.get(name);
    if (list === undefined) grouped.set(name, [value]);
    else list.push(value);
  }
  const out: QueryMultimap = {};
  for (const [name, values] of grouped) out[name] = values.length === 1 && values[0] === true ? [] : values;
  return out;
}

/** Reason codes of the refusals here (security events of every plugin that reads through these helpers). */
export const BOUNDED_READ_REASONS = {
  too_many_headers: 'too_many_headers',
  too_many_query_arguments: 'too_many_query_arguments',
} as const;

/**
 * All request headers (one RPC), or undefined when the request had too many header lines to be read whole: it
 * was then refused with 431 and a log line, and the caller must return.
 */
export async function readRequestHeaders({ kong, log, reject }: RequestContext): Promise<HeaderMultimap | undefined> {
  const headers = await kong.request.getHeaders(MAX_HEADER_LINES);
  const lines = headerLineCount(headers);
  if (lines < MAX_HEADER_LINES) return headers;
  await log.warn('request_refused', { reason: 'too_many_headers', max_lines: MAX_HEADER_LINES - 1, status: 431 });
  await reject(431, undefined, undefined, { reason: BOUNDED_READ_REASONS.too_many_headers });
  return undefined;
}

/**
 * All query arguments (one RPC), or undefined when the query has more pieces than Kong would parse: the request
 * was then refused with 400 and a log line, and the caller must return.
 */
export async function readQuery(ctx: RequestContext): Promise<QueryMultimap | undefined> {
  const raw = (await ctx.kong.request.getRawQuery()) ?? '';
  return (await refusedForTooManyQueryArguments(ctx, raw)) ? undefined : parseRawQuery(raw);
}

/**
 * What a credential extractor reads (bulwark-jwt, bulwark-api-key): the headers, then the query only when a query
 * source is configured (one RPC each). Undefined when either read refused the request (431/400, logged): return.
 */
export async function readCredentialSources(
  ctx: RequestContext,
  withQuery: boolean,
): Promise<{ headers: HeaderMultimap; query: QueryMultimap | undefined } | undefined> {
  const headers = await readRequestHeaders(ctx);
  if (headers === undefined) return undefined;
  if (!withQuery) return { headers, query: undefined };
  const query = await readQuery(ctx);
  return query === undefined ? undefined : { headers, query };
}

/**
 * For a plugin that already holds the raw query (e.g. from getPathWithQuery): true when it has more pieces than Kong
 * would parse, after refusing the request with 400 and a log line (the caller must return); no RPC otherwise.
 */
export async function refusedForTooManyQueryArguments(
  { log, reject }: RequestContext,
  rawQuery: string,
): Promise<boolean> {
  if (queryPieceCount(rawQuery) <= MAX_QUERY_ARGS) return false;
  await log.warn('request_refused', { reason: 'too_many_query_arguments', max_arguments: MAX_QUERY_ARGS, status: 400 });
  await reject(400, 'Too many query arguments', undefined, { reason: BOUNDED_READ_REASONS.too_many_query_arguments });
  return true;
}

export interface ResponseHeaders {
  headers: HeaderMultimap;
  /** false when Kong may have cut the list: act on every header name of interest, present or not. */
  complete: boolean;
}

/** The response headers (one RPC, response/log phases only). */
export async function readResponseHeaders(kong: Kong): Promise<ResponseHeaders> {
  const headers = await kong.response.getHeaders(MAX_HEADER_LINES);
  return { headers, complete: headerLineCount(headers) < MAX_HEADER_LINES };
}
