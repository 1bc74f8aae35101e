// MessageFramer: whole MessagePack values out of arbitrarily split and joined bytes.
import { encode } from '@msgpack/msgpack';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  MessageFramer,
  MessageTooLargeError,
  scanValue,
} from '../../kong/pluginserver/framer';

// One value of every MessagePack type the encoder produces, at the width boundaries.
const VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  127,
  128,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 52,
  -1,
  -32,
  -33,
  -128,
  -129,
  -32768,
  -32769,
  -(2 ** 31),
  -(2 ** 31) - 1,
  1.5,
  -0.25,
  '',
  'x'.repeat(31),
  'x'.repeat(32),
  'é'.repeat(200),
  'y'.repeat(70000),
  new Uint8Array(0),
  new Uint8Array(255).fill(1),
  new Uint8Array(256).fill(2),
  new Uint8Array(70000).fill(3),
  [],
  Array.from({ length: 15 }, (_, i) => i),
  Array.from({ length: 16 }, (_, i) => i),
  Array.from({ length: 70000 }, () => 1),
  {},
  Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i])),
  Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, [i, { n: null }]])),
  [0, 7, 'plugin.Step', [{ Data: new Uint8Array(65503), EventId: 12 }]],
];

// A deterministic pseudo-random sequence, so that a failure can be replayed.
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('MessageFramer', () => {
  test('finds the exact end of every type of value', () => {
    for (const value of VALUES) {
      const bytes = encode(value);
      expect(scanValue(bytes, 0)).toEqual({ end: bytes.length });
      for (const cut of [1, bytes.length >> 1, bytes.length - 1]) {
        if (cut > 0 && cut < bytes.length) expect(scanValue(bytes.subarray(0, cut), 0)).toHaveProperty('need');
      }
    }
  });

  test('returns the same values whatever the chunking', () => {
    const stream = Buffer.concat(VALUES.map((v) => encode(v)));
    const next = random(42);
    for (let run = 0; run < 20; run++) {
      const framer = new MessageFramer();
      const out: unknown[] = [];
      let pos = 0;
      while (pos < stream.length) {
        // Mostly small chunks, sometimes big ones, sometimes single bytes.
        const size = next() < 0.2 ? 1 : Math.ceil(next() * (next() < 0.5 ? 64 : 100000));
        out.push(...framer.push(stream.subarray(pos, pos + size)));
        pos += size;
      }
      // Compared re-encoded: jest's deep equality is slow on the 70000-element values.
      expect(out).toHaveLength(VALUES.length);
      out.forEach((value, i) => expect(Buffer.from(encode(value)).equals(encode(VALUES[i]))).toBe(true));
      expect(framer.pendingBytes).toBe(0);
    }
  });

  test('hands bin values over as plain Uint8Array, as the stock server does (not Buffer)', () => {
    const [value] = new MessageFramer().push(Buffer.from(encode({ Data: Uint8Array.of(104, 105) })));
    expect(Object.getPrototypeOf((value as { Data: unknown }).Data)).toBe(Uint8Array.prototype);
  });

  test('holds an incomplete value until the rest arrives, then decodes it once', () => {
    const bytes = encode({ EventId: 1, Data: new Uint8Array(300000).fill(9) });
    const framer = new MessageFramer();
    for (let pos = 0; pos < bytes.length - 65536; pos += 65536) {
      expect(framer.push(bytes.subarray(pos, pos + 65536))).toEqual([]);
    }
    const rest = bytes.subarray(Math.floor((bytes.length - 65536 - 1) / 65536) * 65536 + 65536);
    const [value] = framer.push(rest);
    expect((value as { Data: Uint8Array }).Data.length).toBe(300000);
  });

  // What a codec change must keep (README, "Cheaper round trips"): a map key that could reach an object's prototype
  // and a key that is neither string nor number are refused (the listener then drops the connection), never
  // decoded into something else; int64 arrives as a number, as Kong's Lua numbers are.
  test('refuses a __proto__ map key without touching any prototype, and non-string, non-number map keys', () => {
    const protoKey = Uint8Array.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa1, 0x78, 0x01]);
    expect(() => new MessageFramer().push(protoKey)).toThrow(/__proto__/);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    for (const key of [0xc0, 0xc2, 0xc3]) {
      expect(() => new MessageFramer().push(Uint8Array.from([0x81, key, 0x01]))).toThrow(/type of key/);
    }
    expect(new MessageFramer().push(Uint8Array.from([0x81, 0x07, 0x01]))).toEqual([{ 7: 1 }]);
    const int64 = Uint8Array.from([0xd3, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00]);
    expect(new MessageFramer().push(int64)).toEqual([2 ** 40]);
  });

  test('rejects a byte that is never valid MessagePack', () => {
    expect(() => new MessageFramer().push(Uint8Array.from([0x93, 0x00, 0xc1]))).toThrow(/0xc1/);
  });

  test('framing time is linear in the bytes received (an array32 of nils in 64 KiB reads)', () => {
    // Rescanning a partial message from its start on every read made 4x the bytes cost ~16x the time.
    const nils = (bytes: number): Uint8Array => {
      const buf = new Uint8Array(5 + bytes);
      buf.set([0xdd, (bytes >>> 24) & 0xff, (bytes >>> 16) & 0xff, (bytes >>> 8) & 0xff, bytes & 0xff]);
      return buf.fill(0xc0, 5);
    };
    const frame = (bytes: Uint8Array): number => {
      const started = process.hrtime.bigint();
      const framer = new MessageFramer();
      let values: unknown[] = [];
      for (let pos = 0; pos < bytes.length; pos += 65536) values = framer.push(bytes.subarray(pos, pos + 65536));
      expect(values).toHaveLength(1);
      return Number(process.hrtime.bigint() - started);
    };
    const small = nils(1 << 20);
    const large = nils(4 << 20);
    const best = (bytes: Uint8Array): number => Math.min(frame(bytes), frame(bytes), frame(bytes));
    const ratio = best(large) / best(small);
    expect(ratio).toBeLessThan(8); // linear: ~4; quadratic: ~16
  });

  describe('message size cap', () => {
    test('a bin32 header declaring 4 GiB is refused from its first 5 bytes', () => {
      const framer = new MessageFramer();
      expect(() => framer.push(Uint8Array.of(0x94, 0x00, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff))).toThrow(
        MessageTooLargeError,
      );
    });

    test('an array32 declaring more items than the cap can hold is refused before its items arrive', () => {
      const framer = new MessageFramer(1000);
      expect(() => framer.push(Uint8Array.of(0xdd, 0x00, 0x00, 0x03, 0xe9))).toThrow(MessageTooLargeError);
    });

    test('a message of exactly the cap passes, one byte more is refused, whatever the split', () => {
      const exact = encode(new Uint8Array(1000 - 3)); // bin16: 3 header bytes
      expect(exact.length).toBe(1000);
      const over = encode(new Uint8Array(1000 - 2));
      for (const split of [1, 2, 3, 500, 999]) {
        const ok = new MessageFramer(1000);
        expect([...ok.push(exact.subarray(0, split)), ...ok.push(exact.subarray(split))]).toHaveLength(1);
        const tooBig = new MessageFramer(1000);
        expect(() => {
          tooBig.push(over.subarray(0, split));
          tooBig.push(over.subarray(split));
        }).toThrow(MessageTooLargeError);
      }
    });

    test('the default cap is above the largest body a plugin may read (64 MiB)', () => {
      expect(DEFAULT_MAX_MESSAGE_BYTES).toBeGreaterThan(64 * 1024 * 1024);
      const step = encode([0, 9, 'plugin.Step', [{ EventId: 1, Data: new Uint8Array(64 * 1024 * 1024) }]]);
      const framer = new MessageFramer();
      let values: unknown[] = [];
      for (let pos = 0; pos < step.length; pos += 1 << 20) values = framer.push(step.subarray(pos, pos + (1 << 20)));
      expect(values).toHaveLength(1);
    });
  });

  test('values decoded earlier keep their bytes while later reads arrive (bin values are views)', () => {
    const a = encode({ Data: new Uint8Array(100).fill(7) });
    const b = encode({ Data: new Uint8Array(100).fill(8) });
    const framer = new MessageFramer();
    const out = [...framer.push(a.subarray(0, 50)), ...framer.push(Buffer.concat([a.subarray(50), b.subarray(0, 20)]))];
    out.push(...framer.push(b.subarray(20)));
    expect(
      out.map((v) => [...(v as { Data: Uint8Array }).Data].every((x) => x === (out.indexOf(v) === 0 ? 7 : 8))),
    ).toEqual([true, true]);
  });
});
