// Signing keys (bulwark-oauth2's access tokens, bulwark-upstream-trust's gateway tokens): parsed once at instance
// start from PEM or private-JWK text, checked, and turned into the public JWKS. Pure (node:crypto only,
// synchronous), so a bad key stops the instance from starting with a message naming the field, and never leaks key
// material into that message.
//
// - Algorithm from the key: RSA → RS256 (or PS256 when the JWK says so), EC P-256 → ES256, P-384 → ES384,
//   Ed25519 → EdDSA. A JWK `alg` that does not fit its key is refused.
// - kid: the JWK's `kid`, else the RFC 7638 thumbprint of the public key (stable across restarts).
// - The public JWK is built from an allow-list of public members per key type: private members
//   (d, p, q, dp, dq, qi, oth, k) can never reach the JWKS, whatever the input held.
import { ConfigError } from '../lib/config';
import { rsaKeyObjectProblem } from '../lib/rsa-key';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';

export type SigningAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

export interface PublicJwk {
  kty: 'RSA' | 'EC' | 'OKP';
  kid: string;
  use: 'sig';
  alg: SigningAlgorithm;
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
  publicJwk: PublicJwk;
}

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

const KID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** Kong resolves `{vault://...}` before the plugin sees the config; one arriving here was not resolved. */
export function isVaultReference(text: string): boolean {
  return /^\{vault:\/\/[^}]*\}$/.test(text.trim());
}

const PUBLIC_MEMBERS: Record<PublicJwk['kty'], readonly string[]> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
};

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key's required members. */
export function jwkThumbprint(jwk: { kty: string } & Record<string, unknown>): string {
  const members = PUBLIC_MEMBERS[jwk.kty as PublicJwk['kty']];
  if (members === undefined) throw new KeyError(`unsupported key type ${JSON.stringify(jwk.kty)}`);
  // Required members in lexicographic order, no whitespace (RFC 7638 §3.2).
  const names = [...members, 'kty'].sort();
  const canonical = `{${names.map((n) => `${JSON.stringify(n)}:${JSON.stringify(jwk[n])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

function algorithmsFor(key: KeyObject): SigningAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      // The checks every plugin makes on RSA keys (size, exponent, ROCA: a key made by a vulnerable
      // Infineon TPM/smart card can be factored from its public part, which this plugin publishes).
      const problem = rsaKeyObjectProblem(key);
      if (problem !== undefined) throw new KeyError(problem);
      return ['RS256', 'PS256'];
    }
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return ['ES256'];
      if (curve === 'secp384r1') return ['ES384'];
      throw new KeyError(`EC curve ${String(curve)} not supported (P-256 or P-384)`);
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      throw new KeyError(`key type ${String(key.asymmetricKeyType)} not supported (RSA, EC P-256/P-384, Ed25519)`);
  }
}

/** node:crypto sign/verify arguments for an algorithm (for the start-up self test). */
function nodeSignArgs(
  alg: SigningAlgorithm,
  key: KeyObject,
): { digest: string | null; key: Parameters<typeof cryptoSign>[2] } {
  switch (alg) {
    case 'RS256':
      return { digest: 'sha256', key };
    case 'PS256':
      return { digest: 'sha256', key: { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } };
    case 'ES256':
      return { digest: 'sha256', key: { key, dsaEncoding: 'ieee-p1363' } };
    case 'ES384':
      return { digest: 'sha384', key: { key, dsaEncoding: 'ieee-p1363' } };
    case 'EdDSA':
      return { digest: null, key };
  }
}

function parsePrivateKey(text: string): { key: KeyObject; jwk?: Record<string, unknown> } {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let jwk: unknown;
    try {
      jwk = JSON.parse(trimmed);
    } catch {
      throw new KeyError('not valid JSON (expected a private JWK or a PEM private key)');
    }
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk))
      throw new KeyError('a JWK must be a JSON object');
    const o = jwk as Record<string, unknown>;
    if ('keys' in o) throw new KeyError('a JWK Set was given: put each private JWK in its own signing_keys element');
    if (o.kty === 'oct')
      throw new KeyError('symmetric (oct) keys cannot sign tokens whose verification key is published');
    if (typeof o.d !== 'string') throw new KeyError('the JWK has no private part (d): a private key is needed to sign');
    try {
      return { key: createPrivateKey({ key: o as never, format: 'jwk' }), jwk: o };
    } catch {
      throw new KeyError('the JWK is not a valid private key');
    }
  }
  if (!trimmed.startsWith('-----BEGIN ')) throw new KeyError('expected a PEM private key or a private JWK (JSON)');
  if (/-----BEGIN (?:ENCRYPTED PRIVATE KEY|.* PRIVATE KEY-----\s*Proc-Type: 4,ENCRYPTED)/.test(trimmed)) {
    throw new KeyError('encrypted PEM keys are not supported (store the key in a vault instead)');
  }
  if (!/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/.test(trimmed)) {
    throw new KeyError(
      'the PEM is not a private key (expected BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)',
    );
  }
  try {
    return { key: createPrivateKey({ key: trimmed, format: 'pem' }) };
  } catch {
    throw new KeyError('the PEM private key does not parse');
  }
}

