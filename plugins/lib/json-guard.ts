// A hardened JSON front end: one pass over the raw bytes that enforces RFC 8259 syntax, strict UTF-8,
// I-JSON's ban on lone surrogates and duplicate member names (RFC 7493 §2.1, §2.3) and structural limits
// (nesting depth, array length, object entry count, key and string length), BEFORE anything is parsed into
// objects. Only a body that passed is handed to `JSON.parse`.
//
// Why a scanner of our own: `JSON.parse` happily accepts lone surrogates ("\ud800") and duplicate keys (the
// last one wins, while another parser upstream may keep the first: a classic validation bypass), replaces
// invalid UTF-8 through TextDecoder, and builds the whole object graph before any limit can be checked
// (10,000 nested arrays or 10 MB strings cost memory and, in the validator afterwards, recursion).
// The scanner is iterative (an explicit stack), so no input depth can overflow the JS stack.
//
// Errors say where (byte offset, line, column, and the JSON path of the enclosing containers) and which rule
// was broken, never what the offending bytes were: the message may be returned to the client.

export interface JsonLimits {
  /** Deepest allowed nesting of arrays/objects (1 = `[]` or `{}` with scalars inside). */
  maxDepth: number;
  /** Most elements in one array. */
  maxArrayLength: number;
  /** Most members in one object. */
  maxObjectEntries: number;
  /** Longest member name, in Unicode code points. */
  maxKeyLength: number;
  /** Longest string value, in Unicode code points. */
  maxStringLength: number;
}

export const DEFAULT_JSON_LIMITS: Readonly<JsonLimits> = Object.freeze({
  maxDepth: 64,
  maxArrayLength: 10000,
  maxObjectEntries: 1000,
  maxKeyLength: 256,
  maxStringLength: 65536,
});

/** `syntax`: not JSON (RFC 8259/UTF-8/I-JSON). `limit`: well-formed so far but over a configured limit. */
export type JsonGuardErrorKind = 'syntax' | 'limit';

export type JsonGuardRule =
  | 'json-syntax'
  | 'utf-8'
  | 'lone-surrogate'
  | 'duplicate-key'
  | 'max-depth'
  | 'max-array-length'
  | 'max-object-entries'
  | 'max-key-length'
  | 'max-string-length';

export interface JsonGuardError {
  kind: JsonGuardErrorKind;
  rule: JsonGuardRule;
  /** What is wrong, without quoting the input. */
  message: string;
  /** Byte offset (0-based) where the problem was detected. */
  offset: number;
  /** 1-based line (LF-separated) and column (in bytes) of `offset`. */
  line: number;
  column: number;
  /** The members/indices leading to the innermost open container, e.g. ['items', 3] ([] at top level). */
  path: (string | number)[];
}

export type JsonScanResult = { ok: true } | { ok: false; error: JsonGuardError };
export type JsonGuardResult = { ok: true; value: unknown } | { ok: false; error: JsonGuardError };

// Parser states.
const VALUE = 0; // a value must come (top level, after ':' or after ',' in an array)
const ARRAY_FIRST = 1; // just after '[': a value or ']'
const OBJECT_FIRST = 2; // just after '{': a key or '}'
const OBJECT_KEY = 3; // after ',' in an object: a key
const COLON = 4; // after a key
const AFTER_VALUE = 5; // inside a container after a value: ',' or the closer
const END = 6; // the top-level value is complete: only whitespace may follow

const ARRAY = 0;
const OBJECT = 1;

const CHAR_NAMES: Record<number, string> = {
  0x7b: "'{'",
  0x7d: "'}'",
  0x5b: "'['",
  0x5d: "']'",
  0x3a: "':'",
  0x2c: "','",
  0x22: 'a quote',
};

function describeByte(c: number): string {
  // Structural characters are named; anything else (possibly attacker-chosen) is only classified.
  const named = CHAR_NAMES[c];
  if (named !== undefined) return named;
  if (c < 0x20) return 'a control character';
  if (c >= 0x80) return 'a non-ASCII byte';
  return 'an unexpected character';
}

