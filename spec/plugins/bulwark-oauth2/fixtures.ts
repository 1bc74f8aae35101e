// Test material for bulwark-oauth2: fresh key pairs (PEM and JWK) and client secret hashes.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface TestKey {
  privateKey: KeyObject;
  pem: string;
  jwk: Record<string, unknown>;
}

function material(privateKey: KeyObject): TestKey {
  return {
    privateKey,
    pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    jwk: privateKey.export({ format: 'jwk' }) as Record<string, unknown>,
  };
}

export function rsaKey(bits = 2048): TestKey {
  return material(generateKeyPairSync('rsa', { modulusLength: bits }).privateKey);
}

export function ecKey(curve: 'P-256' | 'P-384' | 'secp256k1' = 'P-256'): TestKey {
  return material(generateKeyPairSync('ec', { namedCurve: curve }).privateKey);
}

export function edKey(): TestKey {
  return material(generateKeyPairSync('ed25519').privateKey);
}

/** JSON members of a JWK that are private (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** jest's module registry cannot load jose (ESM only): tests take it from Node's own require (require(esm)). */
export function nodeRequire(id: string): unknown {
  const mod = (process as unknown as { getBuiltinModule(n: string): typeof import('node:module') }).getBuiltinModule(
    'module',
  );
  return mod.createRequire(__filename)(id);
}
