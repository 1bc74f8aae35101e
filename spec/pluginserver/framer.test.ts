// MessageFramer: whole MessagePack values out of arbitrarily split and joined bytes.
import { encode } from '@msgpack/msgpack';
import { MessageFramer, scanValue } from '../../kong/pluginserver/framer';

// One value of every MessagePack type the encoder produces, at the width boundaries.
const VALUES: unknown[] = [
  null, true, false, 0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 52,
  -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 1.5, -0.25,
  '', 'x'.repeat(31), 'x'.repeat(32), 'é'.repeat(200), 'y'.repeat(70000),
  new Uint8Array(0), new Uint8Array(255).fill(1), new Uint8Array(256).fill(2), new Uint8Array(70000).fill(3),
  [], Array.from({ length: 15 }, (_, i) => i), Array.from({ length: 16 }, (_, i) => i), Array.from({ length: 70000 }, () => 1),
  {}, Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i])), Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, [i, { n: null }]])),
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

  test('rejects a byte that is never valid MessagePack', () => {
    expect(() => new MessageFramer().push(Uint8Array.from([0x93, 0x00, 0xc1]))).toThrow(/0xc1/);
  });
});