class GuardFailure {
  constructor(
    readonly kind: JsonGuardErrorKind,
    readonly rule: JsonGuardRule,
    readonly message: string,
    readonly offset: number,
  ) {}
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Line and column (1-based, column in bytes) of a byte offset. */
export function positionOf(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, bytes.length);
  for (let i = 0; i < end; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Receives a document's parts in document order while `walkJson` scans it. Strings and member names come as byte
 * strings (one char 0x00–0xff per UTF-8 byte, escapes decoded: `"\u00e9"` gives "\xc3\xa9"), what a byte-oriented
 * reader such as the CRS engine reads, without decoding the text and encoding it again. The walk may still fail
 * after some parts were delivered: a caller must drop what it got unless the result is ok.
 */
export interface JsonVisitor {
  openObject(): void;
  openArray(): void;
  /** Closes the innermost open container. */
  close(): void;
  /** A member name of the innermost object (its value comes next). */
  key(name: string): void;
  string(value: string): void;
  /** A number as written (RFC 8259 syntax, ASCII); `integer`: without fraction or exponent. */
  number(text: string, integer: boolean): void;
  /** true, false or null. */
  literal(value: boolean | null): void;
}

/** Node's native latin1 slice (what `buffer.toString('latin1', start, end)` calls): bytes as a byte string. */
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }
).latin1Slice;

/** Longest text turned into a string by String.fromCharCode in one call (its argument count is bounded). */
const CHUNK = 4096;

/**
 * The byte string of a JSON string's content `bytes[start, end)` (between the quotes, already validated): raw bytes
 * as they are, escapes decoded, `\uXXXX` (and a surrogate pair) as the code point's UTF-8 bytes.
 */
function unescapedByteString(bytes: Uint8Array, start: number, end: number): string {
  const units: number[] = [];
  let out = '';
  for (let j = start; j < end;) {
    const c = bytes[j]!;
    if (c !== 0x5c) {
      units.push(c);
      j++;
    } else {
      const e = bytes[j + 1]!;
      j += 2;
      if (e === 0x75) {
        let cp = readHex4(bytes, j);
        j += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (readHex4(bytes, j + 2) - 0xdc00);
          j += 6;
        }
        if (cp < 0x80) units.push(cp);
        else if (cp < 0x800) units.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
        else if (cp < 0x10000) units.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
        else units.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
      } else {
        units.push(ESCAPED[e]!);
      }
    }
    if (units.length >= CHUNK) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return units.length > 0 ? out + String.fromCharCode(...units) : out;
}

/** What each one-character escape stands for (`\n` → 0x0a); the scanner admits only these. */
const ESCAPED: Record<number, number> = {
  0x22: 0x22,
  0x5c: 0x5c,
  0x2f: 0x2f,
  0x62: 8,
  0x66: 12,
  0x6e: 10,
  0x72: 13,
  0x74: 9,
};

/** A key as `JSON.parse` gives it, from its byte string (valid UTF-8: the scanner checked). */
const keyText = (k: string): string => Buffer.from(k, 'latin1').toString('utf8');

/** Set by scanString: whether the string just scanned had a backslash escape (read before any visitor call). */
let lastStringEscaped = false;
/** Set by scanNumber: whether the number just scanned had neither fraction nor exponent. */
let lastNumberInteger = true;

/** The byte string of the string just scanned at [start, end) (quotes included); `text` is `bytes` as a byte string. */
function stringBytes(bytes: Uint8Array, text: string, start: number, end: number): string {
  return lastStringEscaped ? unescapedByteString(bytes, start + 1, end - 1) : text.slice(start + 1, end - 1);
}

function fail(kind: JsonGuardErrorKind, rule: JsonGuardRule, message: string, offset: number): never {
  throw new GuardFailure(kind, rule, message, offset);
}

