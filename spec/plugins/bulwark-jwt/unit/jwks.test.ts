// RemoteKeySet cache rules with a scripted fetcher and a manual clock (the real HTTP path is covered by
// spec/lib/outbound-http.test.ts and the integration suite).
import { generateKeyPairSync } from 'node:crypto';
import {
  discoveryUrl,
  RemoteKeySet,
  selectKeys,
  type Fetcher,
  type JwksSettings,
} from '../../../../plugins/bulwark-jwt/jwks';
import { importJwk } from '../../../../plugins/bulwark-jwt/keys';
import type { OutboundFetchResult } from '../../../../plugins/lib/outbound-http';
import { rocaPublicJwk } from '../../../fixtures/roca';

const rsaJwk = (kid: string) => ({
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }),
  kid,
  use: 'sig',
});
const ecJwk = (kid: string) => ({
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
  kid,
});
const K1 = rsaJwk('k1');
const K2 = rsaJwk('k2');
const EC = ecJwk('e1');

const SETTINGS: JwksSettings = {
  cacheTtlMs: 60_000,
  maxStaleMs: 600_000,
  cooldownMs: 10_000,
  timeoutMs: 200,
  maxBytes: 100_000,
};

function ok(body: unknown, url = 'x'): OutboundFetchResult {
  return { status: 200, url, contentType: 'application/json', body: Buffer.from(JSON.stringify(body)) };
}

function setup(settings: JwksSettings = SETTINGS, jwksUrl: string | null = 'https://idp/jwks') {
  let now = 1_000_000;
  const calls: string[] = [];
  let respond: (url: string) => Promise<OutboundFetchResult> = async () => ok({ keys: [K1] });
  const fetcher: Fetcher = (url) => {
    calls.push(url);
    return respond(url);
  };
  const set = new RemoteKeySet(
    { issuer: 'https://idp', jwksUrl: jwksUrl ?? undefined, allowHttp: false, extraCaCertificates: [] },
    settings,
    fetcher,
    () => now,
  );
  return {
    set,
    calls,
    advance: (ms: number) => {
      now += ms;
    },
    respond: (f: (url: string) => Promise<OutboundFetchResult>) => {
      respond = f;
    },
  };
}

const kids = (r: Awaited<ReturnType<RemoteKeySet['lookup']>>) => (r.ok ? r.keys.map((k) => k.kid) : r.reason);

