// Strict percent-decoding and query-string splitting over RAW strings (as `kong.request.get_path_with_query`
// gives them), for plugins that must see exactly what the client sent: which `&`, `=`, `,` were literal
// delimiters and which were encoded data (RFC 3986 §2.2, RFC 6570 expansion styles).
//
// Why not URLSearchParams/decodeURIComponent: the first silently keeps malformed `%zz` and replaces invalid
// UTF-8 with U+FFFD (so a validator would check a different string than the upstream receives); the second
// throws. Here a malformed escape or invalid UTF-8 is reported (`undefined`), and the caller rejects.

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x57;
  return -1;
}

/**
 * Decode `%XX` escapes (and `+` as space when `plusAsSpace`, the form-urlencoded convention).
 * undefined when an escape is malformed or the decoded bytes are not valid UTF-8.
 */
export function percentDecode(s: string, plusAsSpace = false): string | undefined {
  if (s.indexOf('%') === -1) return plusAsSpace && s.indexOf('+') !== -1 ? s.replace(/\+/g, ' ') : s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const h = i + 2 < s.length ? hexDigit(s.charCodeAt(i + 1)) : -1;
      const l = h >= 0 ? hexDigit(s.charCodeAt(i + 2)) : -1;
      if (l < 0) return undefined;
      bytes.push((h << 4) | l);
      i += 2;
    } else if (c === 0x2b && plusAsSpace) {
      bytes.push(0x20);
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // A raw non-ASCII character (clients should encode it; some do not): keep its UTF-8 bytes.
      const cp = s.codePointAt(i)!;
      if (cp >= 0xd800 && cp <= 0xdfff) return undefined; // lone surrogate
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
    }
  }
  try {
    return strictUtf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Decode only escapes of unreserved characters (`%41` → `A`), as URI normalisation does (RFC 3986 §6.2.2.2). */
export function decodeUnreserved(segment: string): string {
  if (segment.indexOf('%') === -1) return segment;
  return segment.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : m.toUpperCase();
  });
}

export interface RawQueryPair {
  /** The name as sent (still percent-encoded). */
  rawName: string;
  /** The value as sent; undefined for a bare `?flag` without '='. */
  rawValue: string | undefined;
}

/** Split a raw query (without '?') on '&' into name/value pairs, in order; empty pieces (`a=1&&b=2`) are skipped. */
export function splitRawQuery(raw: string): RawQueryPair[] {
  const pairs: RawQueryPair[] = [];
  forEachRawPair(raw, '&', (rawName, rawValue) => pairs.push({ rawName, rawValue }));
  return pairs;
}

/**
 * Calls `pair` for each piece of `text` split on `separator`, in order, empty pieces skipped: the name up to the
 * piece's first '=', the value after it (undefined without one), both as sent. No array of pieces or pair objects
 * (a request model reads every query and cookie header); linear: each '=' search starts past the previous one.
 */
export function forEachRawPair(
  text: string,
  separator: string,
  pair: (rawName: string, rawValue: string | undefined) => void,
): void {
  const n = text.length;
  let eq = -1; // the first '=' at or after `start` (n: none)
  for (let start = 0; start < n;) {
    let end = text.indexOf(separator, start);
    if (end === -1) end = n;
    if (end > start) {
      if (eq < start) {
        eq = text.indexOf('=', start);
        if (eq === -1) eq = n;
      }
      if (eq < end) pair(text.slice(start, eq), text.slice(eq + 1, end));
      else pair(text.slice(start, end), undefined);
    }
    start = end + 1;
  }
}
