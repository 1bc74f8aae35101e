// JSON parsing that refuses what JSON.parse silently accepts but a security decision must not:
// duplicate member names (JSON.parse keeps the last one, other parsers the first: RFC 8259 §4 leaves it
// undefined, RFC 7515 §5.2 and RFC 7519 §4 say a JWS/JWT with duplicate names must be rejected or
// resolved by the last one; we reject) and nesting deeper than a limit (stack exhaustion).
// A small single-pass scanner checks structure and member names; JSON.parse then builds the value.

export class StrictJsonError extends Error {
  constructor(
    readonly reason: 'syntax' | 'duplicate_member' | 'too_deep',
    message: string,
  ) {
    super(message);
    this.name = 'StrictJsonError';
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Parse JSON text, refusing duplicate member names at any depth and nesting deeper than maxDepth. */
export function parseStrictJson(text: string, maxDepth = 32): unknown {
  let i = 0;
  const n = text.length;

  const fail = (reason: StrictJsonError['reason'], message: string): never => {
    throw new StrictJsonError(reason, message);
  };
  const skipWs = () => {
    while (i < n && WS.has(text.charCodeAt(i))) i++;
  };
  const scanString = (): string => {
    const start = i;
    i++; // opening quote
    let escaped = false;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c === 0x22) {
        i++;
        const raw = text.slice(start, i);
        // Decode escapes only when present (JSON.parse validates them).
        if (!escaped) return raw.slice(1, -1);
        try {
          return JSON.parse(raw) as string;
        } catch {
          return fail('syntax', `invalid string at ${start}`);
        }
      }
      if (c < 0x20) fail('syntax', `control character in string at ${i}`);
      i++;
    }
    return fail('syntax', 'unterminated string');
  };
  const scanValue = (depth: number): void => {
    skipWs();
    if (i >= n) fail('syntax', 'unexpected end');
    const c = text[i];
    if (c === '{') {
      if (depth >= maxDepth) fail('too_deep', `nesting deeper than ${maxDepth}`);
      i++;
      const names = new Set<string>();
      skipWs();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skipWs();
        if (text[i] !== '"') fail('syntax', `expected a member name at ${i}`);
        const name = scanString();
        if (names.has(name)) fail('duplicate_member', `duplicate member ${JSON.stringify(name.slice(0, 64))}`);
        names.add(name);
        skipWs();
        if (text[i] !== ':') fail('syntax', `expected ':' at ${i}`);
        i++;
        scanValue(depth + 1);
        skipWs();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail('syntax', `expected ',' or '}' at ${i}`);
      }
    }
    if (c === '[') {
      if (depth >= maxDepth) fail('too_deep', `nesting deeper than ${maxDepth}`);
      i++;
      skipWs();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        scanValue(depth + 1);
        skipWs();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail('syntax', `expected ',' or ']' at ${i}`);
      }
    }
    if (c === '"') {
      scanString();
      return;
    }
    // Literals and numbers: take the run of characters; JSON.parse below judges them.
    const start = i;
    while (i < n && /[-+0-9.eEa-z]/.test(text[i]!)) i++;
    if (i === start) fail('syntax', `unexpected character at ${i}`);
  };

  scanValue(0);
  skipWs();
  if (i !== n) fail('syntax', `unexpected data after the value at ${i}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    return fail('syntax', err instanceof Error ? err.message : 'invalid JSON');
  }
}
