// RFC 9068 JWT access tokens: the claims (pure) and the signature (jose).
//
// Header: { alg, kid, typ: "at+jwt" } (RFC 9068 §2.1). Claims (§2.2): iss, exp, aud, sub, client_id, iat,
// jti, and scope when any scope is granted. For the client-credentials grant there is no resource owner,
// so sub is the client_id (§2.2 "the subject ... SHOULD correspond to the client_id").
import { randomBytes } from 'node:crypto';
import type { SigningKey } from './keys';
import { jose as loadJose } from '../lib/jose';

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
}

export interface ClaimsInput {
  issuer: string;
  clientId: string;
  audience: readonly string[];
  scopes: readonly string[];
  ttlSeconds: number;
  nowMs: number;
  /** Injected for tests; default 128 random bits, base64url. */
  jti?: string;
}

export function newJti(): string {
  return randomBytes(16).toString('base64url');
}

export function buildClaims(input: ClaimsInput): AccessTokenClaims {
  const iat = Math.floor(input.nowMs / 1000);
  const claims: AccessTokenClaims = {
    iss: input.issuer,
    sub: input.clientId,
    // A single audience as a string: what most validators (and RFC 7519 §4.1.3's common case) expect.
    aud: input.audience.length === 1 ? input.audience[0]! : [...input.audience],
    exp: iat + input.ttlSeconds,
    iat,
    jti: input.jti ?? newJti(),
    client_id: input.clientId,
  };
  if (input.scopes.length > 0) claims.scope = input.scopes.join(' ');
  return claims;
}

export async function signAccessToken(claims: AccessTokenClaims, key: SigningKey): Promise<string> {
  const jose = loadJose();
  return new jose.SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .sign(key.privateKey);
}
