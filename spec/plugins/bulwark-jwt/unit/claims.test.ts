import {
  checkAudience,
  checkClaims,
  checkTimes,
  grantedScopes,
  missingScopes,
  normalizeTyp,
  type ClaimsPolicy,
} from '../../../../plugins/bulwark-jwt/claims';

const NOW = 1_700_000_000;
const time = { leewaySec: 30, requireExp: true, maxAgeSec: undefined };
const r = (f: { reason: string } | undefined) => f?.reason ?? 'ok';

describe('checkTimes', () => {
  it.each([
    [{ exp: NOW + 1 }, time, 'ok'],
    [{ exp: NOW - 29 }, time, 'ok'], // within leeway
    [{ exp: NOW - 30 }, time, 'expired'],
    [{}, time, 'missing_exp'],
    [{}, { ...time, requireExp: false }, 'ok'],
    [{ exp: NOW + 100, nbf: NOW + 30 }, time, 'ok'],
    [{ exp: NOW + 100, nbf: NOW + 31 }, time, 'not_yet_valid'],
    [{ exp: NOW + 100, iat: NOW + 31 }, time, 'iat_in_future'],
    [{ exp: NOW + 100, iat: NOW - 100 }, { ...time, maxAgeSec: 60 }, 'too_old'],
    [{ exp: NOW + 100, iat: NOW - 90 }, { ...time, maxAgeSec: 60 }, 'ok'],
    [{ exp: NOW + 100 }, { ...time, maxAgeSec: 60 }, 'missing_iat'],
    [{ exp: String(NOW + 100) }, time, 'claim_type'],
    [{ exp: NOW + 100, nbf: true }, time, 'claim_type'],
    [{ exp: Infinity }, time, 'claim_type'], // not a finite NumericDate
  ])('%j %j → %s', (claims, policy, expected) => {
    expect(r(checkTimes(claims as Record<string, unknown>, policy, NOW))).toBe(expected);
  });
});

describe('checkAudience', () => {
  const policy = { audiences: ['api', 'web'], audienceRequired: true };
  it.each([
    [{ aud: 'api' }, policy, 'ok'],
    [{ aud: ['x', 'web'] }, policy, 'ok'],
    [{ aud: 'x' }, policy, 'audience_mismatch'],
    [{ aud: [] }, policy, 'claim_type'],
    [{ aud: [1] }, policy, 'claim_type'],
    [{}, policy, 'missing_audience'],
    [{}, { audiences: ['api'], audienceRequired: false }, 'ok'],
    [{ aud: 'x' }, { audiences: ['api'], audienceRequired: false }, 'audience_mismatch'],
    // RFC 7519 §4.1.3: a present aud is checked even when not required; no audiences configured → no aud names us.
    [{ aud: 'x' }, { audiences: [], audienceRequired: false }, 'audience_mismatch'],
    [{}, { audiences: [], audienceRequired: false }, 'ok'],
  ])('%j %j → %s', (claims, p, expected) => {
    expect(r(checkAudience(claims, p))).toBe(expected);
  });
});

describe('checkClaims', () => {
  const policy: ClaimsPolicy = {
    ...time,
    requiredTyp: 'at+jwt',
    requiredClaims: ['tenant'],
    claimValues: { tenant: ['t1'], roles: ['admin'] },
  };
  const aud = { audiences: ['api'], audienceRequired: true };
  const base = { exp: NOW + 10, aud: 'api', tenant: 't1', roles: ['user', 'admin'] };
  it.each([
    [{ typ: 'at+jwt' }, base, 'ok'],
    [{ typ: 'application/AT+JWT' }, base, 'ok'],
    [{ typ: 'JWT' }, base, 'typ_mismatch'],
    [{}, base, 'typ_mismatch'],
    [{ typ: 'at+jwt' }, { ...base, tenant: undefined }, 'missing_claim'],
    [{ typ: 'at+jwt' }, { ...base, tenant: 't2' }, 'claim_value_mismatch'],
    [{ typ: 'at+jwt' }, { ...base, roles: ['user'] }, 'claim_value_mismatch'],
    [{ typ: 'at+jwt' }, { ...base, roles: 'admin' }, 'ok'],
    [{ typ: 'at+jwt' }, { ...base, roles: { admin: true } }, 'claim_value_mismatch'],
  ])('header %j claims %j → %s', (header, claims, expected) => {
    expect(r(checkClaims(header, claims as Record<string, unknown>, policy, aud, NOW))).toBe(expected);
  });

  it('checks time before audience before typ', () => {
    expect(r(checkClaims({}, { exp: NOW - 100, aud: 'x' }, policy, aud, NOW))).toBe('expired');
    expect(r(checkClaims({}, { exp: NOW + 100, aud: 'x' }, policy, aud, NOW))).toBe('audience_mismatch');
  });

  it('normalizeTyp drops the application/ prefix and case', () => {
    expect(normalizeTyp('Application/At+JWT')).toBe('at+jwt');
  });
});

describe('scopes', () => {
  it('reads a space-separated scope string and an scp array', () => {
    expect([...grantedScopes({ scope: 'a  b', scp: ['c', 1, ''] }, ['scope', 'scp'])]).toEqual(['a', 'b', 'c']);
    expect([...grantedScopes({ scope: 'a' }, ['scp'])]).toEqual([]);
  });
  it.each([
    [{ scope: 'read write' }, 'all', undefined],
    [{ scope: 'read' }, 'all', ['write']],
    [{ scp: ['write'] }, 'any', undefined],
    [{ scope: 'admin' }, 'any', ['read', 'write']],
    [{}, 'all', ['read', 'write']],
    [{ scope: 'read-write' }, 'any', ['read', 'write']], // no partial matches
  ])('%j (%s) → missing %j', (claims, mode, expected) => {
    expect(
      missingScopes(claims, { required: ['read', 'write'], mode: mode as 'any' | 'all', claims: ['scope', 'scp'] }),
    ).toEqual(expected);
  });
  it('no required scopes: nothing is missing', () => {
    expect(missingScopes({}, { required: [], mode: 'all', claims: ['scope'] })).toBeUndefined();
  });
});
