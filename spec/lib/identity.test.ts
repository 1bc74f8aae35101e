import {
  fitClaims,
  fitStringList,
  IDENTITY_LIMITS,
  IDENTITY_SHARED_KEY,
  identityConsumer,
  identityRecord,
  mayReplaceIdentity,
  parseIdentity,
  publishAnonymousIdentity,
  publishIdentity,
  readIdentity,
} from '../../plugins/lib/identity';
import { fakeKong } from './fake-kong';

const jwtIdentity = {
  authenticated: true,
  authenticatedBy: 'bulwark-jwt',
  method: 'jwt' as const,
  consumer: { id: '8d1a9a5e-2f6c-4c1e-9d7c-1a2b3c4d5e6f', username: 'alice' },
  credential: { kind: 'jwt' as const, id: 'c0ffee00-0000-8000-8000-000000000000' },
  subject: 'alice',
  issuer: 'https://issuer.example',
  scopes: ['orders:read'],
  groups: ['staff'],
  claims: { tenant: 'acme', orgs: ['acme', 'globex'] },
};

describe('identity contract', () => {
  it('round-trips through kong.ctx.shared with one set and one get', async () => {
    const store = new Map<string, unknown>();
    const calls: string[] = [];
    const kong = {
      ctx: {
        shared: {
          set: async (k: string, v: unknown) =>
            void (calls.push(`set ${k}`), store.set(k, JSON.parse(JSON.stringify(v)))),
          get: async (k: string) => (calls.push(`get ${k}`), store.get(k)),
        },
      },
    };
    await publishIdentity(kong as never, jwtIdentity);
    expect(await readIdentity(kong as never)).toEqual({ v: 1, ...jwtIdentity });
    expect(calls).toEqual([`set ${IDENTITY_SHARED_KEY}`, `get ${IDENTITY_SHARED_KEY}`]);
  });

  it('reads an empty Lua table as no entries, whether it came back as a map or an array', () => {
    const base = { v: 1, authenticated: true, authenticatedBy: 'bulwark-api-key', method: 'api-key' };
    expect(parseIdentity({ ...base, scopes: {}, groups: [], claims: [] })).toEqual({
      ...base,
      scopes: [],
      groups: [],
      claims: {},
    });
  });

  it('treats missing, foreign-version, malformed and over-large records as no identity', () => {
    const ok = identityRecord(jwtIdentity);
    expect(parseIdentity(undefined)).toBeUndefined();
    expect(parseIdentity('alice')).toBeUndefined();
    expect(parseIdentity({ ...ok, v: 2 })).toBeUndefined();
    expect(parseIdentity({ ...ok, authenticated: 'yes' })).toBeUndefined();
    expect(parseIdentity({ ...ok, method: 'password' })).toBeUndefined();
    expect(parseIdentity({ ...ok, authenticated: false })).toBeUndefined(); // anonymous must say method "anonymous"
    expect(parseIdentity({ ...ok, scopes: [1] })).toBeUndefined();
    expect(parseIdentity({ ...ok, scopes: Array(IDENTITY_LIMITS.listEntries + 1).fill('s') })).toBeUndefined();
    expect(parseIdentity({ ...ok, subject: 'x'.repeat(IDENTITY_LIMITS.stringLength + 1) })).toBeUndefined();
    expect(parseIdentity({ ...ok, claims: { big: 'x'.repeat(IDENTITY_LIMITS.claimValueLength) } })).toBeUndefined();
    expect(parseIdentity({ ...ok, credential: { kind: 'cookie', id: 'x' } })).toBeUndefined();
  });

  it('refuses to build a record out of bounds (a plugin bug surfaces at once)', () => {
    expect(() => identityRecord({ ...jwtIdentity, scopes: [''] })).toThrow(/out of bounds/);
  });

  it('never lets an anonymous identity replace an authenticated one', () => {
    const authed = identityRecord(jwtIdentity);
    const anon = identityRecord({
      authenticated: false,
      authenticatedBy: 'bulwark-api-key',
      method: 'anonymous',
      consumer: { id: 'anon' },
    });
    expect(mayReplaceIdentity(authed, anon)).toBe(false);
    expect(mayReplaceIdentity(anon, authed)).toBe(true);
    expect(mayReplaceIdentity(undefined, anon)).toBe(true);
    expect(mayReplaceIdentity(authed, authed)).toBe(true);
  });

  it('publishAnonymousIdentity: one read, and a write only when no authenticated record is there', async () => {
    const authed = identityRecord(jwtIdentity);
    const over = fakeKong({ 'ctx.shared.get': () => authed });
    expect(
      await publishAnonymousIdentity(over.kong, { authenticatedBy: 'bulwark-api-key', consumer: { id: 'anon' } }),
    ).toBeUndefined();
    expect(over.names()).toEqual(['ctx.shared.get']);
    const fresh = fakeKong();
    const written = await publishAnonymousIdentity(fresh.kong, {
      authenticatedBy: 'bulwark-api-key',
      consumer: { id: 'anon' },
    });
    expect(written).toMatchObject({ authenticated: false, method: 'anonymous', consumer: { id: 'anon' } });
    expect(fresh.calls).toEqual([
      ['ctx.shared.get', [IDENTITY_SHARED_KEY]],
      ['ctx.shared.set', [IDENTITY_SHARED_KEY, written]],
    ]);
  });

  it('fit* keep what fits the bounds and drop the rest (token data never makes a publisher throw)', () => {
    const long = 'x'.repeat(IDENTITY_LIMITS.stringLength + 1);
    expect(fitStringList(['a', '', long, 'a', 3, 'b'])).toEqual(['a', 'b']);
    expect(fitStringList(Array.from({ length: 300 }, (_, i) => `g${i}`))).toHaveLength(IDENTITY_LIMITS.listEntries);
    expect(fitClaims({ ok: { n: 1 }, big: 'y'.repeat(IDENTITY_LIMITS.claimValueLength), none: undefined })).toEqual({
      ok: { n: 1 },
    });
    expect(identityConsumer({ id: 'c', username: null })).toEqual({ id: 'c' });
    expect(identityConsumer({ id: 'c', username: long })).toEqual({ id: 'c' });
    expect(identityConsumer(undefined)).toBeUndefined();
    expect(() => identityRecord({ ...jwtIdentity, groups: fitStringList(['ok', long]) })).not.toThrow();
  });
});
