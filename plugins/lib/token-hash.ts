// A fixed-length, non-reversible name for a bearer token (or any secret string), for cache keys and
// log correlation: the token itself never needs to be stored or logged. SHA-256 because a cache key
// must not collide; no key is needed since the input (a signed token) is not guessable.
import { createHash } from 'node:crypto';

/** base64url SHA-256 of the UTF-8 string (43 characters). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** A short prefix of tokenHash for log lines (enough to correlate, too short to be a cache oracle). */
export function tokenFingerprint(token: string): string {
  return fingerprintOfTokenHash(tokenHash(token));
}

/** tokenFingerprint from a tokenHash already computed (a verified token's cache key): no second SHA-256. */
export function fingerprintOfTokenHash(hash: string): string {
  return hash.slice(0, 12);
}

/**
 * A stable UUID-shaped id derived from the given parts (RFC 9562 version 8 layout), for credential ids
 * that other Kong plugins expect to look like a UUID (rate-limiting by credential, log serializers).
 */
export function uuidFromParts(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000'), 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