/** Scans a string starting at the opening quote; returns the index after the closing quote (sets lastStringEscaped). */
function scanString(bytes: Uint8Array, start: number, maxLength: number, what: 'string' | 'key'): number {
  const n = bytes.length;
  let j = start + 1;
  let length = 0;
  let escaped = false;
  for (;;) {
    // Fast path: a run of printable ASCII other than '"' and '\\', within the length limit.
    const run = j;
    const stop = Math.min(n, j + maxLength - length);
    while (j < stop) {
      const a = bytes[j]!;
      if (a < 0x20 || a >= 0x80 || a === 0x22 || a === 0x5c) break;
      j++;
    }
    length += j - run;
    if (j >= n) fail('syntax', 'json-syntax', `unterminated ${what}`, j);
    const c = bytes[j]!;
    if (c === 0x22) {
      j++;
      break;
    }
    if (length >= maxLength) {
      fail(
        'limit',
        what === 'key' ? 'max-key-length' : 'max-string-length',
        `${what === 'key' ? 'member name' : 'string'} longer than ${maxLength} characters`,
        start,
      );
    }
    if (c === 0x5c) {
      escaped = true;
      const e = j + 1 < n ? bytes[j + 1]! : -1;
      if (e === 0x75) {
        const unit = readHex4(bytes, j + 2);
        j += 6;
        if (unit >= 0xd800 && unit <= 0xdbff) {
          // A high surrogate must be followed by an escaped low surrogate.
          if (j + 1 < n && bytes[j] === 0x5c && bytes[j + 1] === 0x75) {
            const low = readHex4(bytes, j + 2);
            if (low < 0xdc00 || low > 0xdfff)
              fail('syntax', 'lone-surrogate', 'unpaired UTF-16 surrogate escape', j - 6);
            j += 6;
          } else {
            fail('syntax', 'lone-surrogate', 'unpaired UTF-16 surrogate escape', j - 6);
          }
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
          fail('syntax', 'lone-surrogate', 'unpaired UTF-16 surrogate escape', j - 6);
        }
      } else if (ESCAPED[e] !== undefined) {
        j += 2;
      } else {
        fail('syntax', 'json-syntax', e === -1 ? `unterminated ${what}` : 'invalid escape sequence', j);
      }
      length++;
      continue;
    }
    if (c < 0x20) fail('syntax', 'json-syntax', `unescaped control character in ${what}`, j);
    if (c < 0x80) {
      j++;
      length++;
      continue;
    }
    j = utf8Sequence(bytes, j);
    length++;
  }
  lastStringEscaped = escaped;
  return j;
}

function readHex4(bytes: Uint8Array, at: number): number {
  const n = bytes.length;
  if (at + 4 > n) fail('syntax', 'json-syntax', 'truncated \\u escape', at - 2);
  let v = 0;
  for (let k = at; k < at + 4; k++) {
    const h = bytes[k]!;
    if (!isHex(h)) fail('syntax', 'json-syntax', 'invalid \\u escape', at - 2);
    v = (v << 4) | hexValue(h);
  }
  return v;
}

/** Validates one multi-byte UTF-8 sequence at `at` (RFC 3629 table 3-7); returns the index after it. */
function utf8Sequence(bytes: Uint8Array, at: number): number {
  const n = bytes.length;
  const c = bytes[at]!;
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) need = 1;
  else if (c === 0xe0) {
    need = 2;
    lo = 0xa0;
  } else if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) need = 2;
  else if (c === 0xed) {
    need = 2;
    hi = 0x9f;
  } // no encoded surrogates
  else if (c === 0xf0) {
    need = 3;
    lo = 0x90;
  } else if (c >= 0xf1 && c <= 0xf3) need = 3;
  else if (c === 0xf4) {
    need = 3;
    hi = 0x8f;
  } else return fail('syntax', 'utf-8', 'invalid UTF-8', at);
  if (at + need >= n) fail('syntax', 'utf-8', 'truncated UTF-8 sequence', at);
  const second = bytes[at + 1]!;
  if (second < lo || second > hi) fail('syntax', 'utf-8', 'invalid UTF-8', at);
  for (let k = 2; k <= need; k++) {
    const b = bytes[at + k]!;
    if (b < 0x80 || b > 0xbf) fail('syntax', 'utf-8', 'invalid UTF-8', at);
  }
  return at + need + 1;
}

/** Scans a number; returns the index after it (sets lastNumberInteger). */
function scanNumber(bytes: Uint8Array, start: number): number {
  const n = bytes.length;
  let j = start;
  lastNumberInteger = true;
  if (bytes[j] === 0x2d) j++;
  if (j >= n) fail('syntax', 'json-syntax', 'truncated number', j);
  if (bytes[j] === 0x30) j++;
  else if (bytes[j]! >= 0x31 && bytes[j]! <= 0x39) while (j < n && isDigit(bytes[j]!)) j++;
  else fail('syntax', 'json-syntax', 'invalid number', j);
  if (j < n && bytes[j] === 0x2e) {
    lastNumberInteger = false;
    j++;
    if (j >= n || !isDigit(bytes[j]!))
      fail('syntax', 'json-syntax', 'invalid number: digits must follow the decimal point', j);
    while (j < n && isDigit(bytes[j]!)) j++;
  }
  if (j < n && (bytes[j] === 0x65 || bytes[j] === 0x45)) {
    lastNumberInteger = false;
    j++;
    if (j < n && (bytes[j] === 0x2b || bytes[j] === 0x2d)) j++;
    if (j >= n || !isDigit(bytes[j]!))
      fail('syntax', 'json-syntax', 'invalid number: digits must follow the exponent', j);
    while (j < n && isDigit(bytes[j]!)) j++;
  }
  return j;
}

