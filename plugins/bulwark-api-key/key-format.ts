// The API key format: `<prefix>_<random>_<checksum>`, e.g. `bwk_live_4VqF0x…(32)_1bX9Qa`.
//   prefix    operator-chosen per environment (`bwk_live`, `bwk_test`): lower-case letters and digits in
//             `_`-separated words. It makes a leaked key recognisable to secret scanners and to people.
//   random    32 base62 characters from the CSPRNG (crypto.randomBytes, rejection-sampled so every character
//             is uniform): 32 × log2(62) ≈ 190.5 bits, above the 160 bits asked for.
//   checksum  CRC32 of `<prefix>_<random>` in base62, left-padded to 6 characters (62^6 > 2^32).
// Why a checksum: a scanner can tell a real key from a look-alike without calling anyone, and the plugin refuses a
// typo or a made-up key before any hashing or store lookup (GitHub's token format does the same). CRC32 is not a
// secret and proves nothing about authenticity; the hash lookup does that.
//
// Everything here is pure and linear in the input; parsing caps the input length first.
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const RANDOM_LENGTH = 32;
export const CHECKSUM_LENGTH = 6;
/** Bits of randomness in a key (≥ 160). */
export const RANDOM_BITS = RANDOM_LENGTH * Math.log2(62);
/** Longest prefix accepted (schema and parser agree). */
export const MAX_PREFIX_LENGTH = 24;
/** Longest key text the parser looks at: anything longer is refused before any work. */
export const MAX_KEY_LENGTH = MAX_PREFIX_LENGTH + 1 + RANDOM_LENGTH + 1 + CHECKSUM_LENGTH;
/** Characters of the random part shown in listings and logs next to the prefix (24 of 190 bits: not a secret). */
export const DISPLAY_RANDOM_CHARS = 4;

/** A prefix: lower-case words of letters and digits joined by `_` (JavaScript form of the schema's Lua pattern). */
export const PREFIX_RE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

export function isValidPrefix(prefix: string): boolean {
  return prefix.length >= 2 && prefix.length <= MAX_PREFIX_LENGTH && PREFIX_RE.test(prefix);
}

/** Non-negative integer → base62, left-padded with '0' to `width`. */
export function base62(value: number, width: number): string {
  let out = '';
  let v = value;
  do {
    out = BASE62[v % 62]! + out;
    v = Math.floor(v / 62);
  } while (v > 0);
  return out.padStart(width, '0');
}

/** The checksum of `<prefix>_<random>`. */
export function keyChecksum(prefixAndRandom: string): string {
  return base62(crc32(Buffer.from(prefixAndRandom, 'utf8')), CHECKSUM_LENGTH);
}

/** `length` uniform base62 characters from the CSPRNG (bytes ≥ 248 are dropped: 248 = 4 × 62). */
export function randomBase62(length: number, bytes: (n: number) => Buffer = randomBytes): string {
  let out = '';
  while (out.length < length) {
    for (const b of bytes(length * 2)) {
      if (b >= 248) continue;
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A new key for `prefix`. */
export function generateKey(prefix: string, bytes?: (n: number) => Buffer): string {
  if (!isValidPrefix(prefix)) throw new Error(`invalid key prefix "${prefix}"`);
  const head = `${prefix}_${randomBase62(RANDOM_LENGTH, bytes)}`;
  return `${head}_${keyChecksum(head)}`;
}

export type KeyParse =
  | { ok: true; prefix: string; displayPrefix: string }
  /** `malformed`: not the shape of a key; `prefix`: a key of another environment; `checksum`: a typo or made up. */
  | { ok: false; reason: 'malformed' | 'unknown_prefix' | 'checksum' };

const BODY_RE = new RegExp(`^[0-9A-Za-z]{${RANDOM_LENGTH}}_[0-9A-Za-z]{${CHECKSUM_LENGTH}}$`);

/** Checks a presented key's shape, prefix and checksum (no store involved). */
export function parseKey(key: string, prefixes: ReadonlySet<string>): KeyParse {
  if (key.length > MAX_KEY_LENGTH || key.length < RANDOM_LENGTH + CHECKSUM_LENGTH + 4)
    return { ok: false, reason: 'malformed' };
  const bodyStart = key.length - (RANDOM_LENGTH + 1 + CHECKSUM_LENGTH);
  if (key[bodyStart - 1] !== '_') return { ok: false, reason: 'malformed' };
  const prefix = key.slice(0, bodyStart - 1);
  const body = key.slice(bodyStart);
  if (!BODY_RE.test(body) || !PREFIX_RE.test(prefix)) return { ok: false, reason: 'malformed' };
  if (!prefixes.has(prefix)) return { ok: false, reason: 'unknown_prefix' };
  const head = key.slice(0, key.length - CHECKSUM_LENGTH - 1);
  if (keyChecksum(head) !== body.slice(RANDOM_LENGTH + 1)) return { ok: false, reason: 'checksum' };
  return { ok: true, prefix, displayPrefix: displayPrefix(key) };
}

/** The `<prefix>` of a string of a key's length and shape (the part before `_<random>_<checksum>`). */
export function keyPrefix(key: string): string {
  return key.slice(0, Math.max(0, key.length - (RANDOM_LENGTH + 1 + CHECKSUM_LENGTH) - 1));
}

/** The part of a key that may be shown: `<prefix>_` and the first random characters. */
export function displayPrefix(key: string): string {
  const bodyStart = key.length - (RANDOM_LENGTH + 1 + CHECKSUM_LENGTH);
  return key.slice(0, bodyStart + DISPLAY_RANDOM_CHARS);
}

/** Regex-escape a prefix (only `_` and alphanumerics by construction; escaped anyway). */
function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The published regular expression that finds keys of these prefixes in text, in the common subset of RE2 (Go:
 * gitleaks, trufflehog, GitHub secret scanning) and JavaScript: word boundaries, no lookaround, linear.
 */
export function keyPattern(prefixes: readonly string[]): string {
  const alternatives = [...prefixes].sort().map(escapeRe);
  const head = alternatives.length === 1 ? alternatives[0]! : `(?:${alternatives.join('|')})`;
  return `\\b${head}_[0-9A-Za-z]{${RANDOM_LENGTH}}_[0-9A-Za-z]{${CHECKSUM_LENGTH}}\\b`;
}
