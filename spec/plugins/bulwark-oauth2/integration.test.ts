// bulwark-oauth2 through the Kong emulator with the real plugin server: tokens issued and verified with jose
// against the JWKS the same plugin serves, every error case, lockout, cache headers, RPC round trips.
import {
  startGateway,
  Gateway,
  echoed,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../../helpers/emulator';
import { hashSecret } from '../../../plugins/lib/secret-hash';
import { ecKey, edKey, nodeRequire, PRIVATE_JWK_MEMBERS, rsaKey } from './fixtures';
import type * as JoseTypes from 'jose';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

jest.mock('jose', () => require('./fixtures').nodeRequire('jose'));
const jose = nodeRequire('jose') as typeof JoseTypes;

const ISSUER = 'https://auth.example.com';
const SECRET = 'orders-service-secret-0123456789';
const OTHER_SECRET = 'billing-service-secret-0123456789';

type Req = Parameters<Gateway['kong']['request']>[0];
type Res = Awaited<ReturnType<Gateway['kong']['request']>>;

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

function json(res: Res): Record<string, unknown> {
  return JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
}

function expectNoStore(res: Res): void {
  expect(res.headers.first('cache-control')).toBe('no-store');
  expect(res.headers.first('pragma')).toBe('no-cache');
}

function expectOAuthError(res: Res, status: number, error: string): void {
  expect(res.status).toBe(status);
  expectNoStore(res);
  expect(res.headers.first('content-type')).toMatch(/^application\/json/);
  const body = json(res);
  expect(body.error).toBe(error);
  expect(typeof body.error_description).toBe('string');
  expect(res.report.upstreamRequest).toBeUndefined();
}

describe('bulwark-oauth2 integration (emulator + real plugin server)', () => {
  let gw: Gateway;
  const rsa = rsaKey();
  const rsaNext = rsaKey();
  const ec = ecKey('P-256');
  const ed = edKey();
  const ps = rsaKey();
  const kids = { ec: 'ec-2024', ps: 'ps-1', rotatedTo: 'rsa-next' };

  beforeAll(async () => {
    const ordersHash = await hashSecret(SECRET);
    const billingHash = await hashSecret(OTHER_SECRET, { algorithm: 'pbkdf2-sha256', iterations: 100_000 });
    const clients = [
      {
        client_id: 'orders',
        client_secret_hash: ordersHash,
        allowed_scopes: ['orders:read', 'orders:write', 'admin'],
        default_scopes: ['orders:read'],
      },
      { client_id: 'billing', client_secret_hash: billingHash, allowed_scopes: ['billing'] },
      { client_id: 'noscope', client_secret_hash: ordersHash, audience: ['https://special.example.com'] },
    ];
    const plugin = (route: string, config: Record<string, unknown>) => ({
      name: 'bulwark-oauth2',
      route,
      config: { issuer: ISSUER, audience: ['https://api.example.com'], clients, ...config },
    });
    const config = {
      _format_version: '3.0',
      services: [
        {
          name: 'api',
          url: 'ECHO',
          routes: [
            { name: 'oauth', paths: ['/oauth2'] },
            { name: 'es', paths: ['/es'] },
            { name: 'ed', paths: ['/ed'] },
            { name: 'ps', paths: ['/ps'] },
            { name: 'locked', paths: ['/locked'] },
            { name: 'lb', paths: ['/lb'] },
          ],
        },
      ],
      plugins: [
        // Two keys, the second active: rotation in progress.
        plugin('oauth', {
          signing_keys: [rsa.pem, JSON.stringify({ ...rsaNext.jwk, kid: kids.rotatedTo })],
          active_key_id: kids.rotatedTo,
          token_ttl: 120,
        }),
        plugin('es', {
          token_path: '/es/token',
          jwks_path: '/es/jwks',
          signing_keys: [JSON.stringify({ ...ec.jwk, kid: kids.ec })],
        }),
        plugin('ed', { token_path: '/ed/token', jwks_path: '/ed/jwks', signing_keys: [ed.pem] }),
        plugin('ps', {
          token_path: '/ps/token',
          jwks_path: '/ps/jwks',
          signing_keys: [JSON.stringify({ ...ps.jwk, kid: kids.ps, alg: 'PS256' })],
        }),
        plugin('locked', {
          token_path: '/locked/token',
          jwks_path: '/locked/jwks',
          signing_keys: [ec.pem],
          failure_limit: {
            max_failures_per_client: 3,
            max_failures_per_ip: 6,
            window_seconds: 60,
            lockout_seconds: 120,
          },
        }),
        plugin('lb', {
          token_path: '/lb/token',
          jwks_path: '/lb/jwks',
          signing_keys: [ec.pem],
          trusted_proxies: ['10.0.0.0/8'],
          failure_limit: { max_failures_per_client: 100, max_failures_per_ip: 2 },
        }),
      ],
    };
    gw = await startGateway({ plugins: ['bulwark-oauth2'] });
    gw.configure(JSON.stringify(config));
  });

  afterAllNoFailOpen(() => [gw]);

  const send = (r: Req): Promise<Res> => gw.send(r);

  function tokenRequest(
    path: string,
    form: string,
    headers: Record<string, string> = {},
    extra: Partial<Req> = {},
  ): Promise<Res> {
    return send({ method: 'POST', path, headers: { 'content-type': FORM, ...headers }, body: form, ...extra });
  }

  async function jwksOf(path: string): Promise<JoseTypes.JSONWebKeySet> {
    const res = await send({ path });
    expect(res.status).toBe(200);
    return json(res) as unknown as JoseTypes.JSONWebKeySet;
  }

  async function verify(token: string, jwksPath: string, audience = 'https://api.example.com') {
    const keySet = jose.createLocalJWKSet(await jwksOf(jwksPath));
    return jose.jwtVerify(token, keySet, { issuer: ISSUER, audience, typ: 'at+jwt' });
  }

  describe('issuing tokens', () => {
    test('client_credentials over HTTP Basic: 200, no-store, Bearer token that verifies against the served JWKS (RFC 9068 claims)', async () => {
      const res = await tokenRequest(
        '/oauth2/token',
        'grant_type=client_credentials&scope=orders%3Awrite+orders%3Aread',
        {
          authorization: basic('orders', SECRET),
        },
      );
      expect(res.status).toBe(200);
      expectNoStore(res);
      expect(res.headers.first('content-type')).toMatch(/^application\/json/);
      expect(res.report.upstreamRequest).toBeUndefined();
      const body = json(res);
      expect(body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 120,
        scope: 'orders:write orders:read',
      });

      const { payload, protectedHeader } = await verify(body.access_token as string, '/oauth2/jwks');
      expect(protectedHeader).toEqual({ alg: 'RS256', kid: kids.rotatedTo, typ: 'at+jwt' });
      expect(payload).toEqual({
        iss: ISSUER,
        sub: 'orders',
        client_id: 'orders',
        aud: 'https://api.example.com',
        scope: 'orders:write orders:read',
        iat: expect.any(Number),
        exp: (payload.iat as number) + 120,
        jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      });
      expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThan(60);
    });

    test('client credentials in the form body work too; no scope requested → the configured default scopes', async () => {
      const res = await tokenRequest(
        '/oauth2/token',
        `grant_type=client_credentials&client_id=orders&client_secret=${encodeURIComponent(SECRET)}`,
      );
      expect(res.status).toBe(200);
      expect(json(res).scope).toBe('orders:read');
    });

    test('no default_scopes configured → all allowed scopes; no allowed scopes → a token without scope; per-client audience', async () => {
      const billing = await tokenRequest('/oauth2/token', 'grant_type=client_credentials', {
        authorization: basic('billing', OTHER_SECRET),
      });
      expect(billing.status).toBe(200);
      expect(json(billing).scope).toBe('billing');
      const none = await tokenRequest('/oauth2/token', 'grant_type=client_credentials', {
        authorization: basic('noscope', SECRET),
      });
      expect(none.status).toBe(200);
      expect(json(none).scope).toBeUndefined();
      const { payload } = await verify(
        json(none).access_token as string,
        '/oauth2/jwks',
        'https://special.example.com',
      );
      expect(payload.scope).toBeUndefined();
      expect(payload.aud).toBe('https://special.example.com');
    });

    test.each([
      ['/es', 'ES256', kids.ec],
      ['/ed', 'EdDSA', undefined],
      ['/ps', 'PS256', kids.ps],
    ])('%s signs with %s and its token verifies against its own JWKS', async (prefix, alg, kid) => {
      const res = await tokenRequest(`${prefix}/token`, 'grant_type=client_credentials&scope=admin', {
        authorization: basic('orders', SECRET),
      });
      expect(res.status).toBe(200);
      const { protectedHeader, payload } = await verify(json(res).access_token as string, `${prefix}/jwks`);
      expect(protectedHeader.alg).toBe(alg);
      if (kid !== undefined) expect(protectedHeader.kid).toBe(kid);
      else expect(protectedHeader.kid).toMatch(/^[A-Za-z0-9_-]{43}$/); // RFC 7638 thumbprint
      expect(payload.scope).toBe('admin');
    });

    test("a token does not verify against another instance's keys, nor after tampering", async () => {
      const res = await tokenRequest('/es/token', 'grant_type=client_credentials', {
        authorization: basic('orders', SECRET),
      });
      const token = json(res).access_token as string;
      await expect(verify(token, '/ed/jwks')).rejects.toThrow();
      const [h, p, s] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url')}.${s}`;
      await expect(verify(forged, '/es/jwks')).rejects.toThrow(/signature/);
    });
  });

  describe('JWKS endpoint', () => {
    test('serves every configured key (rotation) with public members only, cacheable', async () => {
      const res = await send({ path: '/oauth2/jwks' });
      expect(res.status).toBe(200);
      expect(res.headers.first('cache-control')).toBe('public, max-age=300');
      expect(res.headers.first('content-type')).toMatch(/^application\/json/);
      const jwks = json(res) as { keys: Record<string, unknown>[] };
      expect(jwks.keys).toHaveLength(2);
      expect(jwks.keys.map((k) => k.kid)).toContain(kids.rotatedTo);
      for (const k of jwks.keys) {
        expect(Object.keys(k).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
        expect(k.use).toBe('sig');
      }
      expect(res.report.upstreamRequest).toBeUndefined();
    });

    test('no private member (d, p, q, dp, dq, qi, oth, k) in any served JWKS, for any key type', async () => {
      for (const path of ['/oauth2/jwks', '/es/jwks', '/ed/jwks', '/ps/jwks', '/locked/jwks']) {
        const text = (await send({ path })).body.toString('utf8');
        const jwks = JSON.parse(text) as { keys: Record<string, unknown>[] };
        for (const k of jwks.keys) for (const m of PRIVATE_JWK_MEMBERS) expect(k).not.toHaveProperty(m);
        // …and no private value anywhere in the text (e.g. the d of the configured keys).
        for (const key of [rsa, rsaNext, ec, ed, ps]) expect(text).not.toContain(key.jwk.d as string);
      }
    });

    test('HEAD is answered, other methods get 405 with Allow', async () => {
      expect((await send({ method: 'HEAD', path: '/oauth2/jwks' })).status).toBe(200);
      const post = await send({ method: 'POST', path: '/oauth2/jwks', body: 'x' });
      expect(post.status).toBe(405);
      expect(post.headers.first('allow')).toBe('GET, HEAD');
    });
  });

  describe('RFC 6749 §5.2 errors (always no-store)', () => {
    const ok = 'grant_type=client_credentials';
    test('GET on the token endpoint → 405 invalid_request with Allow: POST', async () => {
      const res = await send({ path: '/oauth2/token' });
      expectOAuthError(res, 405, 'invalid_request');
      expect(res.headers.first('allow')).toBe('POST');
    });

    test('a body that is not form-urlencoded → 400 invalid_request', async () => {
      const res = await send({
        method: 'POST',
        path: '/oauth2/token',
        headers: { 'content-type': 'application/json', authorization: basic('orders', SECRET) },
        body: '{"grant_type":"client_credentials"}',
      });
      expectOAuthError(res, 400, 'invalid_request');
    });

    test('a body over max_body_size → 413 without reading it; no Content-Length → 411', async () => {
      const big = await tokenRequest('/oauth2/token', `${ok}&pad=${'a'.repeat(5000)}`, {
        authorization: basic('orders', SECRET),
      });
      expectOAuthError(big, 413, 'invalid_request');
      const chunked = await send({
        method: 'POST',
        path: '/oauth2/token',
        headers: { 'content-type': FORM, 'transfer-encoding': 'chunked' },
      });
      expectOAuthError(chunked, 411, 'invalid_request');
    });

    test('missing grant_type → invalid_request; another grant → unsupported_grant_type', async () => {
      expectOAuthError(
        await tokenRequest('/oauth2/token', 'scope=admin', { authorization: basic('orders', SECRET) }),
        400,
        'invalid_request',
      );
      expectOAuthError(
        await tokenRequest('/oauth2/token', 'grant_type=password&username=a&password=b', {
          authorization: basic('orders', SECRET),
        }),
        400,
        'unsupported_grant_type',
      );
      expectOAuthError(
        await tokenRequest('/oauth2/token', 'grant_type=authorization_code&code=x', {
          authorization: basic('orders', SECRET),
        }),
        400,
        'unsupported_grant_type',
      );
    });

    test('repeated parameters and malformed encoding → invalid_request', async () => {
      expectOAuthError(
        await tokenRequest('/oauth2/token', `${ok}&scope=admin&scope=admin`, {
          authorization: basic('orders', SECRET),
        }),
        400,
        'invalid_request',
      );
      expectOAuthError(
        await tokenRequest('/oauth2/token', `${ok}&scope=%zz`, { authorization: basic('orders', SECRET) }),
        400,
        'invalid_request',
      );
    });

    test('credentials both in Basic and in the body → invalid_request', async () => {
      const res = await tokenRequest('/oauth2/token', `${ok}&client_id=orders&client_secret=${SECRET}`, {
        authorization: basic('orders', SECRET),
      });
      expectOAuthError(res, 400, 'invalid_request');
    });

    test('wrong secret or unknown client over Basic → 401 invalid_client with WWW-Authenticate: Basic; same answer for both', async () => {
      const wrong = await tokenRequest('/oauth2/token', ok, {
        authorization: basic('orders', 'not-the-secret-000000'),
      });
      const unknown = await tokenRequest('/oauth2/token', ok, {
        authorization: basic('nobody', 'not-the-secret-000000'),
      });
      for (const res of [wrong, unknown]) {
        expectOAuthError(res, 401, 'invalid_client');
        expect(res.headers.first('www-authenticate')).toMatch(/^Basic realm="bulwark-oauth2"/);
      }
      expect(wrong.body.equals(unknown.body)).toBe(true);
      expect(gw.kong.log.join('\n')).toMatch(/client_authentication_failed.*unknown_client_id/);
    });

    test('wrong secret in the body → 400 invalid_client (no challenge); no credentials at all → 401 with the challenge', async () => {
      const body = await tokenRequest('/oauth2/token', `${ok}&client_id=orders&client_secret=wrong-wrong-wrong-wrong`);
      expectOAuthError(body, 400, 'invalid_client');
      expect(body.headers.first('www-authenticate')).toBeUndefined();
      const none = await tokenRequest('/oauth2/token', ok);
      expectOAuthError(none, 401, 'invalid_client');
      expect(none.headers.first('www-authenticate')).toMatch(/^Basic /);
      const bearer = await tokenRequest('/oauth2/token', ok, { authorization: 'Bearer abc' });
      expectOAuthError(bearer, 401, 'invalid_client');
    });

    test("a scope outside the client's allowed scopes → invalid_scope, no token", async () => {
      expectOAuthError(
        await tokenRequest('/oauth2/token', `${ok}&scope=billing`, { authorization: basic('orders', SECRET) }),
        400,
        'invalid_scope',
      );
      expectOAuthError(
        await tokenRequest('/oauth2/token', `${ok}&scope=orders:read+billing`, {
          authorization: basic('orders', SECRET),
        }),
        400,
        'invalid_scope',
      );
    });

    test('no error response carries a secret, a hash or key material', async () => {
      const res = await tokenRequest('/oauth2/token', ok, {
        authorization: basic('orders', 'guess-guess-guess-guess'),
      });
      const text = res.body.toString('utf8');
      expect(text).not.toMatch(/scrypt|pbkdf2|guess|BEGIN|orders/);
    });
  });

  describe('failed-attempt limiting (per node, by client_id and by IP)', () => {
    const ok = 'grant_type=client_credentials';
    test('3 failures of one client lock it: 429 with Retry-After, even with the right secret; other clients are unaffected', async () => {
      const ip = '198.51.100.1';
      for (let i = 0; i < 3; i++) {
        const res = await tokenRequest(
          '/locked/token',
          ok,
          { authorization: basic('orders', `wrong-secret-${i}-xxxxxxxx`) },
          { clientIp: ip },
        );
        expectOAuthError(res, 401, 'invalid_client');
      }
      const locked = await tokenRequest(
        '/locked/token',
        ok,
        { authorization: basic('orders', SECRET) },
        { clientIp: '198.51.100.2' },
      );
      expectOAuthError(locked, 429, 'invalid_request');
      const retryAfter = Number(locked.headers.first('retry-after'));
      expect(retryAfter).toBeGreaterThan(100);
      expect(retryAfter).toBeLessThanOrEqual(120);
      const other = await tokenRequest(
        '/locked/token',
        ok,
        { authorization: basic('billing', OTHER_SECRET) },
        { clientIp: ip },
      );
      expect(other.status).toBe(200);
      expect(gw.kong.log.join('\n')).toMatch(/token_request_locked/);
    });

    test('an unknown client id locks exactly like a known one (a lockout does not reveal which ids exist)', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push(
          (
            await tokenRequest(
              '/locked/token',
              ok,
              { authorization: basic('ghost', 'wrong-secret-xxxxxxxxx') },
              { clientIp: `198.51.100.${10 + i}` },
            )
          ).status,
        );
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
    });

    test('many client ids from one IP: the IP is locked at max_failures_per_ip; a spoofed X-Forwarded-For does not help', async () => {
      const ip = '203.0.113.77';
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        const res = await tokenRequest(
          '/locked/token',
          ok,
          { authorization: basic(`id-${i}`, 'wrong-secret-xxxxxxxxx'), 'x-forwarded-for': `192.0.2.${i}` },
          { clientIp: ip },
        );
        statuses.push(res.status);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
      const elsewhere = await tokenRequest(
        '/locked/token',
        ok,
        { authorization: basic('noscope', SECRET) },
        { clientIp: '203.0.113.78' },
      );
      expect(elsewhere.status).toBe(200);
    });

    test('behind a trusted proxy the client IP comes from X-Forwarded-For (lib/client-ip)', async () => {
      const viaProxy = (client: string) =>
        tokenRequest(
          '/lb/token',
          ok,
          { authorization: basic('orders', 'wrong-secret-xxxxxxxxx'), 'x-forwarded-for': client },
          { clientIp: '10.1.1.1' },
        );
      expect((await viaProxy('192.0.2.50')).status).toBe(401);
      expect((await viaProxy('192.0.2.50')).status).toBe(401);
      expect((await viaProxy('192.0.2.50')).status).toBe(429);
      // Another client behind the same proxy is not locked.
      expect((await viaProxy('192.0.2.51')).status).toBe(401);
    });
  });

  describe('pass-through and round trips', () => {
    test("Kong's get_path keeps a trailing slash (`/oauth2/token/.` → `/oauth2/token/`): still the token endpoint, never proxied", async () => {
      for (const path of ['/oauth2/token/.', '/oauth2/token/', '/oauth2/x/../token/']) {
        const res = await tokenRequest(path, 'grant_type=client_credentials', {
          authorization: basic('orders', SECRET),
        });
        expect(res.status).toBe(200);
        expect(res.report.upstreamRequest).toBeUndefined();
        expect(json(res).token_type).toBe('Bearer');
      }
      expect((await send({ path: '/oauth2/jwks/' })).status).toBe(200);
    });

    test('other paths of the route are proxied untouched', async () => {
      const res = await send({
        method: 'POST',
        path: '/oauth2/other?x=1',
        headers: { 'content-type': FORM },
        body: 'grant_type=client_credentials',
      });
      expect(res.status).toBe(200);
      const up = echoed(res.body);
      expect(up.body).toBe('grant_type=client_credentials');
      expect(res.report.rpcCallsByPlugin['bulwark-oauth2']).toBe(3); // HandleEvent, getPath, decision record (→ ret)
    });

    test('RPC round trips per request: issued token, JWKS, early refusal', async () => {
      await tokenRequest('/es/token', 'grant_type=client_credentials', { authorization: basic('orders', SECRET) }); // instance started
      const issued = await tokenRequest('/es/token', 'grant_type=client_credentials', {
        authorization: basic('orders', SECRET),
      });
      expect(issued.status).toBe(200);
      const jwks = await send({ path: '/es/jwks' });
      const refused = await send({ path: '/es/token' });
      const rpc = (r: Res) => r.report.rpcCallsByPlugin['bulwark-oauth2'];
      // Round trips = HandleEvent + one per answered PDK call (the exit gets no answer: Kong ends the event).
      // HandleEvent, getPath, getMethod, getHeaders, getRawBody, client.getIp, the allow record (→ exit)
      expect(rpc(issued)).toBe(7);
      // HandleEvent, getPath, getMethod, the allow record (→ exit)
      expect(rpc(jwks)).toBe(4);
      // HandleEvent, getPath, getMethod, getHeaders, the deny record (→ exit 405)
      expect(rpc(refused)).toBe(5);
      console.log(
        `bulwark-oauth2 RPCs: token issued ${rpc(issued)}, JWKS ${rpc(jwks)}, refused (GET on token path) ${rpc(refused)}`,
      );
    });
  });
});

