import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { ConfigError } from '../../../../plugins/lib/config';
import { buildKeyRing, jwkThumbprint, parseSigningKey, KeyError } from '../../../../plugins/bulwark-oauth2/keys';
import { rocaPrivateJwk } from '../../../fixtures/roca';
import { ecKey, edKey, PRIVATE_JWK_MEMBERS, rsaKey } from '../fixtures';

describe('signing keys', () => {
  const rsa = rsaKey();
  const ec = ecKey('P-256');
  const ec384 = ecKey('P-384');
  const ed = edKey();

  test.each([
    ['RSA PEM (PKCS#8)', () => rsa.pem, 'RS256', 'RSA'],
    ['RSA PEM (PKCS#1)', () => rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(), 'RS256', 'RSA'],
    ['RSA JWK with alg PS256', () => JSON.stringify({ ...rsa.jwk, alg: 'PS256' }), 'PS256', 'RSA'],
    ['EC P-256 PEM (SEC1)', () => ec.privateKey.export({ format: 'pem', type: 'sec1' }).toString(), 'ES256', 'EC'],
    ['EC P-256 JWK', () => JSON.stringify(ec.jwk), 'ES256', 'EC'],
    ['EC P-384 PEM', () => ec384.pem, 'ES384', 'EC'],
    ['Ed25519 PEM', () => ed.pem, 'EdDSA', 'OKP'],
    ['Ed25519 JWK', () => JSON.stringify(ed.jwk), 'EdDSA', 'OKP'],
  ])('%s: algorithm and public JWK only', (_n, text, alg, kty) => {
    const key = parseSigningKey(text());
    expect(key.alg).toBe(alg);
    expect(key.publicJwk.kty).toBe(kty);
    expect(key.publicJwk.use).toBe('sig');
    for (const m of PRIVATE_JWK_MEMBERS) expect(key.publicJwk).not.toHaveProperty(m);
    expect(key.privateKey.type).toBe('private');
  });

  test('kid: the JWK kid when given, else the RFC 7638 thumbprint (same for PEM and JWK of one key)', () => {
    expect(parseSigningKey(JSON.stringify({ ...ec.jwk, kid: 'k1' })).kid).toBe('k1');
    const fromPem = parseSigningKey(ec.pem).kid;
    expect(parseSigningKey(JSON.stringify(ec.jwk)).kid).toBe(fromPem);
    expect(fromPem).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('RFC 7638 §3.1 example thumbprint', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  test.each([
    [
      'a public PEM',
      () => createPublicKey(rsa.privateKey).export({ format: 'pem', type: 'spki' }).toString(),
      /not a private key/,
    ],
    [
      'a public JWK',
      () => JSON.stringify(createPublicKey(rsa.privateKey).export({ format: 'jwk' })),
      /no private part/,
    ],
    ['a symmetric JWK', () => JSON.stringify({ kty: 'oct', k: 'AAAA' }), /symmetric/],
    ['a JWK Set', () => JSON.stringify({ keys: [ec.jwk] }), /JWK Set/],
    ['RSA 1024', () => rsaKey(1024).pem, /at least 2048/],
    ['an RSA key made by a ROCA-vulnerable chip', () => JSON.stringify(rocaPrivateJwk()), /ROCA fingerprint/],
    ['secp256k1', () => ecKey('secp256k1').pem, /curve/],
    ['an alg that does not fit the key', () => JSON.stringify({ ...ec.jwk, alg: 'RS256' }), /does not fit/],
    ['use enc', () => JSON.stringify({ ...ec.jwk, use: 'enc' }), /use must be "sig"/],
    ['key_ops without sign', () => JSON.stringify({ ...ec.jwk, key_ops: ['verify'] }), /key_ops/],
    ['broken JSON', () => '{"kty":', /not valid JSON/],
    ['garbage', () => 'hello', /expected a PEM/],
    [
      'an encrypted PEM',
      () =>
        generateKeyPairSync('ec', {
          namedCurve: 'P-256',
          privateKeyEncoding: { format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw' },
          publicKeyEncoding: { format: 'pem', type: 'spki' },
        }).privateKey,
      /encrypted/,
    ],
    ['an unresolved vault reference', () => '{vault://env/signing-key}', /unresolved vault reference/],
    [
      'a JWK whose d does not belong to x/y',
      () => JSON.stringify({ ...ec.jwk, d: ecKey().jwk.d }),
      /does not match|not a valid private key/,
    ],
  ])('refuses %s', (_n, text, message) => {
    expect(() => parseSigningKey(text())).toThrow(KeyError);
    expect(() => parseSigningKey(text())).toThrow(message);
  });

  test('error messages never contain key material', () => {
    expect.assertions(2);
    const text = JSON.stringify({ ...ec.jwk, alg: 'RS256' });
    try {
      parseSigningKey(text);
    } catch (err) {
      expect((err as Error).message).not.toContain(ec.jwk.d as string);
      expect((err as Error).message).not.toContain(ec.jwk.x as string);
    }
  });

  test('key ring: first key active by default, active_key_id selects another, JWKS lists all', () => {
    const ring = buildKeyRing(
      [JSON.stringify({ ...ec.jwk, kid: 'a' }), JSON.stringify({ ...ed.jwk, kid: 'b' })],
      undefined,
    );
    expect(ring.active.kid).toBe('a');
    expect(JSON.parse(ring.jwksJson).keys.map((k: { kid: string }) => k.kid)).toEqual(['a', 'b']);
    expect(
      buildKeyRing([JSON.stringify({ ...ec.jwk, kid: 'a' }), JSON.stringify({ ...ed.jwk, kid: 'b' })], 'b').active.kid,
    ).toBe('b');
  });

  test('key ring errors name the field: unknown active kid, duplicate kid, bad element', () => {
    expect(() => buildKeyRing([ec.pem], 'nope')).toThrow(ConfigError);
    expect(() => buildKeyRing([ec.pem], 'nope')).toThrow(/^active_key_id: no signing key has kid "nope"/);
    expect(() => buildKeyRing([ec.pem, JSON.stringify(ec.jwk)], undefined)).toThrow(
      /^signing_keys\[1\]: kid .* is used by another key/,
    );
    expect(() => buildKeyRing([ec.pem, 'junk'], undefined)).toThrow(/^signing_keys\[1\]: expected a PEM/);
    expect(() => buildKeyRing([], undefined)).toThrow(/^signing_keys: at least one/);
  });
});