describe('RemoteKeySet', () => {
  it('fetches on first use, then serves from the cache', async () => {
    const t = setup();
    expect(kids(await t.set.lookup('k1', 'RS256'))).toEqual(['k1']);
    expect(kids(await t.set.lookup('k1', 'RS256'))).toEqual(['k1']);
    expect(t.calls).toEqual(['https://idp/jwks']);
  });

  it('concurrent first requests share one fetch', async () => {
    const t = setup();
    const results = await Promise.all([1, 2, 3, 4].map(() => t.set.lookup('k1', 'RS256')));
    expect(results.map(kids)).toEqual([['k1'], ['k1'], ['k1'], ['k1']]);
    expect(t.calls).toHaveLength(1);
  });

  it('an unknown kid triggers one refresh, then no more within the cool-down', async () => {
    const t = setup();
    await t.set.lookup('k1', 'RS256');
    t.advance(10_000);
    expect(kids(await t.set.lookup('forged-1', 'RS256'))).toBe('unknown_kid');
    expect(t.calls).toHaveLength(2);
    for (let i = 0; i < 20; i++) expect(kids(await t.set.lookup(`forged-${i}`, 'RS256'))).toBe('unknown_kid');
    expect(t.calls).toHaveLength(2);
    t.advance(10_000);
    await t.set.lookup('forged-x', 'RS256');
    expect(t.calls).toHaveLength(3);
  });

  it('picks up a rotated key when its kid first appears', async () => {
    const t = setup();
    await t.set.lookup('k1', 'RS256');
    t.respond(async () => ok({ keys: [K2] }));
    t.advance(10_000);
    expect(kids(await t.set.lookup('k2', 'RS256'))).toEqual(['k2']);
    expect(kids(await t.set.lookup('k1', 'RS256'))).toBe('unknown_kid');
  });

  it('refreshes in the background after cache_ttl while serving the cached keys', async () => {
    const t = setup();
    await t.set.lookup('k1', 'RS256');
    let release!: () => void;
    t.respond(() => new Promise((r) => (release = () => r(ok({ keys: [K1, K2] })))));
    t.advance(60_000);
    expect(kids(await t.set.lookup('k1', 'RS256'))).toEqual(['k1']); // did not wait
    expect(t.calls).toHaveLength(2);
    release();
    await new Promise((r) => setImmediate(r));
    expect(kids(await t.set.lookup('k2', 'RS256'))).toEqual(['k2']);
  });

  it('keeps the keys through an outage until max_stale, then fails closed', async () => {
    const t = setup();
    await t.set.lookup('k1', 'RS256');
    t.respond(async () => ({ status: 503, url: 'x', contentType: undefined, body: Buffer.from('down') }));
    t.advance(300_000);
    expect(kids(await t.set.lookup('k1', 'RS256'))).toEqual(['k1']);
    await new Promise((r) => setImmediate(r));
    expect(t.set.lastError).toContain('JWKS answered HTTP 503');
    t.advance(300_001); // 600 001 ms after the last successful fetch
    const r = await t.set.lookup('k1', 'RS256');
    expect(r).toMatchObject({ ok: false, reason: 'jwks_unavailable' });
    expect(!r.ok && r.detail).toContain('HTTP 503');
  });

  it('with no keys and a failing IdP: rejects, and does not refetch within the cool-down', async () => {
    const t = setup();
    t.respond(async () => {
      throw new Error('connect ECONNREFUSED');
    });
    expect(await t.set.lookup('k1', 'RS256')).toMatchObject({ ok: false, reason: 'jwks_unavailable' });
    expect(await t.set.lookup('k1', 'RS256')).toMatchObject({ ok: false, reason: 'jwks_unavailable' });
    expect(t.calls).toHaveLength(1);
  });

  it('a fetch that never completes is waited for at most timeoutMs', async () => {
    const t = setup();
    t.respond(() => new Promise(() => undefined));
    const started = Date.now();
    expect(await t.set.lookup('k1', 'RS256')).toMatchObject({ ok: false, reason: 'jwks_unavailable' });
    expect(Date.now() - started).toBeLessThan(5000); // the timeout (200 ms) ended the wait, not jest's 30 s
  });

  it('skips symmetric, private, encryption and unsupported keys; fails when none is usable', async () => {
    const t = setup();
    t.respond(async () =>
      ok({
        keys: [
          { kty: 'oct', k: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0', kid: 'hs' },
          { ...K1, use: 'enc' },
          { kty: 'XYZ' },
          { ...EC, d: 'AAAA' },
          K2,
        ],
      }),
    );
    expect(kids(await t.set.lookup(undefined, 'RS256'))).toEqual(['k2']);
    const u = setup();
    u.respond(async () => ok({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'hs' }] }));
    const r = await u.set.lookup('hs', 'HS256');
    expect(r).toMatchObject({ ok: false, reason: 'jwks_unavailable' });
    expect(!r.ok && r.detail).toContain('no usable signature verification key');
  });

  it('drops a weak RSA key (e = 1, ROCA) and keeps the others; each drop is reported once, with kid and reason', async () => {
    const t = setup();
    const weak = { ...K1, kid: 'weak-e1', e: 'AQ' };
    const roca = { ...rocaPublicJwk(), kid: 'roca-1' };
    t.respond(async () => ok({ keys: [weak, K2, roca] }));
    expect(kids(await t.set.lookup('weak-e1', 'RS256'))).toBe('unknown_kid'); // a dropped key is not in the set
    expect(kids(await t.set.lookup('k2', 'RS256'))).toEqual(['k2']);
    expect(t.set.takeRefusals()).toEqual([
      {
        kid: 'weak-e1',
        index: 0,
        reason: 'RSA public exponent 1 is below 3 (e = 1 makes any "signature" verify)',
        jwks: 'https://idp/jwks',
      },
      {
        kid: 'roca-1',
        index: 2,
        reason: expect.stringContaining('ROCA fingerprint') as string,
        jwks: 'https://idp/jwks',
      },
    ]);
    expect(t.set.takeRefusals()).toEqual([]);
    // A refresh that still publishes the same weak keys reports nothing new; a new weak key is reported.
    t.advance(60_000);
    await t.set.refresh();
    expect(t.set.takeRefusals()).toEqual([]);
    t.respond(async () => ok({ keys: [weak, K2, { ...weak, kid: 'weak-2' }] }));
    t.advance(60_000);
    await t.set.refresh();
    expect(t.set.takeRefusals()).toEqual([
      { kid: 'weak-2', index: 2, reason: expect.stringContaining('below 3') as string, jwks: 'https://idp/jwks' },
    ]);
    // A JWKS with only weak keys: no usable key (fail closed), and the drop is still reported.
    const u = setup();
    u.respond(async () => ok({ keys: [weak] }));
    expect(await u.set.lookup('weak-e1', 'RS256')).toMatchObject({ ok: false, reason: 'jwks_unavailable' });
    expect(u.set.takeRefusals()).toMatchObject([
      { kid: 'weak-e1', reason: expect.stringContaining('below 3') as string },
    ]);
  });

  it('refuses a non-JSON or keyless document', async () => {
    const t = setup();
    t.respond(async () => ({ status: 200, url: 'x', contentType: 'text/html', body: Buffer.from('<html>') }));
    expect(await t.set.lookup('k1', 'RS256')).toMatchObject({ ok: false, reason: 'jwks_unavailable' });
    expect(t.set.lastError).toContain('JWKS is not JSON');
  });

  it('keeps the same key entry across refreshes (imported keys and cached tokens stay valid)', async () => {
    const t = setup({ ...SETTINGS, cacheTtlMs: 1000 });
    const first = await t.set.lookup('k1', 'RS256');
    t.respond(async () => ok({ keys: [K1, K2] }));
    t.advance(10_000);
    await t.set.lookup('k2', 'RS256');
    const again = await t.set.lookup('k1', 'RS256');
    expect(first.ok && again.ok && first.keys[0] === again.keys[0]).toBe(true);
    expect(first.ok && t.set.contains(first.keys[0]!)).toBe(true);
    t.respond(async () => ok({ keys: [K2] }));
    t.advance(10_000);
    await t.set.lookup('k3', 'RS256');
    expect(first.ok && t.set.contains(first.keys[0]!)).toBe(false);
  });

  describe('OIDC discovery', () => {
    it('reads jwks_uri from <issuer>/.well-known/openid-configuration', async () => {
      const t = setup(SETTINGS, null);
      t.respond(async (url) =>
        url.endsWith('openid-configuration')
          ? ok({ issuer: 'https://idp', jwks_uri: 'https://keys.idp/jwks' })
          : ok({ keys: [K1] }),
      );
      expect(kids(await t.set.lookup('k1', 'RS256'))).toEqual(['k1']);
      expect(t.calls).toEqual(['https://idp/.well-known/openid-configuration', 'https://keys.idp/jwks']);
    });

    it.each([
      [{ issuer: 'https://evil', jwks_uri: 'https://keys.idp/jwks' }, 'issuer "https://evil" is not "https://idp"'],
      [{ issuer: 'https://idp' }, 'no jwks_uri'],
      [{ issuer: 'https://idp', jwks_uri: 'http://keys.idp/jwks' }, 'http URLs are not allowed'],
    ])('refuses %j', async (doc, message) => {
      const t = setup(SETTINGS, null);
      t.respond(async () => ok(doc));
      expect(await t.set.lookup('k1', 'RS256')).toMatchObject({ ok: false, reason: 'jwks_unavailable' });
      expect(t.set.lastError).toContain(message);
    });

    it('builds the discovery URL without a double slash', () => {
      expect(discoveryUrl('https://idp/realms/x/')).toBe('https://idp/realms/x/.well-known/openid-configuration');
    });
  });
});

describe('selectKeys', () => {
  const keys = [
    importJwk(K1, 'a', false),
    importJwk(K2, 'b', false),
    importJwk(EC, 'c', false),
    importJwk({ ...rsaJwk('x'), kid: undefined }, 'd', false),
  ];
  it('by kid, of the algorithm type only', () => {
    expect(selectKeys(keys, 'k2', 'RS256').map((k) => k.label)).toEqual(['b']);
    expect(selectKeys(keys, 'e1', 'RS256').map((k) => k.label)).toEqual(['d']); // the kid-less RSA key only
    expect(selectKeys(keys, 'e1', 'ES256').map((k) => k.label)).toEqual(['c']);
    expect(selectKeys(keys, 'k1', 'HS256')).toEqual([]);
  });
  it('without kid: every fitting key, at most 3', () => {
    expect(selectKeys(keys, undefined, 'PS256').map((k) => k.label)).toEqual(['a', 'b', 'd']);
    expect(selectKeys(keys, undefined, 'EdDSA')).toEqual([]);
  });
});
