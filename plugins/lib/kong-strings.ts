// Kong's strings are byte strings. Over the plugin protocol Kong sends every Lua string (a header value, the path,
// a query value, a header name) as a MessagePack `str` holding the bytes the client sent, which need not be UTF-8
// (kong/runloop/plugin_servers/mp_rpc.lua packs them with lua-MessagePack as they are; only raw bodies go as `bin`).
// The plugin server decodes each `str` with `decodeKongString`: valid UTF-8 as UTF-8, and each byte of an invalid
// sequence as the lone surrogate U+DC00 + byte (U+DC80–U+DCFF, PEP 383's "surrogateescape"), which valid UTF-8 never
// yields. So no ASCII byte is ever swallowed by a bad lead byte (0xe0 + `<script>` stays `\uDCE0<script>`), overlong
// forms are not folded (0xc0 0xaf is not `/`), and `kongStringBytes` gives back exactly the bytes Kong sent.

/** The first code unit of the escapes: U+DC00 + byte, for bytes 0x80–0xff. */
const ESCAPE_BASE = 0xdc00;

/** Code units turned into a string in slices this long (String.fromCharCode's argument count is bounded). */
const CHUNK = 4096;

/**
 * The string for the bytes `bytes[start, end)` of a MessagePack `str`: UTF-8, with each byte that is not part of
 * a well-formed sequence (stray continuation byte, truncated or overlong sequence, encoded surrogate, > U+10FFFF,
 * 0xc0/0xc1/0xf5–0xff) as U+DC00 + byte. Valid UTF-8 decodes as TextDecoder decodes it (a BOM is kept).
 */
export function decodeKongString(bytes: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && bytes[i]! < 0x80) i++;
  if (i === end) return asciiString(bytes, start, end);
  return decodeFrom(bytes, start, end, i);
}

function asciiString(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 24) {
    // Short: one flat string from the code units (concatenation would build a rope); long: native latin1.
    const units = new Array<number>(n);
    for (let i = 0; i < n; i++) units[i] = bytes[start + i]!;
    return String.fromCharCode.apply(null, units);
  }
  return latin1Slice.call(bytes, start, end);
}

/** Node's native latin1 slice (what `buffer.toString('latin1', start, end)` calls): it takes any Uint8Array. */
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }
).latin1Slice;

/** Strict UTF-8 (throws on a bad sequence), a BOM kept as U+FEFF. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Non-ASCII tails this long or longer try TextDecoder first (2–3x faster than the loop below on a few hundred bytes
 * of valid UTF-8, no faster on short ones); the loop handles what it refuses.
 */
const NATIVE_FROM_BYTES = 64;

/** The general decoder; `bytes[start, firstNonAscii)` are ASCII. */
function decodeFrom(bytes: Uint8Array, start: number, end: number, firstNonAscii: number): string {
  let out = firstNonAscii > start ? asciiString(bytes, start, firstNonAscii) : '';
  if (end - firstNonAscii >= NATIVE_FROM_BYTES) {
    try {
      return out + strictUtf8.decode(bytes.subarray(firstNonAscii, end));
    } catch {
      // Not UTF-8: the loop escapes the bad bytes.
    }
  }
  const units: number[] = [];
  let i = firstNonAscii;
  while (i < end) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      units.push(b0);
      i++;
    } else {
      const n = sequenceLength(bytes, i, end, b0);
      if (n === 0) {
        units.push(ESCAPE_BASE + b0);
        i++;
      } else if (n === 2) {
        units.push(((b0 & 0x1f) << 6) | (bytes[i + 1]! & 0x3f));
        i += 2;
      } else if (n === 3) {
        units.push(((b0 & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f));
        i += 3;
      } else {
        const cp =
          (((b0 & 0x07) << 18) |
            ((bytes[i + 1]! & 0x3f) << 12) |
            ((bytes[i + 2]! & 0x3f) << 6) |
            (bytes[i + 3]! & 0x3f)) -
          0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        i += 4;
      }
    }
    if (units.length >= CHUNK) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return units.length > 0 ? out + String.fromCharCode(...units) : out;
}