function literal(bytes: Uint8Array, start: number, word: string): number {
  const n = bytes.length;
  for (let k = 0; k < word.length; k++) {
    if (start + k >= n) fail('syntax', 'json-syntax', 'truncated literal', start);
    if (bytes[start + k] !== word.charCodeAt(k)) fail('syntax', 'json-syntax', 'invalid literal', start);
  }
  return start + word.length;
}

/** Records member name `key` of the object at `top`; false when the object already has it. */
function addKey(keySets: (string[] | Set<string> | undefined)[], top: number, key: string): boolean {
  const keys = keySets[top];
  if (keys === undefined) {
    keySets[top] = [key];
    return true;
  }
  if (Array.isArray(keys)) {
    if (keys.includes(key)) return false;
    if (keys.length < KEY_SET_FROM) keys.push(key);
    else keySets[top] = new Set(keys).add(key);
    return true;
  }
  if (keys.has(key)) return false;
  keys.add(key);
  return true;
}

/**
 * Check `bytes` is one well-formed JSON text within `limits`. O(n) time; memory bounded by the depth limit and
 * the keys of the open objects (for the duplicate check).
 */
export function scanJson(bytes: Uint8Array, limits: JsonLimits): JsonScanResult {
  return walkJson(bytes, limits, undefined);
}

/**
 * `scanJson`, delivering the document to `visitor` as it goes (one pass: no `JSON.parse`, no object graph). The
 * parts are exactly those of `JSON.parse`'s value, in document order; when the result is not ok, drop them.
 */