/** Parse one `signing_keys` element. Throws KeyError with a reason that never quotes the key. */
export function parseSigningKey(text: string): SigningKey {
  if (isVaultReference(text)) {
    throw new KeyError(
      'an unresolved vault reference arrived: Kong resolves {vault://...} references before the plugin starts; check the vault and the secret exist',
    );
  }
  const { key, jwk } = parsePrivateKey(text);
  const allowed = algorithmsFor(key);
  let alg = allowed[0]!;
  if (jwk !== undefined) {
    if (jwk.alg !== undefined) {
      if (typeof jwk.alg !== 'string' || !(allowed as string[]).includes(jwk.alg)) {
        throw new KeyError(
          `JWK alg ${JSON.stringify(jwk.alg)} does not fit this key (possible: ${allowed.join(', ')})`,
        );
      }
      alg = jwk.alg as SigningAlgorithm;
    }
    if (jwk.use !== undefined && jwk.use !== 'sig') throw new KeyError('JWK use must be "sig"');
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('sign'))) {
      throw new KeyError('JWK key_ops must include "sign"');
    }
  }

  const exported = createPublicKey(key).export({ format: 'jwk' }) as Record<string, unknown>;
  const kty = exported.kty as PublicJwk['kty'];
  const publicJwk = { kty } as PublicJwk;
  for (const member of PUBLIC_MEMBERS[kty]) {
    const value = exported[member];
    if (typeof value !== 'string') throw new KeyError(`public key member ${member} missing`);
    (publicJwk as unknown as Record<string, string>)[member] = value;
  }

  let kid: string;
  if (jwk !== undefined && jwk.kid !== undefined) {
    if (typeof jwk.kid !== 'string' || !KID_PATTERN.test(jwk.kid))
      throw new KeyError('JWK kid must be 1-128 printable ASCII characters');
    kid = jwk.kid;
  } else {
    kid = jwkThumbprint(publicJwk as unknown as { kty: string } & Record<string, unknown>);
  }
  publicJwk.kid = kid;
  publicJwk.use = 'sig';
  publicJwk.alg = alg;

  // Self test: a JWK whose private and public members do not belong together would sign tokens nobody can
  // verify. Sign and verify once with the published public key.
  const probe = Buffer.from('bulwark signing key self-test');
  const publicKey = createPublicKey({ key: publicJwk as never, format: 'jwk' });
  const signArgs = nodeSignArgs(alg, key);
  const verifyArgs = nodeSignArgs(alg, publicKey);
  let ok: boolean;
  try {
    const signature = cryptoSign(signArgs.digest, probe, signArgs.key);
    ok = cryptoVerify(verifyArgs.digest, probe, verifyArgs.key as never, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new KeyError('the private key does not match its public part (self-test signature did not verify)');

  return { kid, alg, privateKey: key, publicJwk };
}

export interface KeyRing {
  /** Signs new tokens. */
  active: SigningKey;
  all: SigningKey[];
  /** The JWKS document served on jwks_path, serialized once. */
  jwksJson: string;
}

/**
 * Build the key ring from the config; throws a ConfigError naming the field (`signing_keys[1]: ...`).
 */
export function buildKeyRing(
  texts: string[],
  activeKid: string | undefined,
  field = 'signing_keys',
  activeKeyField = 'active_key_id',
): KeyRing {
  if (texts.length === 0) throw new ConfigError(field, 'at least one signing key is required');
  const all: SigningKey[] = [];
  texts.forEach((text, i) => {
    let key: SigningKey;
    try {
      key = parseSigningKey(text);
    } catch (err) {
      throw new ConfigError(`${field}[${i}]`, err instanceof Error ? err.message : String(err));
    }
    if (all.some((k) => k.kid === key.kid))
      throw new ConfigError(`${field}[${i}]`, `kid ${JSON.stringify(key.kid)} is used by another key`);
    all.push(key);
  });
  let active = all[0]!;
  if (activeKid !== undefined) {
    const found = all.find((k) => k.kid === activeKid);
    if (found === undefined) {
      throw new ConfigError(
        activeKeyField,
        `no signing key has kid ${JSON.stringify(activeKid)} (kids: ${all.map((k) => k.kid).join(', ')})`,
      );
    }
    active = found;
  }
  return { active, all, jwksJson: JSON.stringify({ keys: all.map((k) => k.publicJwk) }) };
}
