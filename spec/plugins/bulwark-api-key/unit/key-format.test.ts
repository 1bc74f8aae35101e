// bulwark-api-key's key format: generation (CSPRNG, ≥ 160 bits, uniform base62), the CRC32/base62 checksum, parsing.
import { crc32 } from 'node:zlib';
import {
  base62,
  BASE62,
  CHECKSUM_LENGTH,
  displayPrefix,
  generateKey,
  isValidPrefix,
  keyChecksum,
  keyPattern,
  MAX_KEY_LENGTH,
  parseKey,
  RANDOM_BITS,
  RANDOM_LENGTH,
  randomBase62,
} from '../../../../plugins/bulwark-api-key/key-format';

const PREFIXES = new Set(['bwk_live', 'bwk_test']);

/** Change one character of the random part to another base62 character. */
function flipRandomChar(key: string, at: number): string {
  const bodyStart = key.length - (RANDOM_LENGTH + 1 + CHECKSUM_LENGTH);
  const i = bodyStart + at;
  const c = key[i]!;
  const other = BASE62[(BASE62.indexOf(c) + 1) % 62]!;
  return key.slice(0, i) + other + key.slice(i + 1);
}

describe('generation', () => {
  test('shape: <prefix>_<32 base62>_<6 base62 checksum>, at least 160 bits of randomness', () => {
    const key = generateKey('bwk_live');
    expect(key).toMatch(/^bwk_live_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
    expect(RANDOM_BITS).toBeGreaterThanOrEqual(160);
    expect(key.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
  });

  test('keys are distinct and characters uniform over base62 (no modulo bias: bytes ≥ 248 are dropped)', () => {
    const counts = new Map<string, number>();
    const keys = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const k = generateKey('bwk_test');
      keys.add(k);
      for (const c of k.slice(9, 9 + RANDOM_LENGTH)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(keys.size).toBe(2000);
    expect(counts.size).toBe(62);
    const expected = (2000 * RANDOM_LENGTH) / 62; // ≈ 1032
    for (const n of counts.values()) expect(Math.abs(n - expected)).toBeLessThan(expected * 0.2);
  });

  test('rejection sampling: a byte source of only 248..255 never yields a character; 0..247 map to base62 evenly', () => {
    let calls = 0;
    const biased = (n: number) => {
      calls++;
      return Buffer.alloc(n, calls < 3 ? 250 : 61 + 62); // two useless draws, then byte 123 = 'z' (123 % 62 = 61)
    };
    expect(randomBase62(4, biased)).toBe('zzzz');
    expect(calls).toBe(3);
  });

  test('prefixes: lower-case words joined by single "_", 2-24 characters', () => {
    for (const ok of ['bwk', 'bwk_live', 'acme_prod_eu1', 'a1']) expect(isValidPrefix(ok)).toBe(true);
    for (const bad of ['', 'b', 'BWK', 'bwk__live', 'bwk_', '_bwk', 'bwk-live', '1bwk', 'x'.repeat(25)])
      expect(isValidPrefix(bad)).toBe(false);
    expect(() => generateKey('Bad')).toThrow('invalid key prefix');
  });
});

describe('checksum', () => {
  test('CRC32 of "<prefix>_<random>" in base62, left-padded to 6 characters', () => {
    const head = 'bwk_live_' + 'A'.repeat(RANDOM_LENGTH);
    const crc = crc32(Buffer.from(head));
    let n = 0;
    for (const c of keyChecksum(head)) n = n * 62 + BASE62.indexOf(c);
    expect(n).toBe(crc);
    expect(base62(0, 6)).toBe('000000');
    expect(base62(61, 2)).toBe('0z');
    expect(base62(2 ** 32 - 1, 6)).toHaveLength(6); // 62^6 > 2^32: every CRC32 fits
  });

  test('every single-character change of the random part is caught', () => {
    const key = generateKey('bwk_live');
    expect(parseKey(key, PREFIXES).ok).toBe(true);
    for (let i = 0; i < RANDOM_LENGTH; i++)
      expect(parseKey(flipRandomChar(key, i), PREFIXES)).toEqual({ ok: false, reason: 'checksum' });
  });

  test('the checksum covers the prefix: a live key relabelled as test is refused', () => {
    const key = generateKey('bwk_live');
    expect(parseKey(key.replace('bwk_live', 'bwk_test'), PREFIXES)).toEqual({ ok: false, reason: 'checksum' });
  });
});

describe('parsing', () => {
  const key = generateKey('bwk_live');

  test('a valid key: its prefix and display prefix (prefix + 4 characters, never more)', () => {
    expect(parseKey(key, PREFIXES)).toEqual({ ok: true, prefix: 'bwk_live', displayPrefix: key.slice(0, 13) });
    expect(displayPrefix(key)).toBe(key.slice(0, 'bwk_live_'.length + 4));
  });

  test.each([
    ['empty', ''],
    ['too long (capped before any work)', key + 'x'.repeat(10_000)],
    ['random part too short', key.slice(0, 20) + key.slice(21)],
    ['no separator before the checksum', key.replace(/_([0-9A-Za-z]{6})$/, '-$1')],
    ['a non-base62 character', key.slice(0, 12) + '+' + key.slice(13)],
    ['upper-case prefix', key.replace('bwk_live', 'BWK_LIVE')],
    ['whitespace inside', key.slice(0, 12) + ' ' + key.slice(13)],
  ])('malformed: %s', (_what, text) => {
    expect(parseKey(text, PREFIXES)).toEqual({ ok: false, reason: 'malformed' });
  });

  test("a well-formed key of another environment's prefix is refused without a checksum computation", () => {
    expect(parseKey(generateKey('acme_prod'), PREFIXES)).toEqual({ ok: false, reason: 'unknown_prefix' });
  });

  test('the published pattern: one alternative per prefix, sorted, RE2-compatible (no lookaround)', () => {
    expect(keyPattern(['bwk_live'])).toBe('\\bbwk_live_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}\\b');
    expect(keyPattern(['bwk_test', 'bwk_live'])).toBe('\\b(?:bwk_live|bwk_test)_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}\\b');
    expect(new RegExp(keyPattern(['bwk_live'])).test(`token=${key};`)).toBe(true);
  });
});