const isContinuation = (b: number | undefined): boolean => b !== undefined && (b & 0xc0) === 0x80;

/**
 * Length of the well-formed UTF-8 sequence with lead byte `b0` at `i` (Unicode Table 3-7), or 0 when there is none:
 * the lead byte is then escaped alone and decoding goes on at the next byte, so an ASCII byte is never consumed.
 */
function sequenceLength(bytes: Uint8Array, i: number, end: number, b0: number): 0 | 2 | 3 | 4 {
  const b1 = i + 1 < end ? bytes[i + 1] : undefined;
  if (b0 >= 0xc2 && b0 <= 0xdf) return isContinuation(b1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (b1 === undefined) return 0;
    // E0: no overlong (A0–BF); ED: no surrogates (80–9F).
    const ok = b0 === 0xe0 ? b1 >= 0xa0 && b1 <= 0xbf : b0 === 0xed ? b1 >= 0x80 && b1 <= 0x9f : isContinuation(b1);
    return ok && i + 2 < end && isContinuation(bytes[i + 2]) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (b1 === undefined) return 0;
    // F0: no overlong (90–BF); F4: not above U+10FFFF (80–8F).
    const ok = b0 === 0xf0 ? b1 >= 0x90 && b1 <= 0xbf : b0 === 0xf4 ? b1 >= 0x80 && b1 <= 0x8f : isContinuation(b1);
    return ok && i + 3 < end && isContinuation(bytes[i + 2]) && isContinuation(bytes[i + 3]) ? 4 : 0;
  }
  return 0;
}

/**
 * True when `s` holds an escaped byte (U+DC80–U+DCFF not after a high surrogate, where it would be the second half of
 * a character above U+FFFF), i.e. came from bytes that are not UTF-8.
 */
export function hasEscapedBytes(s: string): boolean {
  return ESCAPED_BYTE.test(s);
}

const ESCAPED_BYTE = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;

/**
 * The bytes a string from Kong stands for: UTF-8, with U+DC80–U+DCFF as the byte they escape (the inverse of
 * `decodeKongString`: `kongStringBytes(decodeKongString(b)) == b` for any bytes). Other lone surrogates, which no
 * decoded string holds, are encoded as U+FFFD (as TextEncoder does).
 */
export function kongStringBytes(s: string): Uint8Array {
  if (!hasEscapedBytes(s)) return Buffer.from(s, 'utf8');
  return Buffer.from(kongStringByteString(s), 'latin1');
}

/** Any non-ASCII code unit (a native scan: about twice as fast as a charCodeAt loop on header-sized strings). */
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * The bytes a string from Kong stands for, as a byte string (one char 0x00–0xff per byte): what the CRS engine and
 * libinjection read. ASCII strings are returned as they are.
 */
export function kongStringByteString(s: string): string {
  if (!NON_ASCII.test(s)) return s;
  let i = 0;
  while (s.charCodeAt(i) < 0x80) i++;
  if (!hasEscapedBytes(s)) return Buffer.from(s, 'utf8').toString('latin1');
  let out = s.slice(0, i);
  let run = i; // start of the pending run of non-escape code units
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff) {
      // A low surrogate right after a high one is half of a pair, not an escape (a decoded string never has
      // U+D800–U+DBFF before an escape, but a plugin may build one).
      if (i > run && isHighSurrogate(s.charCodeAt(i - 1))) continue;
      if (i > run) out += Buffer.from(s.slice(run, i), 'utf8').toString('latin1');
      out += String.fromCharCode(c - ESCAPE_BASE);
      run = i + 1;
    }
  }
  if (run < s.length) out += Buffer.from(s.slice(run), 'utf8').toString('latin1');
  return out;
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

/** A byte string (one char 0x00–0xff per byte, as Node's HTTP parser gives header values) as a Kong string. */
export function kongStringFromByteString(bytes: string): string {
  let i = 0;
  while (i < bytes.length && bytes.charCodeAt(i) < 0x80) i++;
  if (i === bytes.length) return bytes;
  const raw = Buffer.from(bytes, 'latin1');
  return decodeKongString(raw, 0, raw.length);
}
