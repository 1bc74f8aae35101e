import {
  DEFAULT_JSON_LIMITS,
  parseGuardedJson,
  positionOf,
  scanJson,
  walkJson,
  type JsonLimits,
  type JsonVisitor,
} from '../../plugins/lib/json-guard';

const L: JsonLimits = { ...DEFAULT_JSON_LIMITS };
const scan = (text: string | Buffer, limits: Partial<JsonLimits> = {}) =>
  scanJson(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, { ...L, ...limits });
const err = (text: string | Buffer, limits: Partial<JsonLimits> = {}) => {
  const r = scan(text, limits);
  if (r.ok) throw new Error('expected a failure');
  return r.error;
};

describe('scanJson accepts exactly RFC 8259 JSON', () => {
  test.each([
    '0',
    '-0',
    '1.5e+10',
    '-12.25E-3',
    'true',
    'false',
    'null',
    '"x"',
    '[]',
    '{}',
    ' \t\r\n[1, "a", {"b": [null]}]\n',
    '"\\u00e9\\ud83d\\ude00\\n\\"\\\\\\/"',
    '"é😀"',
    '{"a":{"b":{"c":[[[]]]}}}',
    '{"":1}',
  ])('valid: %s', (text) => {
    expect(scan(text)).toEqual({ ok: true });
    expect(() => JSON.parse(text)).not.toThrow();
  });

  test.each([
    ['', 'empty body'],
    ['   ', 'unexpected end of input'],
    ['{', 'unexpected end of input'],
    ['{"a"', 'unexpected end of input'],
    ['{"a":', 'unexpected end of input'],
    ['"abc', 'unterminated string'],
    ['[1,]', 'trailing comma'],
    ['{"a":1,}', 'trailing comma'],
    ['[,1]', 'expected a value'],
    ['{,}', 'expected a member name'],
    ['{a:1}', 'expected a member name'],
    ["{'a':1}", 'expected a member name'],
    ['{"a" 1}', "expected ':'"],
    ['[1 2]', "expected ',' or ']'"],
    ['01', 'unexpected data after the JSON value'],
    ['1.', 'digits must follow the decimal point'],
    ['1e', 'digits must follow the exponent'],
    ['-', 'truncated number'],
    ['+1', 'expected a value'],
    ['.5', 'expected a value'],
    ['NaN', 'expected a value'],
    ['Infinity', 'expected a value'],
    ['tru', 'truncated literal'],
    ['nul1', 'invalid literal'],
    ['[1] x', 'unexpected data after the JSON value'],
    ['"\\x"', 'invalid escape sequence'],
    ['"\\u12"', 'truncated \\u escape'],
    ['"\\u12zz"', 'invalid \\u escape'],
    ['"a\tb"', 'unescaped control character'],
    ['/* c */ 1', 'expected a value'],
    ['\ufeff1', 'byte order mark'],
  ])('invalid: %j (%s)', (text, message) => {
    const e = err(text);
    expect(e.kind).toBe('syntax');
    expect(e.message).toContain(message);
  });
});

describe('I-JSON rules', () => {
  test('lone surrogates are refused (high without low, low alone, high + non-low)', () => {
    for (const t of ['"\\ud800"', '"\\udfff"', '"\\ud800\\u0041"', '"\\ud800x"', '["\\udc00"]'])
      expect(err(t).rule).toBe('lone-surrogate');
    expect(scan('"\\uD83D\\uDE00"')).toEqual({ ok: true });
  });

  test('invalid UTF-8 is refused: overlongs, encoded surrogates, truncated sequences, stray continuation bytes', () => {
    const bad = [
      [0xc0, 0xaf],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
      [0x80],
      [0xff],
    ];
    for (const seq of bad) {
      const e = err(Buffer.concat([Buffer.from('"'), Buffer.from(seq), Buffer.from('"')]));
      expect(e.rule).toBe('utf-8');
      expect(e.offset).toBe(1);
    }
  });

  test('duplicate member names are refused, after escape decoding', () => {
    expect(err('{"a":1,"a":2}').rule).toBe('duplicate-key');
    const e = err('{"x":{"a":1,"\\u0061":2}}');
    expect(e.rule).toBe('duplicate-key');
    expect(e.path).toEqual(['x', 'a']);
    expect(scan('{"a":{"a":1},"b":{"a":2}}')).toEqual({ ok: true });
  });
});

