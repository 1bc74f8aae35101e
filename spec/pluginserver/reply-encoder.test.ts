// The plugin server's reply encoder (kong/pluginserver/reply-encoder.ts) against @msgpack/msgpack's Encoder, which
// encoded every reply before: Kong must get the same bytes for every reply, whatever a plugin passes to a PDK call.
// The reference is the library's Encoder with the one deliberate difference (kong/pluginserver/kong-encoder.ts: an
// escaped byte U+DC80–U+DCFF is written as that byte; spec/pluginserver/kong-strings.test.ts pins it against the bytes).
import { newKongEncoder } from '../../kong/pluginserver/kong-encoder';
import { ReplyEncoder } from '../../kong/pluginserver/reply-encoder';

const reference = newKongEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** What the server sent before: the library's encoding of the whole reply array. */
function expected(msgid: number, error: string | null, result: unknown): string {
  return hex(reference.encode([1, msgid, error, result ?? null]));
}

function expectSameBytes(encoder: ReplyEncoder, msgid: number, error: string | null, result: unknown): void {
  const got = hex(encoder.encodeReply(msgid, error, result));
  if (got !== expected(msgid, error, result)) {
    // The failing value, readably (toEqual on hex strings alone would not say which value it was).
    expect({ result, got }).toEqual({ result, got: expected(msgid, error, result) });
  }
}

/** Integers at and around every width boundary of MessagePack's int/uint encodings, both signs. */
const BOUNDARIES = [0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 52, 2 ** 53 - 1];
const INTS = [
  ...BOUNDARIES.flatMap((b) => [b - 1, b, b + 1]),
  ...[0x20, 0x21, 0x80, 0x81, 0x8000, 0x8001, 0x80000000, 0x80000001, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1].flatMap(
    (b) => [-b + 1, -b, -b - 1],
  ),
].filter((n) => Number.isSafeInteger(n));
const FLOATS = [0.5, -0.5, 1.1, -1e-300, 1e300, 2 ** 53, -(2 ** 53), 2 ** 64, NaN, Infinity, -Infinity, -0, 5e-324];
const STRINGS = [
  '',
  'a',
  'ret',
  'kong.request.get_header',
  'x'.repeat(31),
  'x'.repeat(32),
  'x'.repeat(50),
  'x'.repeat(51),
  'x'.repeat(255),
  'x'.repeat(256),
  'x'.repeat(0xffff),
  'x'.repeat(0x10000),
  'é',
  'é'.repeat(15),
  'é'.repeat(16),
  'é'.repeat(50),
  'é'.repeat(51),
  '€'.repeat(10),
  '€'.repeat(11),
  '€'.repeat(86),
  '😀',
  '😀'.repeat(25),
  '😀'.repeat(26),
  'a\u0000b',
  '\u07ff\u0800\uffff',
  // lone surrogates: the library writes them as 3 bytes up to 50 units and as U+FFFD beyond
  '\ud800',
  '\udc00',
  'a\ud83d',
  '\ud83dx',
  '\ud83d'.repeat(50),
  '\ud83d'.repeat(51),
  'x'.repeat(60) + '\udfff',
  'x'.repeat(60) + '😀é€',
];
const BINARIES = [0, 1, 255, 256, 0xffff, 0x10000].map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff));

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(rand: () => number, depth: number): unknown {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const kind = Math.floor(rand() * (depth > 4 ? 8 : 11));
  switch (kind) {
    case 0:
      return pick(INTS);
    case 1:
      return Math.floor((rand() - 0.5) * 2 ** (rand() * 60));
    case 2:
      return pick([...FLOATS, (rand() - 0.5) * 1e6]);
    case 3:
      return pick(STRINGS.filter((s) => s.length < 300));
    case 4:
      return String.fromCharCode(
        ...Array.from({ length: Math.floor(rand() * 80) }, () => Math.floor(rand() * 0x10000)),
      );
    case 5:
      return pick([null, undefined, true, false]);
    case 6:
      return pick(BINARIES.slice(0, 4));
    case 7:
      return Buffer.from(pick(STRINGS.slice(0, 6)));
    case 8:
    case 9: {
      const length = pick([0, 1, 3, 15, 16, 17]);
      return Array.from({ length }, () => randomValue(rand, depth + 1));
    }
    default: {
      const map: Record<string, unknown> = {};
      const size = pick([0, 1, 2, 15, 16]);
      for (let i = 0; i < size; i++)
        map[pick([...STRINGS.slice(0, 6), String(i), `k${i}`, 'é😀'])] = randomValue(rand, depth + 1);
      return map;
    }
  }
}

