// REFERENCE COPY, not shipped: plugins/lib/json-guard.ts as it was on main 640331a (parseGuardedJson and its scanner),
// frozen for scripts/bench/request-model-reference/request-model.ts. Do not optimise or fix it here.
//
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
 * Check `bytes` is one well-formed JSON text within `limits`. O(n) time; memory bounded by the depth limit and
 * the keys of the open objects (for the duplicate check).
 */
export function scanJson(bytes: Uint8Array, limits: JsonLimits): JsonScanResult {
  const kinds: number[] = [];
  const counts: number[] = [];
  const keySets: (Set<string> | undefined)[] = [];
  const lastKeys: (string | undefined)[] = [];
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let i = 0;
  let state = VALUE;
  let afterComma = false;

  const fail = (kind: JsonGuardErrorKind, rule: JsonGuardRule, message: string, offset: number): never => {
    throw new GuardFailure(kind, rule, message, offset);
  };

  /** Scans a string starting at the opening quote; returns the index after the closing quote. */
  const scanString = (start: number, maxLength: number, what: 'string' | 'key'): [end: number, escaped: boolean] => {
    let j = start + 1;
    let length = 0;
    let escaped = false;
    for (;;) {
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
          const unit = readHex4(j + 2);
          j += 6;
          if (unit >= 0xd800 && unit <= 0xdbff) {
            // A high surrogate must be followed by an escaped low surrogate.
            if (j + 1 < n && bytes[j] === 0x5c && bytes[j + 1] === 0x75) {
              const low = readHex4(j + 2);
              if (low < 0xdc00 || low > 0xdfff)
                fail('syntax', 'lone-surrogate', 'unpaired UTF-16 surrogate escape', j - 6);
              j += 6;
            } else {
              fail('syntax', 'lone-surrogate', 'unpaired UTF-16 surrogate escape', j - 6);
            }
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            fail('syntax', 'lone-surrogate', 'unpaired UTF-16 surrogate escape', j - 6);
          }
        } else if (
          e === 0x22 ||
          e === 0x5c ||
          e === 0x2f ||
          e === 0x62 ||
          e === 0x66 ||
          e === 0x6e ||
          e === 0x72 ||
          e === 0x74
        ) {
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
      j = utf8Sequence(j);
      length++;
    }
    return [j, escaped];
  };

  const readHex4 = (at: number): number => {
    if (at + 4 > n) fail('syntax', 'json-syntax', 'truncated \\u escape', at - 2);
    let v = 0;
    for (let k = at; k < at + 4; k++) {
      const h = bytes[k]!;
      if (!isHex(h)) fail('syntax', 'json-syntax', 'invalid \\u escape', at - 2);
      v = (v << 4) | hexValue(h);
    }
    return v;
  };

  /** Validates one multi-byte UTF-8 sequence at `at` (RFC 3629 table 3-7); returns the index after it. */
  const utf8Sequence = (at: number): number => {
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
  };

  const scanNumber = (start: number): number => {
    let j = start;
    if (bytes[j] === 0x2d) j++;
    if (j >= n) fail('syntax', 'json-syntax', 'truncated number', j);
    if (bytes[j] === 0x30) j++;
    else if (bytes[j]! >= 0x31 && bytes[j]! <= 0x39) while (j < n && isDigit(bytes[j]!)) j++;
    else fail('syntax', 'json-syntax', 'invalid number', j);
    if (j < n && bytes[j] === 0x2e) {
      j++;
      if (j >= n || !isDigit(bytes[j]!))
        fail('syntax', 'json-syntax', 'invalid number: digits must follow the decimal point', j);
      while (j < n && isDigit(bytes[j]!)) j++;
    }
    if (j < n && (bytes[j] === 0x65 || bytes[j] === 0x45)) {
      j++;
      if (j < n && (bytes[j] === 0x2b || bytes[j] === 0x2d)) j++;
      if (j >= n || !isDigit(bytes[j]!))
        fail('syntax', 'json-syntax', 'invalid number: digits must follow the exponent', j);
      while (j < n && isDigit(bytes[j]!)) j++;
    }
    return j;
  };

  const literal = (start: number, word: string): number => {
    for (let k = 0; k < word.length; k++) {
      if (start + k >= n) fail('syntax', 'json-syntax', 'truncated literal', start);
      if (bytes[start + k] !== word.charCodeAt(k)) fail('syntax', 'json-syntax', 'invalid literal', start);
    }
    return start + word.length;
  };

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
  };

  const close = () => {
    kinds.pop();
    counts.pop();
    keySets.pop();
    lastKeys.pop();
    valueDone();
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
            i = scanString(i, limits.maxStringLength, 'string')[0];
            valueDone();
          } else if (c === 0x2d || isDigit(c)) {
            i = scanNumber(i);
            valueDone();
          } else if (c === 0x74) {
            i = literal(i, 'true');
            valueDone();
          } else if (c === 0x66) {
            i = literal(i, 'false');
            valueDone();
          } else if (c === 0x6e) {
            i = literal(i, 'null');
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
          const [end, escaped] = scanString(i, limits.maxKeyLength, 'key');
          const key = escaped
            ? (JSON.parse(buf.toString('utf8', start, end)) as string)
            : buf.toString('utf8', start + 1, end - 1);
          let keys = keySets[top];
          if (keys === undefined) keySets[top] = keys = new Set<string>();
          lastKeys[top] = key;
          if (keys.has(key)) fail('syntax', 'duplicate-key', 'duplicate member name', start);
          keys.add(key);
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
        path.push(key);
      }
    }
    const { line, column } = positionOf(bytes, err.offset);
    return {
      ok: false,
      error: { kind: err.kind, rule: err.rule, message: err.message, offset: err.offset, line, column, path },
    };
  }
}

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
