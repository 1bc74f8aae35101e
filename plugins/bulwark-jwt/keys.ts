// Verification keys: import (static PEM / JWK / JWKS / shared secret, or a JWKS document fetched from an
// issuer), and the rule that binds a key to the algorithms it may verify (RFC 8725 §3.1, §2.1): a key is
// used only for an algorithm of its own type: RSA for RS*/PS*, EC on the matching curve for ES*, OKP
// Ed25519 for EdDSA, and a symmetric secret for HS*. This is what makes "HS256 signed with the RSA public
// key" impossible: an HS* token is only ever checked against configured secrets, never against a public
// key, and a JWKS never supplies a symmetric key.
import { createPublicKey, createSecretKey, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto';
import { jose } from '../lib/jose';
import { rsaKeyObjectProblem } from '../lib/rsa-key';

export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const SUPPORTED_ALGORITHMS: readonly string[] = [...ASYMMETRIC_ALGORITHMS, ...HMAC_ALGORITHMS];

export type KeyType = 'RSA' | 'EC' | 'OKP' | 'oct';

/** Smallest HMAC secret per algorithm (RFC 7518 §3.2: at least the hash output size). */
export const MIN_HMAC_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };

const EC_CURVE_FOR_ALG: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

export interface VerificationKey {
  /** Where the key came from, for logs: `keys[0]`, `secrets[1]`, `jwks kid=…`. Never key material. */
  label: string;
  kid: string | undefined;
  kty: KeyType;
  /** EC curve or OKP subtype. */
  crv: string | undefined;
  /** The `alg` the key is restricted to, when its JWK says so. */
  alg: string | undefined;
  /** RSA modulus bits or secret bytes. */
  size: number;
  /** Public JWK (or oct JWK) jose imports per algorithm. */
  jwk: NodeJwk;
  /** Identity of the key material (canonical JWK text): equal keys across JWKS refreshes stay one entry. */
  identity: string;
  /** Imported CryptoKeys/secrets per algorithm (jose importJWK is async; done once per key and alg). */
  imported: Map<string, Promise<unknown>>;
}

export class KeyImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyImportError';
  }
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

function canonicalIdentity(kty: string, jwk: NodeJwk): string {
  // The members that define the key (RFC 7638 thumbprint members), in a fixed order.
  const members: Record<string, string[]> = {
    RSA: ['e', 'kty', 'n'],
    EC: ['crv', 'kty', 'x', 'y'],
    OKP: ['crv', 'kty', 'x'],
    oct: ['k', 'kty'],
  };
  const obj: Record<string, unknown> = {};
  for (const m of members[kty] ?? []) obj[m] = (jwk as Record<string, unknown>)[m];
  return JSON.stringify(obj);
}

function fromKeyObject(
  keyObject: KeyObject,
  label: string,
  meta: { kid?: unknown; alg?: unknown; use?: unknown; key_ops?: unknown },
): VerificationKey {
  if (meta.use !== undefined && meta.use !== 'sig')
    throw new KeyImportError(`key use ${JSON.stringify(meta.use)} is not "sig"`);
  if (meta.key_ops !== undefined && !(Array.isArray(meta.key_ops) && meta.key_ops.includes('verify'))) {
    throw new KeyImportError('key_ops does not include "verify"');
  }
  if (meta.kid !== undefined && (typeof meta.kid !== 'string' || meta.kid.length === 0 || meta.kid.length > 256)) {
    throw new KeyImportError('kid must be a string of 1-256 characters');
  }
  if (meta.alg !== undefined && (typeof meta.alg !== 'string' || !SUPPORTED_ALGORITHMS.includes(meta.alg))) {
    throw new KeyImportError(`unsupported key alg ${JSON.stringify(meta.alg)}`);
  }
  const kid = meta.kid as string | undefined;
  const alg = meta.alg as string | undefined;
  let kty: KeyType;
  let crv: string | undefined;
  let size = 0;
  if (keyObject.type === 'secret') {
    kty = 'oct';
    size = keyObject.symmetricKeySize ?? 0;
  } else {
    switch (keyObject.asymmetricKeyType) {
      case 'rsa': {
        kty = 'RSA';
        size = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
        // Exponent (e = 1 verifies anything), modulus size, ROCA: the checks every plugin loading RSA keys makes.
        const problem = rsaKeyObjectProblem(keyObject);
        if (problem !== undefined) throw new KeyImportError(problem);
        break;
      }
      case 'ec': {
        kty = 'EC';
        const named = keyObject.asymmetricKeyDetails?.namedCurve;
        crv =
          named === 'prime256v1'
            ? 'P-256'
            : named === 'secp384r1'
              ? 'P-384'
              : named === 'secp521r1'
                ? 'P-521'
                : undefined;
        if (crv === undefined) throw new KeyImportError(`unsupported EC curve ${String(named)}`);
        break;
      }
      case 'ed25519':
        kty = 'OKP';
        crv = 'Ed25519';
        break;
      default:
        throw new KeyImportError(`unsupported key type ${String(keyObject.asymmetricKeyType)}`);
    }
  }
  const jwk = keyObject.export({ format: 'jwk' });
  return { label, kid, kty, crv, alg, size, jwk, identity: canonicalIdentity(kty, jwk), imported: new Map() };
}

