// The verification pipeline with static keys (no network): issuer selection, algorithm allow-list, key
// binding, claims, scopes, and the verified-token cache.
import { generateKeyPairSync } from 'node:crypto';
import { parseJwtConfig } from '../../../../plugins/bulwark-jwt/config';
import { verifyToken } from '../../../../plugins/bulwark-jwt/verifier';
import { jose } from '../../../../plugins/lib/jose';
import { b64url, claimsFor } from '../../../fixtures/jwt/idp';
import { rocaPublicJwk } from '../../../fixtures/roca';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const RSA_PEM = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const EC_JWK = JSON.stringify({ ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1' });
const SECRET = 's'.repeat(32);

const conf = (extra: Record<string, unknown> = {}) =>
  parseJwtConfig({
    issuers: [
      { issuer: 'rs', keys: [RSA_PEM], algorithms: ['RS256', 'PS256'], audiences: ['api'] },
      { issuer: 'ec', keys: [EC_JWK], algorithms: ['ES256'], audiences: ['api', 'other'] },
      { issuer: 'hs', secrets: [SECRET], algorithms: ['HS256'], audience_required: false },
    ],
    ...extra,
  });

const sign = (alg: string, key: unknown, claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  new (jose().SignJWT)(claims as never).setProtectedHeader({ alg, ...header } as never).sign(key as never);
const rsaKey = () => jose().importPKCS8(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');

describe('config: a weak static RSA key fails the instance start, naming the field', () => {
  it.each([
    [
      'e = 1',
      () => JSON.stringify({ ...rsa.publicKey.export({ format: 'jwk' }), e: 'AQ' }),
      'issuers[1].keys[0]: RSA public exponent 1 is below 3',
    ],
    [
      'a ROCA modulus',
      () => JSON.stringify(rocaPublicJwk()),
      'issuers[1].keys[0]: RSA modulus has the ROCA fingerprint',
    ],
  ])('%s', (_name, key, message) => {
    expect(() =>
      parseJwtConfig({
        issuers: [
          { issuer: 'ok', keys: [RSA_PEM], audiences: ['api'] },
          { issuer: 'weak', keys: [key()], audiences: ['api'] },
        ],
      }),
    ).toThrow(message);
  });
});

describe('verifyToken', () => {
  it('accepts each issuer with its own keys and algorithms', async () => {
    const c = conf();
    expect(await verifyToken(await sign('RS256', rsa.privateKey, claimsFor('rs', 'api')), c)).toMatchObject({
      ok: true,
      cached: false,
    });
    expect(await verifyToken(await sign('PS256', rsa.privateKey, claimsFor('rs', 'api')), c)).toMatchObject({
      ok: true,
    });
    expect(
      await verifyToken(await sign('ES256', ec.privateKey, claimsFor('ec', 'other'), { kid: 'ec-1' }), c),
    ).toMatchObject({ ok: true });
    expect(
      await verifyToken(
        await sign('HS256', new TextEncoder().encode(SECRET), claimsFor('hs', 'x', { aud: undefined })),
        c,
      ),
    ).toMatchObject({ ok: true });
  });

  it.each([
    [
      'an algorithm outside the issuer allow-list',
      () => sign('RS384', rsa.privateKey, claimsFor('rs', 'api')),
      'alg_not_allowed',
    ],
    [
      'an ES256 token claiming the RSA issuer',
      () => sign('ES256', ec.privateKey, claimsFor('rs', 'api')),
      'alg_not_allowed',
    ],
    [
      'the EC issuer signed by the RSA key',
      () => sign('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, claimsFor('ec', 'api')),
      'signature_invalid',
    ],
    [
      'HS256 signed with the RSA public PEM as secret',
      () => sign('HS256', new TextEncoder().encode(RSA_PEM), claimsFor('hs', 'api')),
      'signature_invalid',
    ],
    ['an unknown issuer', () => sign('RS256', rsa.privateKey, claimsFor('zz', 'api')), 'unknown_issuer'],
    [
      'a non-string issuer',
      () => sign('RS256', rsa.privateKey, claimsFor('rs', 'api', { iss: ['rs'] })),
      'missing_issuer',
    ],
    ['a wrong audience', () => sign('RS256', rsa.privateKey, claimsFor('rs', 'web')), 'audience_mismatch'],
    [
      'an audience of another issuer',
      () => sign('RS256', rsa.privateKey, claimsFor('rs', 'other')),
      'audience_mismatch',
    ],
    ['expired', () => sign('RS256', rsa.privateKey, claimsFor('rs', 'api', { exp: 1000 })), 'expired'],
    ['a string exp', () => sign('RS256', rsa.privateKey, claimsFor('rs', 'api', { exp: '9999999999' })), 'claim_type'],
  ])('rejects %s', async (_name, make, reason) => {
    const v = await verifyToken(await make(), conf());
    expect(v).toMatchObject({ ok: false, rejection: { status: 401, error: 'invalid_token', reason } });
  });

  it('rejects with 403 insufficient_scope after a valid signature', async () => {
    const c = conf({ scopes: { required: ['read', 'write'], mode: 'all' } });
    const v = await verifyToken(await sign('RS256', rsa.privateKey, claimsFor('rs', 'api', { scope: 'read' })), c);
    expect(v).toMatchObject({
      ok: false,
      rejection: { status: 403, error: 'insufficient_scope', scope: 'read write', detail: 'missing scopes ["write"]' },
    });
  });

  describe('verified-token cache', () => {
    it('a repeated token is served from the cache', async () => {
      const c = conf();
      const t = await sign('RS256', rsa.privateKey, claimsFor('rs', 'api'));
      expect(await verifyToken(t, c)).toMatchObject({ ok: true, cached: false });
      expect(await verifyToken(t, c)).toMatchObject({ ok: true, cached: true });
      expect(c.tokenCache.size).toBe(1);
    });

    it('claims are re-checked on a hit: a cached token expires with its exp', async () => {
      const c = conf({ leeway: 0 });
      const now = Date.now();
      const exp = Math.floor(now / 1000) + 100;
      const t = await sign('RS256', rsa.privateKey, claimsFor('rs', 'api', { exp }));
      expect(await verifyToken(t, c, now)).toMatchObject({ ok: true, cached: false });
      expect(await verifyToken(t, c, exp * 1000 + 1)).toMatchObject({ ok: false, rejection: { reason: 'expired' } });
    });

    it('a token whose nbf is in the future is not cached as valid', async () => {
      const c = conf({ leeway: 0 });
      const t = await sign(
        'RS256',
        rsa.privateKey,
        claimsFor('rs', 'api', { nbf: Math.floor(Date.now() / 1000) + 50 }),
      );
      expect(await verifyToken(t, c)).toMatchObject({ ok: false, rejection: { reason: 'not_yet_valid' } });
      expect(c.tokenCache.size).toBe(0);
    });

    it('failed verifications are never cached; the cache is bounded', async () => {
      const c = conf({ token_cache: { max_entries: 2 } });
      for (let i = 0; i < 5; i++)
        await verifyToken(await sign('RS256', rsa.privateKey, claimsFor('rs', 'api', { jti: String(i) })), c);
      expect(c.tokenCache.size).toBe(2);
      const bad = (await sign('RS256', rsa.privateKey, claimsFor('rs', 'api'))).slice(0, -3);
      await verifyToken(bad, c);
      await verifyToken(bad, c);
      expect(c.tokenCache.size).toBe(2);
    });

    it('max_entries 0 disables the cache', async () => {
      const c = conf({ token_cache: { max_entries: 0 } });
      const t = await sign('RS256', rsa.privateKey, claimsFor('rs', 'api'));
      await verifyToken(t, c);
      expect(await verifyToken(t, c)).toMatchObject({ ok: true, cached: false });
    });

    it('a scope failure is still reported for a cached token', async () => {
      const c = conf({ scopes: { required: ['admin'] } });
      const t = await sign('RS256', rsa.privateKey, claimsFor('rs', 'api', { scope: 'read' }));
      expect(await verifyToken(t, c)).toMatchObject({ ok: false, rejection: { status: 403 } });
      expect(await verifyToken(t, c)).toMatchObject({ ok: false, rejection: { status: 403 } });
    });
  });

  it('a duplicate claim in a validly signed token is refused', async () => {
    const text = JSON.stringify(claimsFor('rs', 'api')).replace(/}$/, ',"iss":"ec"}');
    const t = await new (jose().CompactSign)(new TextEncoder().encode(text))
      .setProtectedHeader({ alg: 'RS256' })
      .sign(await rsaKey());
    expect(await verifyToken(t, conf())).toMatchObject({ ok: false, rejection: { reason: 'duplicate_member' } });
  });

  it('an unsigned token is refused before any key lookup', async () => {
    const t = `${b64url({ alg: 'none' })}.${b64url(claimsFor('rs', 'api'))}.`;
    expect(await verifyToken(t, conf())).toMatchObject({ ok: false, rejection: { reason: 'alg_none' } });
  });
});