export function walkJson(bytes: Uint8Array, limits: JsonLimits, visitor: JsonVisitor | undefined): JsonScanResult {
  const kinds: number[] = [];
  const counts: number[] = [];
  // Member names (byte strings) of each open object: an array while short (a linear search beats hashing), a Set
  // past KEY_SET_FROM members.
  const keySets: (string[] | Set<string> | undefined)[] = [];
  const lastKeys: (string | undefined)[] = [];
  const n = bytes.length;
  // The whole text as a byte string, once: a key or value is then a slice of it (one native call per string would
  // cost several times more than the scan of a short one).
  const text: string = latin1Slice.call(bytes, 0, n);
  let i = 0;
  let state = VALUE;
  let afterComma = false;

  const valueDone = () => {
    state = kinds.length === 0 ? END : AFTER_VALUE;
  };

  const open = (kind: number, at: number) => {
    if (kinds.length >= limits.maxDepth)
      fail('limit', 'max-depth', `nesting deeper than ${limits.maxDepth} levels`, at);
    kinds.push(kind);
    counts.push(0);
    keySets.push(undefined);
    lastKeys.push(undefined);
    state = kind === ARRAY ? ARRAY_FIRST : OBJECT_FIRST;
    if (visitor !== undefined) {
      if (kind === ARRAY) visitor.openArray();
      else visitor.openObject();
    }
  };

  const close = () => {
    kinds.pop();
    counts.pop();
    keySets.pop();
    lastKeys.pop();
    valueDone();
    visitor?.close();
  };

  try {
    if (n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      fail('syntax', 'json-syntax', 'byte order mark not allowed (RFC 8259 §8.1)', 0);
    }
    for (;;) {
      // Whitespace (RFC 8259: space, tab, LF, CR only).
      while (i < n) {
        const w = bytes[i]!;
        if (w !== 0x20 && w !== 0x0a && w !== 0x0d && w !== 0x09) break;
        i++;
      }
      if (i >= n) {
        if (state === END) return { ok: true };
        fail('syntax', 'json-syntax', n === 0 ? 'empty body' : 'unexpected end of input', i);
      }
      const c = bytes[i]!;
      switch (state) {
        case ARRAY_FIRST:
        case VALUE: {
          if (state === ARRAY_FIRST && c === 0x5d) {
            i++;
            close();
            break;
          }
          if (c === 0x5d && afterComma) fail('syntax', 'json-syntax', 'trailing comma', i);
          afterComma = false;
          const top = kinds.length - 1;
          if (top >= 0 && kinds[top] === ARRAY) {
            const count = ++counts[top]!;
            if (count > limits.maxArrayLength)
              fail('limit', 'max-array-length', `array longer than ${limits.maxArrayLength} elements`, i);
          }
          if (c === 0x7b) {
            open(OBJECT, i);
            i++;
          } else if (c === 0x5b) {
            open(ARRAY, i);
            i++;
          } else if (c === 0x22) {
            const start = i;
            i = scanString(bytes, i, limits.maxStringLength, 'string');
            if (visitor !== undefined) visitor.string(stringBytes(bytes, text, start, i));
            valueDone();
          } else if (c === 0x2d || isDigit(c)) {
            const start = i;
            i = scanNumber(bytes, i);
            if (visitor !== undefined) visitor.number(text.slice(start, i), lastNumberInteger);
            valueDone();
          } else if (c === 0x74) {
            i = literal(bytes, i, 'true');
            visitor?.literal(true);
            valueDone();
          } else if (c === 0x66) {
            i = literal(bytes, i, 'false');
            visitor?.literal(false);
            valueDone();
          } else if (c === 0x6e) {
            i = literal(bytes, i, 'null');
            visitor?.literal(null);
            valueDone();
          } else {
            fail('syntax', 'json-syntax', `expected a value, found ${describeByte(c)}`, i);
          }
          break;
        }
        case OBJECT_FIRST:
        case OBJECT_KEY: {
          const top = kinds.length - 1;
          lastKeys[top] = undefined; // between members: the object itself is the location until a key is read
          if (c === 0x7d) {
            if (state === OBJECT_KEY) fail('syntax', 'json-syntax', 'trailing comma', i);
            i++;
            close();
            break;
          }
          if (c !== 0x22)
            fail('syntax', 'json-syntax', `expected a member name in quotes, found ${describeByte(c)}`, i);
          const count = ++counts[top]!;
          if (count > limits.maxObjectEntries)
            fail('limit', 'max-object-entries', `object with more than ${limits.maxObjectEntries} members`, i);
          const start = i;
          const end = scanString(bytes, i, limits.maxKeyLength, 'key');
          // Compared as bytes: two names are the same text exactly when they are the same UTF-8 bytes.
          const key = stringBytes(bytes, text, start, end);
          lastKeys[top] = key;
          if (!addKey(keySets, top, key)) fail('syntax', 'duplicate-key', 'duplicate member name', start);
          visitor?.key(key);
          i = end;
          state = COLON;
          break;
        }
        case COLON:
          if (c !== 0x3a)
            fail('syntax', 'json-syntax', `expected ':' after a member name, found ${describeByte(c)}`, i);
          i++;
          state = VALUE;
          break;
        case AFTER_VALUE: {
          const kind = kinds[kinds.length - 1];
          if (c === 0x2c) {
            i++;
            if (kind === ARRAY) {
              state = VALUE;
              afterComma = true;
            } else {
              state = OBJECT_KEY;
            }
          } else if (kind === ARRAY && c === 0x5d) {
            i++;
            close();
          } else if (kind === OBJECT && c === 0x7d) {
            i++;
            close();
          } else {
            fail(
              'syntax',
              'json-syntax',
              `expected ',' or ${kind === ARRAY ? "']'" : "'}'"}, found ${describeByte(c)}`,
              i,
            );
          }
          break;
        }
        case END:
          fail('syntax', 'json-syntax', 'unexpected data after the JSON value', i);
      }
    }
  } catch (err) {
    if (!(err instanceof GuardFailure)) throw err;
    // Between members (after a value, or at a trailing comma) the innermost container itself is the location.
    const betweenMembers = state === AFTER_VALUE || (state === VALUE && afterComma);
    const depth = betweenMembers ? kinds.length - 1 : kinds.length;
    const path: (string | number)[] = [];
    for (let k = 0; k < kinds.length; k++) {
      if (k === depth) break;
      if (kinds[k] === ARRAY) {
        if (counts[k]! === 0) break;
        path.push(counts[k]! - 1);
      } else {
        const key = lastKeys[k];
        if (key === undefined) break;
        path.push(keyText(key));
      }
    }
    const { line, column } = positionOf(bytes, err.offset);
    return {
      ok: false,
      error: { kind: err.kind, rule: err.rule, message: err.message, offset: err.offset, line, column, path },
    };
  }
}

/** Objects with more members than this keep their names in a Set for the duplicate check. */
const KEY_SET_FROM = 16;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Scan, then parse. The value is exactly what `JSON.parse` gives for the (already validated) text. */
export function parseGuardedJson(bytes: Uint8Array, limits: JsonLimits): JsonGuardResult {
  const scanned = scanJson(bytes, limits);
  if (!scanned.ok) return scanned;
  return { ok: true, value: JSON.parse(strictUtf8.decode(bytes)) };
}

/** One line for logs and error details: `message at line L, column C (byte offset O)`. */
export function describeJsonGuardError(e: JsonGuardError): string {
  return `${e.message} at line ${e.line}, column ${e.column} (byte offset ${e.offset})`;
}