/** Import one JWK (public asymmetric, or oct when `allowSecret`); refuses private keys. */
export function importJwk(value: unknown, label: string, allowSecret: boolean): VerificationKey {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new KeyImportError('a JWK must be a JSON object');
  const jwk = value as Record<string, unknown>;
  if (jwk.kty === 'oct') {
    if (!allowSecret) throw new KeyImportError('symmetric (oct) keys are not accepted here');
    if (typeof jwk.k !== 'string' || !/^[A-Za-z0-9_-]+$/.test(jwk.k))
      throw new KeyImportError('oct JWK without a valid "k"');
    return fromKeyObject(createSecretKey(Buffer.from(jwk.k, 'base64url')), label, jwk);
  }
  if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk))
    throw new KeyImportError('private key material is not accepted: configure the public key');
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP')
    throw new KeyImportError(`unsupported kty ${JSON.stringify(jwk.kty)}`);
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: jwk as NodeJwk, format: 'jwk' });
  } catch (err) {
    throw new KeyImportError(`invalid ${String(jwk.kty)} JWK (${err instanceof Error ? err.message : 'unreadable'})`);
  }
  return fromKeyObject(keyObject, label, jwk);
}

/**
 * A static key from config: a PEM public key or certificate, a JWK, or a JWKS (`{"keys":[…]}`).
 * Symmetric JWKs are accepted here (the operator put them in config); private keys never.
 */
export function parseStaticKey(text: string, label: string): VerificationKey[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed))
      throw new KeyImportError('private key material is not accepted: configure the public key');
    let keyObject: KeyObject;
    try {
      keyObject = createPublicKey(trimmed); // PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE
    } catch (err) {
      throw new KeyImportError(`unreadable PEM (${err instanceof Error ? err.message : 'invalid'})`);
    }
    return [fromKeyObject(keyObject, label, {})];
  }
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new KeyImportError('neither a PEM key nor valid JWK JSON');
    }
    const keys = (parsed as { keys?: unknown }).keys;
    if (Array.isArray(keys)) {
      if (keys.length === 0) throw new KeyImportError('the JWKS has no keys');
      return keys.map((k, i) => importJwk(k, `${label}.keys[${i}]`, true));
    }
    return [importJwk(parsed, label, true)];
  }
  throw new KeyImportError(
    'expected a PEM public key or certificate, a JWK or a JWKS (shared secrets go in "secrets")',
  );
}

/** An HS* shared secret: the UTF-8 bytes of the configured string. */
export function parseSecret(text: string, label: string): VerificationKey {
  return fromKeyObject(createSecretKey(Buffer.from(text, 'utf8')), label, {});
}

/** Why `key` may not verify a token of `alg`, or undefined when it may. */
export function keyMismatch(key: VerificationKey, alg: string): string | undefined {
  if (key.alg !== undefined && key.alg !== alg && !(isEdDsa(key.alg) && isEdDsa(alg))) return `key is for ${key.alg}`;
  if (alg.startsWith('RS') || alg.startsWith('PS'))
    return key.kty === 'RSA' ? undefined : `${alg} needs an RSA key, not ${key.kty}`;
  if (alg.startsWith('ES')) {
    if (key.kty !== 'EC') return `${alg} needs an EC key, not ${key.kty}`;
    return key.crv === EC_CURVE_FOR_ALG[alg]
      ? undefined
      : `${alg} needs curve ${EC_CURVE_FOR_ALG[alg]}, not ${key.crv}`;
  }
  if (isEdDsa(alg)) return key.kty === 'OKP' && key.crv === 'Ed25519' ? undefined : `${alg} needs an Ed25519 key`;
  if (alg.startsWith('HS')) {
    if (key.kty !== 'oct') return `${alg} needs a shared secret, not an ${key.kty} key`;
    const min = MIN_HMAC_BYTES[alg] ?? 64;
    return key.size >= min ? undefined : `${alg} needs a secret of at least ${min} bytes`;
  }
  return `unsupported algorithm ${alg}`;
}

function isEdDsa(alg: string): boolean {
  return alg === 'EdDSA' || alg === 'Ed25519';
}

/** The key in the form jose verifies with, imported once per algorithm. */
export function importedKeyFor(key: VerificationKey, alg: string): Promise<unknown> {
  let p = key.imported.get(alg);
  if (p === undefined) {
    const jwk = { ...key.jwk } as Record<string, unknown>;
    p = jose().importJWK(jwk as never, alg);
    // A failed import must not stay cached as a rejected promise forever.
    p.catch(() => key.imported.delete(alg));
    key.imported.set(alg, p);
  }
  return p;
}
