import type * as JoseTypes from 'jose';
import { buildClaims, signAccessToken } from '../../../../plugins/bulwark-oauth2/access-token';
import { buildKeyRing } from '../../../../plugins/bulwark-oauth2/keys';
import { ecKey, edKey, nodeRequire, rsaKey } from '../fixtures';

jest.mock('jose', () => require('../fixtures').nodeRequire('jose'));
const jose = nodeRequire('jose') as typeof JoseTypes;

const input = {
  issuer: 'https://as.example',
  clientId: 'c1',
  audience: ['https://rs.example'],
  scopes: ['a', 'b'],
  ttlSeconds: 300,
  nowMs: 1_700_000_000_500,
};

describe('RFC 9068 claims', () => {
  test('iss, sub = client_id, client_id, aud (string when single), iat (floored), exp = iat + ttl, jti, scope', () => {
    expect(buildClaims({ ...input, jti: 'j' })).toEqual({
      iss: 'https://as.example',
      sub: 'c1',
      client_id: 'c1',
      aud: 'https://rs.example',
      iat: 1_700_000_000,
      exp: 1_700_000_300,
      jti: 'j',
      scope: 'a b',
    });
  });

  test('several audiences → an array; no scopes → no scope claim', () => {
    const c = buildClaims({ ...input, audience: ['x', 'y'], scopes: [] });
    expect(c.aud).toEqual(['x', 'y']);
    expect(c).not.toHaveProperty('scope');
  });

  test('jti is random, 128 bits', () => {
    const a = buildClaims(input).jti;
    const b = buildClaims(input).jti;
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64url')).toHaveLength(16);
  });
});

describe('signing', () => {
  test.each([
    ['RS256', () => rsaKey().pem],
    ['ES256', () => ecKey().pem],
    ['EdDSA', () => edKey().pem],
  ])('%s token verifies with jose against the JWKS, header typ at+jwt and kid', async (alg, pem) => {
    const ring = buildKeyRing([pem()], undefined);
    const claims = buildClaims({ ...input, nowMs: Date.now() });
    const token = await signAccessToken(claims, ring.active);
    const { payload, protectedHeader } = await jose.jwtVerify(
      token,
      jose.createLocalJWKSet(JSON.parse(ring.jwksJson)),
      {
        issuer: input.issuer,
        audience: 'https://rs.example',
        typ: 'at+jwt',
        algorithms: [alg],
      },
    );
    expect(protectedHeader).toEqual({ alg, kid: ring.active.kid, typ: 'at+jwt' });
    expect(payload).toEqual({ ...claims });
  });
});
