// The verifier kit's own rules: JWKS fetch and refresh (bounded), fail closed when keys cannot be had, the bounded
// replay cache, leeway and lifetime, unbound bodies, the middleware's body bound, and the package entry point.
import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { parseUpstreamTrustConfig } from '../../../../plugins/bulwark-upstream-trust/config';
import { signToken, type RequestBinding } from '../../../../plugins/bulwark-upstream-trust/sign';
import {
  createVerifier,
  MemoryReplayCache,
  type VerifierOptions,
} from '../../../../plugins/bulwark-upstream-trust/verifier';
import { edKey } from '../../bulwark-oauth2/fixtures';

const ISSUER = 'https://gw.example.com';
const NOW = 1_767_225_600_000;
const GET: RequestBinding = { method: 'GET', upstreamPath: '/a', query: '', host: 'svc:8080', body: undefined };

const keyA = edKey();
const keyB = edKey();
const confA = parseUpstreamTrustConfig({ issuer: ISSUER, signing_keys: [JSON.stringify({ ...keyA.jwk, kid: 'a' })] });
const confB = parseUpstreamTrustConfig({ issuer: ISSUER, signing_keys: [JSON.stringify({ ...keyB.jwk, kid: 'b' })] });
const publicKeys = (conf: typeof confA) => (JSON.parse(conf.keys.jwksJson) as { keys: Record<string, unknown>[] }).keys;

async function token(conf = confA, nowMs = NOW, binding: RequestBinding = GET): Promise<Record<string, string>> {
  return {
    host: 'svc:8080',
    'x-bulwark-upstream-token': await signToken(conf, { binding, identity: undefined, audience: 'svc', nowMs }),
  };
}

function verifier(extra: Partial<VerifierOptions> = {}) {
  return createVerifier({
    issuer: ISSUER,
    audience: 'svc',
    jwks: { keys: publicKeys(confA) },
    now: () => NOW,
    ...extra,
  });
}

describe('JWKS from a URL', () => {
  let server: http.Server;
  let url: string;
  let served: Record<string, unknown>[] = [];
  let fetches = 0;
  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('fetched once and cached; an unknown kid refetches only after the cooldown (bounded)', async () => {
    served = publicKeys(confA);
    fetches = 0;
    const bounded = verifier({ jwks: { url, cooldownMs: 60_000 } });
    expect((await bounded.verify({ method: 'GET', url: '/a', headers: await token() })).ok).toBe(true);
    expect((await bounded.verify({ method: 'GET', url: '/a', headers: await token() })).ok).toBe(true);
    expect(fetches).toBe(1);
    // Key b published, but the cooldown has not passed: no refetch, refused as unknown.
    served = [...publicKeys(confA), ...publicKeys(confB)];
    expect(await bounded.verify({ method: 'GET', url: '/a', headers: await token(confB) })).toMatchObject({
      ok: false,
      error: 'unknown_key',
      status: 401,
    });
    expect(await bounded.verify({ method: 'GET', url: '/a', headers: await token(confB) })).toMatchObject({
      ok: false,
      error: 'unknown_key',
    });
    expect(fetches).toBe(1);

    // Rotation with a zero cooldown: the unknown kid triggers one refetch and the new key verifies.
    served = publicKeys(confA);
    fetches = 0;
    const eager = verifier({ jwks: { url, cooldownMs: 0 } });
    expect((await eager.verify({ method: 'GET', url: '/a', headers: await token() })).ok).toBe(true);
    served = [...publicKeys(confA), ...publicKeys(confB)];
    expect((await eager.verify({ method: 'GET', url: '/a', headers: await token(confB) })).ok).toBe(true);
    expect(fetches).toBe(2);
  });

  test('an unreachable JWKS fails closed with jwks_unavailable (503)', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const v = verifier({ jwks: { url: `http://127.0.0.1:${port}/jwks`, timeoutMs: 1000 } });
    expect(await v.verify({ method: 'GET', url: '/a', headers: await token() })).toMatchObject({
      ok: false,
      error: 'jwks_unavailable',
      status: 503,
    });
  });

  test('pinned keys must be public', () => {
    expect(() => createVerifier({ issuer: ISSUER, audience: 'svc', jwks: { keys: [keyA.jwk] } })).toThrow(
      'public keys only',
    );
  });
});

describe('time, replay, body', () => {
  test('leeway: a token expired 4 s ago passes with the default 5 s, fails with 0', async () => {
    const headers = await token(confA, NOW - 34_000); // exp = now - 4 s
    expect((await verifier().verify({ method: 'GET', url: '/a', headers })).ok).toBe(true);
    expect(
      await verifier({ clockToleranceSeconds: 0 }).verify({
        method: 'GET',
        url: '/a',
        headers: await token(confA, NOW - 34_000),
      }),
    ).toMatchObject({ error: 'expired' });
  });

  test('the replay cache is bounded: full of live ids it refuses new tokens (503), and frees expired ones', async () => {
    let now = NOW;
    const v = verifier({ replayStore: new MemoryReplayCache(2), now: () => now });
    expect((await v.verify({ method: 'GET', url: '/a', headers: await token() })).ok).toBe(true);
    expect((await v.verify({ method: 'GET', url: '/a', headers: await token() })).ok).toBe(true);
    expect(await v.verify({ method: 'GET', url: '/a', headers: await token() })).toMatchObject({
      ok: false,
      error: 'replay_cache_full',
      status: 503,
    });
    now = NOW + 40_000; // the first two tokens (exp + leeway) are gone
    expect((await v.verify({ method: 'GET', url: '/a', headers: await token(confA, now) })).ok).toBe(true);
  });

  test('a token with body_unbound is refused unless the backend accepts unbound bodies', async () => {
    const headers = await token(confA, NOW, { ...GET, method: 'POST', body: 'unbound' });
    const req = { method: 'POST', url: '/a', headers, body: Buffer.from('big') };
    expect(await verifier().verify(req)).toMatchObject({ ok: false, error: 'body_unbound' });
    expect((await verifier({ allowUnboundBody: true }).verify(req)).ok).toBe(true);
  });

  test('two token headers are malformed, not "the first one wins"', async () => {
    const h = await token();
    const t = h['x-bulwark-upstream-token']!;
    expect(
      await verifier().verify({
        method: 'GET',
        url: '/a',
        headers: { host: 'svc:8080', 'x-bulwark-upstream-token': [t, t] },
      }),
    ).toMatchObject({ error: 'malformed_token' });
  });

  test('options are checked: no algorithm outside EdDSA/ES256, lifetime at most 60 s', () => {
    expect(() => verifier({ algorithms: ['RS256' as never] })).toThrow('not allowed');
    expect(() => verifier({ maxTokenLifetimeSeconds: 3600 })).toThrow('between 1 and 60');
  });
});

test('the package entry bulwark/upstream-trust-verifier loads without Express or Fastify (built dist)', () => {
  const root = path.join(__dirname, '..', '..', '..', '..');
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      "const v=require('bulwark/upstream-trust-verifier');console.log(JSON.stringify({fns:Object.keys(v).sort(),frameworks:Object.keys(require.cache).filter(k=>/node_modules[\\\\/](express|fastify)[\\\\/]/.test(k)).length}))",
    ],
    { cwd: root, encoding: 'utf8' },
  );
  const r = JSON.parse(out) as { fns: string[]; frameworks: number };
  expect(r.fns).toEqual(
    expect.arrayContaining([
      'createVerifier',
      'expressMiddleware',
      'fastifyPlugin',
      'verifyNodeRequest',
      'MemoryReplayCache',
    ]),
  );
  expect(r.frameworks).toBe(0);
});