describe('limits', () => {
  test('depth: exactly maxDepth levels pass, one more fails, at any input size without recursion', () => {
    expect(scan('[[[1]]]', { maxDepth: 3 })).toEqual({ ok: true });
    const e = err('[[[[1]]]]', { maxDepth: 3 });
    expect(e).toMatchObject({ kind: 'limit', rule: 'max-depth', offset: 3, path: [0, 0, 0] });
    expect(scan('['.repeat(100000) + ']'.repeat(100000), { maxDepth: 100000 })).toEqual({ ok: true });
  });

  test('array length, object entries, key and string length (in code points)', () => {
    expect(err('[1,2,3]', { maxArrayLength: 2 })).toMatchObject({ rule: 'max-array-length', path: [2] });
    expect(scan('[1,2]', { maxArrayLength: 2 })).toEqual({ ok: true });
    expect(err('{"a":1,"b":2,"c":3}', { maxObjectEntries: 2 }).rule).toBe('max-object-entries');
    expect(err('{"abcd":1}', { maxKeyLength: 3 }).rule).toBe('max-key-length');
    expect(scan('{"abc":1}', { maxKeyLength: 3 })).toEqual({ ok: true });
    expect(err('{"k":["abcd"]}', { maxStringLength: 3 })).toMatchObject({
      rule: 'max-string-length',
      path: ['k', 0],
      offset: 6,
    });
    // 3 code points: é (2 bytes), 😀 (4 bytes, one escape pair counts once), a
    expect(scan('"é😀a"', { maxStringLength: 3 })).toEqual({ ok: true });
    expect(scan('"\\u00e9\\ud83d\\ude00a"', { maxStringLength: 3 })).toEqual({ ok: true });
    expect(err('"é😀ab"', { maxStringLength: 3 }).rule).toBe('max-string-length');
  });

  test('a 10 MB string stops at the limit without scanning it all', () => {
    const big = Buffer.from(`"${'a'.repeat(10 * 1024 * 1024)}"`);
    expect(err(big, { maxStringLength: 1000 })).toMatchObject({ rule: 'max-string-length', offset: 0 });
  });
});

describe('positions', () => {
  test('line and column of the offending byte', () => {
    const e = err('{\n  "a": 1,\n  "b": [1,,2]\n}');
    expect(e).toMatchObject({ line: 3, column: 11, path: ['b', 1] });
    expect(positionOf(Buffer.from('ab\ncd'), 4)).toEqual({ line: 2, column: 2 });
  });

  test('messages never quote the input', () => {
    const e = err('{"a": <script>}');
    expect(e.message).toBe('expected a value, found an unexpected character');
  });
});

describe('parseGuardedJson', () => {
  test('returns what JSON.parse returns for accepted input', () => {
    const text = '{"a":[1,{"b":"é"}],"__proto__":{"x":1}}';
    const r = parseGuardedJson(Buffer.from(text), L);
    expect(r).toEqual({ ok: true, value: JSON.parse(text) });
  });
  test('returns the scan error otherwise', () => {
    expect(parseGuardedJson(Buffer.from('[1,]'), L)).toMatchObject({ ok: false, error: { rule: 'json-syntax' } });
  });
});

describe('walkJson', () => {
  /** Rebuilds the value from the visitor's parts (byte strings decoded as UTF-8), as JSON.parse would build it. */
  function rebuild(text: string | Buffer): { result: ReturnType<typeof walkJson>; value: unknown } {
    const stack: { container: unknown[] | Record<string, unknown>; key?: string }[] = [];
    let value: unknown;
    const utf8 = (s: string) => Buffer.from(s, 'latin1').toString('utf8');
    const put = (v: unknown) => {
      const top = stack[stack.length - 1];
      if (top === undefined) value = v;
      else if (Array.isArray(top.container)) top.container.push(v);
      else
        Object.defineProperty(top.container, top.key!, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    };
    const visitor: JsonVisitor = {
      openObject: () => {
        const o = {};
        put(o);
        stack.push({ container: o });
      },
      openArray: () => {
        const a: unknown[] = [];
        put(a);
        stack.push({ container: a });
      },
      close: () => void stack.pop(),
      key: (k) => (stack[stack.length - 1]!.key = utf8(k)),
      string: (s) => put(utf8(s)),
      number: (t, integer) => {
        expect(integer).toBe(!/[.eE]/.test(t));
        put(Number(t));
      },
      literal: (v) => put(v),
    };
    const result = walkJson(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, L, visitor);
    return { result, value };
  }

  test('delivers exactly the parts of the value JSON.parse gives, strings and names as their UTF-8 bytes', () => {
    for (const text of [
      '{"a":[1,-0,2.5e3,{"b":"é\\u00e9\\ud83d\\ude00\\n\\"\\\\\\/"}],"__proto__":{"x":null},"t":true,"f":false}',
      '"top"',
      '[[],{},[{}],""]',
      '{"\\u0061b":"😀","東京":"x"}',
    ]) {
      const { result, value } = rebuild(text);
      expect(result).toEqual({ ok: true });
      expect(value).toEqual(JSON.parse(text));
    }
    const bytes: string[] = [];
    walkJson(Buffer.from('{"é":"\\u00e9\\ud83d\\ude00"}'), L, {
      openObject() {},
      openArray() {},
      close() {},
      key: (k) => bytes.push(k),
      string: (s) => bytes.push(s),
      number() {},
      literal() {},
    });
    expect(bytes).toEqual(['\xc3\xa9', '\xc3\xa9\xf0\x9f\x98\x80']);
  });

  test('fails as scanJson fails, with the names on the path decoded', () => {
    for (const text of ['{"é":{"ü":[1,]}}', '{"a":1,"\\u0061":2}', '{"東":"\\ud800"}']) {
      const { result } = rebuild(text);
      expect(result).toEqual(scanJson(Buffer.from(text), L));
    }
    expect(scan('{"é":{"ü":[1,x]}}')).toMatchObject({ ok: false, error: { path: ['é', 'ü', 1] } });
  });
});
