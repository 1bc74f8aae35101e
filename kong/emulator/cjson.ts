// What Kong's `cjson.safe` makes of a table a plugin server sent (kong.response.exit with a table body,
// kong/pdk/response.lua 3.9.3 lines 1015-1021 and send() line 730; kong.service.request.set_body for JSON).
// The value first crossed MessagePack into a Lua table (lua-MessagePack: nil values vanish, arrays are plain
// tables), then lua-cjson encoded it with Kong's settings (kong/globalpatches.lua 3.9.3 lines 19-21:
// encode_number_precision(CJSON_MAX_PRECISION = 16, kong/constants.lua line 103), encode_sparse_array(nil, nil, 2^15);
// encode_empty_table_as_object and encode_escape_forward_slash left at their defaults, true). So:
// - `/` is escaped as `\/`, control characters as `\uXXXX` (`\b \t \n \f \r` short), DEL as `\u007f`;
// - an empty array is `{}` (a Lua table without entries is an object), and so is an array of only nulls;
// - a null member of an object is dropped (nil in a Lua table), trailing nulls of an array too;
// - numbers are `%.16g` (2^60 → 1.152921504606847e+18); NaN and infinities are an encoding error;
// - key order follows Lua's hash order, which is unspecified: the emulator keeps insertion order.

/** cjson.safe's error string (Kong raises it as a Lua error with its own prefix). */
export class CjsonError extends Error {}

const ESCAPES: Record<number, string> = {
  8: '\\b',
  9: '\\t',
  10: '\\n',
  12: '\\f',
  13: '\\r',
  34: '\\"',
  47: '\\/',
  92: '\\\\',
};

function encodeString(bytes: Buffer): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c >= 0x20 && c !== 34 && c !== 47 && c !== 92 && c !== 0x7f) continue;
    out += bytes.toString('utf8', start, i);
    out += ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, '0')}`;
    start = i + 1;
  }
  return out + bytes.toString('utf8', start) + '"';
}

/** C's `printf("%.16g")` of a finite number. */
export function formatG16(n: number): string {
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const [mantissa, expText] = n.toExponential(15).split('e');
  const e = Number(expText);
  if (e < -4 || e >= 16) {
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  const fixed = n.toFixed(15 - e);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

function encodeValue(v: unknown, depth: number): string {
  if (depth > 1000) throw new CjsonError(`Cannot serialise, excessive nesting (${depth})`);
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new CjsonError('Cannot serialise number: must not be NaN or Infinity');
    return formatG16(v);
  }
  if (typeof v === 'bigint') return formatG16(Number(v));
  if (typeof v === 'string') return encodeString(Buffer.from(v, 'utf8'));
  if (v instanceof Uint8Array) return encodeString(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  if (Array.isArray(v)) {
    let end = v.length;
    while (end > 0 && (v[end - 1] === null || v[end - 1] === undefined)) end--;
    if (end === 0) return '{}';
    const parts: string[] = [];
    for (let i = 0; i < end; i++) parts.push(encodeValue(v[i], depth + 1));
    return `[${parts.join(',')}]`;
  }
  if (typeof v === 'object') {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === null || x === undefined) continue;
      parts.push(`${encodeString(Buffer.from(k, 'utf8'))}:${encodeValue(x, depth + 1)}`);
    }
    return `{${parts.join(',')}}`;
  }
  throw new CjsonError(`Cannot serialise ${typeof v}: type not supported`);
}

/** cjson.encode as Kong 3.9.3 configures it, of a value as it arrived through MessagePack. */
export function cjsonEncode(v: unknown): string {
  return encodeValue(v, 1);
}