describe('ReplyEncoder gives the bytes of @msgpack/msgpack for every reply', () => {
  const encoder = new ReplyEncoder(); // one instance throughout, as in the server: its buffer is reused

  test('integers at every width boundary, both signs, as msgid and as result', () => {
    for (const n of INTS) {
      expectSameBytes(encoder, n, null, n);
      expectSameBytes(encoder, 7, null, [n, -n]);
    }
  });

  test('floats, infinities, NaN, -0 and unsafe integers', () => {
    for (const f of FLOATS) {
      expectSameBytes(encoder, 1, null, f);
      expectSameBytes(encoder, f, null, null);
    }
  });

  test('short, long, non-ASCII strings and lone surrogates, as values, map keys and error texts', () => {
    for (const s of STRINGS) {
      expectSameBytes(encoder, 3, null, s);
      expectSameBytes(encoder, 3, null, { [s]: s });
      expectSameBytes(encoder, 3, s, null);
    }
  });

  test('nil, booleans, binary at every length boundary, Buffer, empty and wide arrays and maps', () => {
    for (const v of [null, undefined, true, false, ...BINARIES, Buffer.from('abc'), [], {}, [undefined, null]]) {
      expectSameBytes(encoder, 4, null, v);
    }
    for (const n of [15, 16, 0xffff, 0x10000]) {
      expectSameBytes(
        encoder,
        5,
        null,
        Array.from({ length: n }, (_, i) => i),
      );
      expectSameBytes(encoder, 5, null, Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
    }
    expectSameBytes(encoder, 6, null, Object.create(null));
    expectSameBytes(encoder, 6, null, Object.assign(Object.create(null), { a: 1, 2: 'two', 1: 'one' }));
    // eslint-disable-next-line no-sparse-arrays
    expectSameBytes(encoder, 6, null, [1, , 3]);
  });

  test('the reply shapes of the server: a Step carrying a PDK call, "ret", an event start, errors', () => {
    const args = ['authorization', 100, { message: 'Unauthorized' }, ['a', 'b'], true];
    expectSameBytes(encoder, 12, null, { EventId: 123456789, Data: { Method: 'kong.request.get_header', Args: args } });
    expectSameBytes(encoder, 13, null, { EventId: 1, Data: 'ret' });
    expectSameBytes(encoder, 14, null, {
      Name: 'bulwark-jwt',
      Id: 2 ** 31 - 1,
      Config: { a: [1.5] },
      StartTime: 1.7e9,
    });
    expectSameBytes(encoder, 15, 'event id 9 not found', null);
  });

  test('random nested values (2,000, seeded)', () => {
    const rand = prng(0x22);
    for (let i = 0; i < 2000; i++) expectSameBytes(encoder, i, null, randomValue(rand, 0));
  });

  test('values it leaves to the library give the library bytes (Date, Map, typed arrays, class instances)', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const others = [
      new Date(1_700_000_000_123),
      [new Date(0)],
      new Map([['a', 1]]),
      new Set([1]),
      new Int16Array([1, -1]),
      new Float64Array([0.5]),
      new DataView(new ArrayBuffer(3)),
      new Point(1, 2),
      { nested: [new Point(3, 4)] },
      Object.assign([1, 2], { extra: true }),
    ];
    for (const v of others) expectSameBytes(encoder, 8, null, v);
  });

  test('what the library cannot encode fails with the library error (functions, bigints, symbols, depth > 100)', () => {
    const deep = (n: number): unknown => (n === 0 ? 'leaf' : [deep(n - 1)]);
    const throwing = {
      get boom(): unknown {
        throw new Error('getter failed');
      },
    };
    // The envelope is depth 1 and the result depth 2: 98 arrays around a leaf is depth 100, 99 is 101.
    expectSameBytes(encoder, 9, null, deep(98));
    for (const bad of [() => 1, [1, () => 1], 10n, Symbol('s'), deep(99), { a: deep(120) }, throwing]) {
      let libraryError = '';
      try {
        reference.encode([1, 9, null, bad]);
      } catch (err) {
        libraryError = String(err);
      }
      expect(libraryError).not.toBe('');
      expect(() => encoder.encodeReply(9, null, bad)).toThrow(libraryError.replace(/^Error: /, ''));
      // and the encoder still works after an abandoned reply
      expectSameBytes(encoder, 10, null, { ok: true });
    }
  });

  test('each reply is its own Buffer: encoding the next one does not change it', () => {
    const first = encoder.encodeReply(1, null, { EventId: 1, Data: 'ret' });
    const copy = Buffer.from(first);
    encoder.encodeReply(2, null, { EventId: 2, Data: 'x'.repeat(5000) });
    expect(first.equals(copy)).toBe(true);
  });
});
