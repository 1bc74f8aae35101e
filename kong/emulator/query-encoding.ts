// How Kong 3.9.3 rewrites the query string sent upstream. Two encoders are involved:
// - kong.service.request.clear_query_arg (kong/pdk/service/request.lua 3.9.3 lines 280-291) is
//   `ngx.var.args = require("resty.ada.search").remove(args, name)`: the query is parsed and re-serialised as a WHATWG
//   URLSearchParams (ada url_search_params: application/x-www-form-urlencoded), so the WHOLE remaining query
//   is re-encoded: `%20` → `+`, `/` → `%2F`, `,` → `%2C`, `~` → `%7E`, `flag` → `flag=`. (Kong after 3.9.3 turns `+`
//   back into `%20`, commit 479274e137; 3.9.3 does not.)
// - kong.service.request.set_query / set_body (urlencoded) use make_ordered_args (request.lua lines 44-62):
//   ngx.encode_args per key (lua-nginx-module uri_component escaping: all but ALPHA DIGIT `-._~`, space as `%20`),
//   the per-key pieces sorted as strings and joined with `&`.
// Both work on bytes: a JS string is taken as its UTF-8 bytes, and percent-decoded bytes are kept as bytes (ada does
// not validate UTF-8 in search params).

const HEX = '0123456789ABCDEF';

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** ada unicode::percent_decode after `+` → space: `%XX` with two hex digits decoded, any other `%` kept. */
function formDecode(piece: Buffer): Buffer {
  const out = Buffer.allocUnsafe(piece.length);
  let n = 0;
  for (let i = 0; i < piece.length; i++) {
    const c = piece[i];
    if (c === 0x2b) out[n++] = 0x20;
    else if (c === 0x25 && i + 2 < piece.length && isHex(piece[i + 1]) && isHex(piece[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(piece[i + 1], piece[i + 2]), 16);
      i += 2;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}

/** application/x-www-form-urlencoded serializer: all but ALPHA DIGIT `*-._` percent-encoded, space as `+`. */
function formEncode(bytes: Buffer): string {
  let s = '';
  for (const c of bytes) {
    const keep = isAlnum(c) || c === 0x2a || c === 0x2d || c === 0x2e || c === 0x5f;
    if (keep) s += String.fromCharCode(c);
    else if (c === 0x20) s += '+';
    else s += '%' + HEX[c >> 4] + HEX[c & 15];
  }
  return s;
}

/**
 * resty.ada.search.remove(query, name): parse (split on `&`, empty pieces dropped, first `=` splits name and value,
 * both form-decoded), drop every pair whose decoded name is `name`, serialise the rest.
 */
export function adaSearchRemove(query: string, name: string): string {
  const raw = Buffer.from(query, 'utf8');
  const want = Buffer.from(name, 'utf8');
  const out: string[] = [];
  let start = 0;
  while (start <= raw.length) {
    let end = raw.indexOf(0x26, start);
    if (end < 0) end = raw.length;
    if (end > start) {
      const piece = raw.subarray(start, end);
      const eq = piece.indexOf(0x3d);
      const key = formDecode(eq < 0 ? piece : piece.subarray(0, eq));
      const value = eq < 0 ? Buffer.alloc(0) : formDecode(piece.subarray(eq + 1));
      if (!key.equals(want)) out.push(`${formEncode(key)}=${formEncode(value)}`);
    }
    start = end + 1;
  }
  return out.join('&');
}

/** ngx.escape_uri / ngx.encode_args escaping (lua-nginx-module `uri_component`): all but ALPHA DIGIT `-._~`. */
export function ngxEscapeUriComponent(s: string): string {
  let out = '';
  for (const c of Buffer.from(s, 'utf8')) {
    const keep = isAlnum(c) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
    out += keep ? String.fromCharCode(c) : '%' + HEX[c >> 4] + HEX[c & 15];
  }
  return out;
}

/** LuaJIT's tostring of a number: C's `%.14g` (so 2^53 prints as `9.007199254741e+15`). */
export function luaNumberToString(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return formatG14(n);
}

/** C's `printf("%.14g")` of a finite number (also cjson's encode_number_precision 14). */
export function formatG14(n: number): string {
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const [mantissa, expText] = n.toExponential(13).split('e');
  const e = Number(expText);
  if (e < -4 || e >= 14) {
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  const fixed = n.toFixed(13 - e);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** ngx.encode_args({ [key] = value }) for one key (lua-nginx-module ngx_http_lua_process_args_option). */
function encodeOneArg(key: string, value: unknown): string {
  const k = ngxEscapeUriComponent(key);
  const one = (v: unknown): string | undefined => {
    if (v === true) return k;
    if (v === false || v === null || v === undefined) return undefined;
    if (typeof v === 'number') return `${k}=${ngxEscapeUriComponent(luaNumberToString(v))}`;
    if (typeof v === 'string') return `${k}=${ngxEscapeUriComponent(v)}`;
    if (v instanceof Uint8Array) return `${k}=${ngxEscapeUriComponent(Buffer.from(v).toString('latin1'))}`;
    throw new Error(`attempt to use ${typeof v} as query arg value`);
  };
  if (Array.isArray(value))
    return value
      .map(one)
      .filter((p): p is string => p !== undefined)
      .join('&');
  return one(value) ?? '';
}

/** make_ordered_args (kong/pdk/service/request.lua 3.9.3 lines 44-62): per-key encode_args, sorted, joined by `&`. */
export function makeOrderedArgs(args: Record<string, unknown>): string {
  const out = Object.keys(args).map((k) => encodeOneArg(k, args[k]));
  out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return out.join('&');
}
