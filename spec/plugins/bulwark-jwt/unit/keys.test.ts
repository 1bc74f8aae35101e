import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { importJwk, keyMismatch, parseSecret, parseStaticKey } from '../../../../plugins/bulwark-jwt/keys';
import { selfSignedCert } from '../../../fixtures/jwt/idp';
import { rocaPublicJwk } from '../../../fixtures/roca';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
const ed = generateKeyPairSync('ed25519').publicKey;
const pem = (k: typeof rsa, type: 'spki' | 'pkcs1' = 'spki') => k.export({ type, format: 'pem' }).toString();

describe('parseStaticKey', () => {
  it('reads SPKI, PKCS#1 and certificate PEMs, JWKs and JWKS documents', () => {
    expect(parseStaticKey(pem(rsa), 'k')[0]).toMatchObject({ kty: 'RSA', size: 2048, kid: undefined });
    expect(parseStaticKey(pem(rsa, 'pkcs1'), 'k')[0]).toMatchObject({ kty: 'RSA' });
    expect(parseStaticKey(selfSignedCert().cert, 'k')[0]).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(parseStaticKey(JSON.stringify({ ...ed.export({ format: 'jwk' }), kid: 'e' }), 'k')[0]).toMatchObject({
      kty: 'OKP',
      crv: 'Ed25519',
      kid: 'e',
    });
    const set = parseStaticKey(
      JSON.stringify({ keys: [ec256.export({ format: 'jwk' }), ec384.export({ format: 'jwk' })] }),
      'k',
    );
    expect(set.map((k) => [k.label, k.crv])).toEqual([
      ['k.keys[0]', 'P-256'],
      ['k.keys[1]', 'P-384'],
    ]);
  });

  it.each([
    ['garbage', 'expected a PEM public key or certificate, a JWK or a JWKS'],
    ['{not json', 'neither a PEM key nor valid JWK JSON'],
    ['{"keys":[]}', 'the JWKS has no keys'],
    ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', 'unreadable PEM'],
    [JSON.stringify({ kty: 'RSA', n: 'AQAB', e: 'AQAB' }), 'RSA key of 17 bits is too small'],
    [JSON.stringify({ ...rsa.export({ format: 'jwk' }), use: 'enc' }), 'key use "enc" is not "sig"'],
    [JSON.stringify({ ...rsa.export({ format: 'jwk' }), key_ops: ['encrypt'] }), 'key_ops does not include "verify"'],
    [JSON.stringify({ ...rsa.export({ format: 'jwk' }), alg: 'RSA-OAEP' }), 'unsupported key alg "RSA-OAEP"'],
    [JSON.stringify({ ...rsa.export({ format: 'jwk' }), kid: 5 }), 'kid must be a string of 1-256 characters'],
    [pem(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey), 'unsupported EC curve secp256k1'],
    [pem(generateKeyPairSync('ed448').publicKey), 'unsupported key type ed448'],
  ])('refuses %s', (text, message) => {
    expect(() => parseStaticKey(text, 'k')).toThrow(message);
  });
});

describe('RSA key hygiene (lib/rsa-key.ts): static keys and JWKS entries', () => {
  const jwk = rsa.export({ format: 'jwk' });
  const e1 = { ...jwk, e: 'AQ' }; // Wycheproof JWK test: RSA public key with e = 1
  const e1Pem = createPublicKey({ key: e1, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  it.each([
    ['a JWK with e = 1', JSON.stringify(e1), 'RSA public exponent 1 is below 3'],
    ['a PEM with e = 1', e1Pem, 'RSA public exponent 1 is below 3'],
    ['a JWKS holding a key with e = 1', JSON.stringify({ keys: [jwk, e1] }), 'RSA public exponent 1 is below 3'],
    ['a JWK with an even e', JSON.stringify({ ...jwk, e: 'AQAA' }), 'RSA public exponent 65536 is even'],
    ['a JWK with a 40-bit e', JSON.stringify({ ...jwk, e: 'AQAAAAE' }), 'RSA public exponent of 33 bits is too large'],
    ['a ROCA-vulnerable modulus', JSON.stringify(rocaPublicJwk()), 'RSA modulus has the ROCA fingerprint'],
  ])('parseStaticKey refuses %s', (_name, text, message) => {
    expect(() => parseStaticKey(text, 'k')).toThrow(message);
  });

  it('importJwk (the JWKS path) refuses them too', () => {
    expect(() => importJwk(e1, 'jwks', false)).toThrow('RSA public exponent 1 is below 3');
    expect(() => importJwk(rocaPublicJwk(), 'jwks', false)).toThrow('ROCA');
    expect(importJwk(jwk, 'jwks', false)).toMatchObject({ kty: 'RSA', size: 2048 });
  });
});

describe('keyMismatch: a key only verifies algorithms of its own type (RFC 8725 §3.1)', () => {
  const k = {
    rsa: importJwk(rsa.export({ format: 'jwk' }), 'rsa', false),
    ec256: importJwk(ec256.export({ format: 'jwk' }), 'ec256', false),
    ec384: importJwk(ec384.export({ format: 'jwk' }), 'ec384', false),
    ed: importJwk(ed.export({ format: 'jwk' }), 'ed', false),
    hs32: parseSecret('s'.repeat(32), 'hs32'),
    hs48: parseSecret('s'.repeat(48), 'hs48'),
    rs256only: importJwk({ ...rsa.export({ format: 'jwk' }), alg: 'RS256' }, 'rs256only', false),
  };
  const fits: Record<string, string[]> = {
    rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
    ec256: ['ES256'],
    ec384: ['ES384'],
    ed: ['EdDSA', 'Ed25519'],
    hs32: ['HS256'],
    hs48: ['HS256', 'HS384'],
    rs256only: ['RS256'],
  };
  const algs = [
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
    'HS256',
    'HS384',
    'HS512',
  ];
  it.each(Object.keys(fits))('%s', (name) => {
    const accepted = algs.filter((a) => keyMismatch(k[name as keyof typeof k], a) === undefined);
    expect(accepted).toEqual(fits[name]);
  });
});
