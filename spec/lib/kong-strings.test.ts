// plugins/lib/kong-strings.ts: how the plugin server turns the bytes of a Kong string into a JS string and back.
import {
  decodeKongString,
  hasEscapedBytes,
  kongStringByteString,
  kongStringBytes,
} from '../../plugins/lib/kong-strings';

const decode = (bytes: Uint8Array | number[]): string => {
  const b = Uint8Array.from(bytes);
  return decodeKongString(b, 0, b.length);
};
const bytesOf = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

/** A small deterministic generator (the cases are reproducible). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('decodeKongString', () => {
  test('a bad lead byte never swallows the ASCII after it', () => {
    expect(decode(bytesOf([0xe0], '<script>'))).toBe('\uDCE0<script>');
    expect(decode(bytesOf([0xf0], '<s'))).toBe('\uDCF0<s');
    expect(decode(bytesOf([0xc3], 'a'))).toBe('\uDCC3a');
  });

  test('overlong forms, encoded surrogates, code points over U+10FFFF and stray bytes are escaped byte by byte', () => {
    expect(decode([0xc0, 0xaf])).toBe('\uDCC0\uDCAF'); // overlong "/"
    expect(decode([0xe0, 0x80, 0xaf])).toBe('\uDCE0\uDC80\uDCAF'); // overlong "/" in 3 bytes
    expect(decode([0xed, 0xa0, 0x80])).toBe('\uDCED\uDCA0\uDC80'); // U+D800 encoded
    expect(decode([0xf4, 0x90, 0x80, 0x80])).toBe('\uDCF4\uDC90\uDC80\uDC80'); // U+110000
    expect(decode([0xa0])).toBe('\uDCA0'); // a lone continuation byte (Latin-1 NBSP)
    expect(decode([0xff, 0xfe])).toBe('\uDCFF\uDCFE');
    expect(decode([0xe2, 0x82])).toBe('\uDCE2\uDC82'); // truncated "€"
    expect(decode(bytesOf('a', [0xe2, 0x82], '€'))).toBe('a\uDCE2\uDC82€');
  });

  test('ASCII decodes as itself, short and long', () => {
    const next = prng(1);
    for (const length of [0, 1, 5, 24, 25, 31, 32, 33, 200, 201, 5000]) {
      const bytes = Uint8Array.from({ length }, () => Math.floor(next() * 0x80));
      expect(decode(bytes)).toBe(Buffer.from(bytes).toString('latin1'));
    }
  });

  test('valid UTF-8 decodes exactly as TextDecoder decodes it (a BOM kept)', () => {
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const next = prng(2);
    const codePoint = (): number => {
      const r = next();
      if (r < 0.4) return Math.floor(next() * 0x80);
      if (r < 0.6) return 0x80 + Math.floor(next() * 0x780);
      if (r < 0.8) {
        const cp = 0x800 + Math.floor(next() * 0xf800);
        return cp >= 0xd800 && cp <= 0xdfff ? 0xfeff : cp;
      }
      return 0x10000 + Math.floor(next() * 0x100000);
    };
    for (let n = 0; n < 500; n++) {
      const text = String.fromCodePoint(...Array.from({ length: Math.floor(next() * 150) }, codePoint));
      const bytes = Buffer.from(text, 'utf8');
      expect(decode(bytes)).toBe(strict.decode(bytes));
      expect(decode(bytes)).toBe(text);
    }
  });

  test('any bytes round-trip: kongStringBytes(decodeKongString(b)) is b, byte strings too', () => {
    const next = prng(3);
    // Mostly the bytes that make sequences interesting, some ASCII; lengths on both sides of the native path.
    const pool = [0x00, 0x2f, 0x3c, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xaf, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0];
    pool.push(0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff);
    const lost: string[] = [];
    for (let n = 0; n < 3000; n++) {
      const length = Math.floor(next() * (n % 10 === 0 ? 400 : 40));
      const bytes = Buffer.from(Array.from({ length }, () => pool[Math.floor(next() * pool.length)]!));
      const text = decode(bytes);
      if (
        !Buffer.from(kongStringBytes(text)).equals(bytes) ||
        kongStringByteString(text) !== bytes.toString('latin1')
      ) {
        lost.push(bytes.toString('hex'));
      }
    }
    expect(lost).toEqual([]);
  });

  test('long strings with a bad byte among valid UTF-8 (the native path refuses them) are escaped the same way', () => {
    const bytes = bytesOf('Grüße '.repeat(20), [0xe0], '<script>', 'ç'.repeat(40));
    const text = decode(bytes);
    expect(text).toBe(`${'Grüße '.repeat(20)}\uDCE0<script>${'ç'.repeat(40)}`);
    expect(Buffer.from(kongStringBytes(text))).toEqual(bytes);
  });
});

describe('kongStringBytes', () => {
  test('hasEscapedBytes: only strings decoded from bytes that are not UTF-8 (or a plugin built) hold escapes', () => {
    expect(hasEscapedBytes(decode(bytesOf('Grüße €')))).toBe(false);
    expect(hasEscapedBytes(decode([0x61, 0xa0]))).toBe(true);
    expect(hasEscapedBytes(String.fromCodePoint(0x10080))).toBe(false); // D800 DC80: a pair
  });

  test('a string with no escape is its UTF-8 (a lone surrogate a plugin built is U+FFFD, as TextEncoder)', () => {
    expect(Buffer.from(kongStringBytes('é€😀'))).toEqual(Buffer.from('é€😀', 'utf8'));
    expect(Buffer.from(kongStringBytes('a\uD800b'))).toEqual(Buffer.from([0x61, 0xef, 0xbf, 0xbd, 0x62]));
  });

  test('a supplementary character whose low surrogate is in U+DC80–U+DCFF is not taken for an escape', () => {
    const text = String.fromCodePoint(0x10080) + '\uDCE0'; // D800 DC80, then the escape of 0xe0
    expect(Buffer.from(kongStringBytes(text))).toEqual(bytesOf(String.fromCodePoint(0x10080), [0xe0]));
  });
});
