// Token extraction (token-source.ts), upstream changes (upstream.ts) and the RFC 6750 challenge.
import { generateKeyPairSync } from 'node:crypto';
import { bearerChallenge } from '../../../../plugins/bulwark-jwt/challenge';
import { parseJwtConfig } from '../../../../plugins/bulwark-jwt/config';
import { cookieHeaderWithout, extractToken, parseCookies } from '../../../../plugins/bulwark-jwt/token-source';
import { claimHeaderValue, upstreamChanges } from '../../../../plugins/bulwark-jwt/upstream';

const ALL = { bearer: true, headers: ['x-token'], cookies: ['at'], queryParams: ['access_token'] };
const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

describe('extractToken', () => {
  it.each([
    [
      { authorization: ['Bearer abc.def.ghi'] },
      undefined,
      { kind: 'found', token: 'abc.def.ghi', location: { type: 'bearer' } },
    ],
    [{ authorization: ['bearer   abc '] }, undefined, { kind: 'found', token: 'abc', location: { type: 'bearer' } }],
    [{ authorization: ['Basic dXNlcjpwdw=='] }, undefined, { kind: 'none' }],
    [{ authorization: ['Bearer'] }, undefined, { kind: 'invalid', detail: 'malformed Bearer credentials' }],
    [{ authorization: ['Bearer a b'] }, undefined, { kind: 'invalid', detail: 'malformed Bearer credentials' }],
    [
      { authorization: ['Bearer a', 'Bearer b'] },
      undefined,
      { kind: 'invalid', detail: 'more than one Authorization header' },
    ],
    [
      { 'x-token': ['Bearer t1'] },
      undefined,
      { kind: 'found', token: 't1', location: { type: 'header', name: 'x-token' } },
    ],
    [{ 'x-token': ['t1'] }, undefined, { kind: 'found', token: 't1', location: { type: 'header', name: 'x-token' } }],
    [
      { cookie: ['a=1; at=t2', 'b=2'] },
      undefined,
      { kind: 'found', token: 't2', location: { type: 'cookie', name: 'at' } },
    ],
    [{ cookie: ['at=t2; at=t3'] }, undefined, { kind: 'invalid', detail: 'cookie at sent more than once' }],
    [{}, { access_token: ['t4'] }, { kind: 'found', token: 't4', location: { type: 'query', name: 'access_token' } }],
    [
      {},
      { access_token: ['t4', 't5'] },
      { kind: 'invalid', detail: 'query parameter access_token given more than once' },
    ],
    [{}, { access_token: [true] }, { kind: 'none' }],
    [
      { authorization: ['Bearer a'] },
      { access_token: ['b'] },
      { kind: 'invalid', detail: 'token sent in more than one place (authorization header, query access_token)' },
    ],
    [{}, {}, { kind: 'none' }],
  ])('%j %j', (headers, query, expected) => {
    expect(extractToken(headers as Record<string, string[]>, query as never, ALL)).toEqual(expected);
  });

  it('ignores sources that are not configured', () => {
    const only = { bearer: false, headers: [], cookies: ['at'], queryParams: [] };
    expect(
      extractToken({ authorization: ['Bearer a'], cookie: ['at=c'] }, { access_token: ['q'] }, only),
    ).toMatchObject({ token: 'c' });
  });
});

describe('cookies', () => {
  it('parses all Cookie headers and strips quotes', () => {
    expect(parseCookies({ cookie: ['a=1; b="two"', 'c=3;bad;=x'] })).toEqual([
      ['a', '1'],
      ['b', 'two'],
      ['c', '3'],
    ]);
  });
  it('rebuilds the header without the token cookie', () => {
    expect(cookieHeaderWithout({ cookie: ['a=1; at=t; b=2'] }, 'at')).toBe('a=1; b=2');
    expect(cookieHeaderWithout({ cookie: ['at=t'] }, 'at')).toBeUndefined();
  });
});

describe('claimHeaderValue', () => {
  it.each([
    ['alice', 'alice'],
    [42, '42'],
    [true, 'true'],
    [['a', 'b'], 'a b'],
    [{ tenant: 't' }, '{"tenant":"t"}'],
    ['line\r\nX-Injected: 1', undefined],
    ['', undefined],
    [null, undefined],
    ['x'.repeat(5000), undefined],
  ])('%j → %j', (value, expected) => {
    expect(claimHeaderValue(value)).toBe(expected);
  });
});

describe('upstreamChanges', () => {
  const conf = (extra: object = {}) =>
    parseJwtConfig({
      issuers: [{ issuer: 'i', keys: [PEM], audiences: ['a'] }],
      forward_claims: { sub: 'X-Sub', email: 'X-Email' },
      token_sources: { cookies: ['at'], query_params: ['access_token'] },
      ...extra,
    });

  it('sets present claims in one batch and clears spoofed headers of absent ones', () => {
    expect(upstreamChanges(conf(), { sub: 'alice' }, { 'x-email': ['forged@evil'] }, { type: 'bearer' })).toEqual({
      set: { 'X-Sub': 'alice' },
      clear: ['x-email'],
      clearQueryArg: undefined,
    });
  });

  it('clears every other spelling an upstream folds to a forwarded name (case, _ for -, repeats)', () => {
    const inbound = {
      x_sub: ['admin'],
      'x-sub': ['root', 'admin'],
      'x_e-mail': ['a@evil'],
      x_email: ['b@evil'],
      'x-other': ['kept'],
    };
    expect(upstreamChanges(conf(), { sub: 'alice' }, inbound, { type: 'bearer' })).toEqual({
      set: { 'X-Sub': 'alice' }, // replaces both x-sub lines
      clear: ['x_sub', 'x_email'],
      clearQueryArg: undefined,
    });
  });

  it('does not clear what is not there (no extra RPC)', () => {
    expect(upstreamChanges(conf(), { sub: 'alice' }, {}, { type: 'bearer' }).clear).toEqual([]);
  });

  it('removes the token: always from the query, from headers and cookies with hide_credentials', () => {
    expect(upstreamChanges(conf(), {}, {}, { type: 'query', name: 'access_token' }).clearQueryArg).toBe('access_token');
    expect(upstreamChanges(conf(), {}, {}, { type: 'bearer' }).clear).toEqual([]);
    const hide = conf({ hide_credentials: true });
    expect(upstreamChanges(hide, {}, {}, { type: 'bearer' }).clear).toEqual(['Authorization']);
    expect(upstreamChanges(hide, {}, { cookie: ['x=1; at=t'] }, { type: 'cookie', name: 'at' }).set).toEqual({
      Cookie: 'x=1',
    });
    expect(upstreamChanges(hide, {}, { cookie: ['at=t'] }, { type: 'cookie', name: 'at' }).clear).toEqual(['Cookie']);
  });
});

describe('bearerChallenge', () => {
  it('formats RFC 6750 §3 challenges', () => {
    expect(bearerChallenge({ realm: 'api' })).toBe('Bearer realm="api"');
    expect(bearerChallenge({ realm: 'api', error: 'insufficient_scope', description: 'd', scope: 'a b' })).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="d", scope="a b"',
    );
  });
});