describe('bulwark-oauth2 configuration fails closed', () => {
  let gw: Gateway;
  const key = ecKey();
  beforeAll(async () => {
    gw = await startGateway({ plugins: ['bulwark-oauth2'] });
  });
  afterAll(async () => gw?.stop());

  const base = { issuer: ISSUER, audience: ['api'], signing_keys: [key.pem] };

  test("Kong's schema refuses a plaintext client secret where the hash belongs, naming the field", () => {
    expect(() =>
      gw.kong.validatePluginConfig('bulwark-oauth2', {
        ...base,
        clients: [{ client_id: 'a', client_secret_hash: 'plaintext-secret' }],
      }),
    ).toThrow(/client_secret_hash/);
  });

  test('a config the schema accepts but the plugin refuses (weak hash; unresolved vault reference) → 500, never proxied, field in the log', async () => {
    gw.configure(
      JSON.stringify({
        _format_version: '3.0',
        services: [
          {
            name: 's',
            url: 'ECHO',
            routes: [
              { name: 'a', paths: ['/a'] },
              { name: 'b', paths: ['/b'] },
            ],
          },
        ],
        plugins: [
          {
            name: 'bulwark-oauth2',
            route: 'a',
            config: {
              ...base,
              token_path: '/a/token',
              clients: [
                {
                  client_id: 'a',
                  client_secret_hash:
                    '$scrypt$N=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
                },
              ],
            },
          },
          {
            name: 'bulwark-oauth2',
            route: 'b',
            config: { ...base, token_path: '/b/token', signing_keys: ['{vault://env/bulwark-signing-key}'] },
          },
        ],
      }),
    );
    const a = await gw.kong.request({ path: '/a/anything' });
    expect(a.status).toBe(500);
    expect(a.report.upstreamRequest).toBeUndefined();
    expect(gw.kong.log.join('\n')).toMatch(/clients\[0\]\.client_secret_hash: scrypt N must be/);
    const b = await gw.kong.request({ path: '/b/anything' });
    expect(b.status).toBe(500);
    // Kong resolves a reference without a value to "" (kong/db/schema/init.lua resolve_reference); the plugin refuses it.
    expect(gw.kong.log.join('\n')).toMatch(/unable to resolve reference \{vault:\/\/env\/bulwark-signing-key\}/);
    expect(gw.kong.log.join('\n')).toMatch(/signing_keys\[0\]: empty secret/);
    expect(gw.kong.log.join('\n')).not.toContain(key.jwk.d as string);
  });
});
