// HS256 JWTs for integration tests, built with node:crypto (synchronous, so a suite can make its tokens at load
// time): header {"alg":"HS256","typ":"JWT"}, the claims as given, the signature HMAC-SHA256 with `secret`.
import { createHmac } from 'node:crypto';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact HS256 JWT of `claims` signed with `secret`. */
export function hs256Token(claims: Record<string, unknown>, secret: string): string {
  const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

/** Seconds since the epoch, `offset` seconds from now (for iat/exp). */
export function epochSeconds(offset = 0): number {
  return Math.floor(Date.now() / 1000) + offset;
}
