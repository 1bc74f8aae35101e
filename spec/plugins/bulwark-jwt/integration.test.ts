// bulwark-jwt through the Kong emulator with the real plugin server, a real echo upstream and real local
// identity providers (node:http and node:https JWKS / discovery servers, see spec/fixtures/jwt/idp.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import {
  echoed,
  fixturePluginsRoot,
  startGateway,
  type Gateway,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../../helpers/emulator';
import { b64url, claimsFor, makeSigner, selfSignedCert, startIdp, type Idp, type Signer } from '../../fixtures/jwt/idp';
import { jose } from '../../../plugins/lib/jose';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const HS_SECRET = 'an-hs256-secret-of-at-least-32-bytes!';
const AUD = 'orders-api';
const ALICE_ID = '5f0c1a56-3b7e-4c1d-9a2b-0e8f7d6c5b4a';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A plugins root holding the built bulwark-jwt and the probe-late fixture (it shows which consumer is authenticated). */
function pluginsRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-jwt-plugins-'));
  fs.mkdirSync(path.join(dir, 'bulwark-jwt'));
  fs.writeFileSync(
    path.join(dir, 'bulwark-jwt', 'index.js'),
    `module.exports = require(${JSON.stringify(path.resolve(__dirname, '../../../dist/js/plugins/bulwark-jwt/index.js'))});\n`,
  );
  fs.cpSync(path.join(fixturePluginsRoot, 'probe-late'), path.join(dir, 'probe-late'), { recursive: true });
  return dir;
}

describe('bulwark-jwt integration (emulator + real plugin server + real JWKS servers)', () => {
  let gw: Gateway;
  let root: string;
  const logs: string[] = [];
  let main: Idp; // http, allow_http_jwks
  let tlsIdp: Idp; // https with a self-signed certificate, OIDC discovery
  let rotating: Idp;
  let outage: Idp;
  let storm: Idp;
  let slow: Idp;
  let deadPort: number;
  const signers: Record<string, Signer> = {};
  let tlsSigner: Signer;
  let rotA: Signer;
  let rotB: Signer;
  let outageSigner: Signer;
  let stormSigner: Signer;
  const rsaForConfusion = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const confusionPem = rsaForConfusion.publicKey.export({ type: 'spki', format: 'pem' }).toString();

  beforeAll(async () => {
    const cert = selfSignedCert();
    [main, tlsIdp, rotating, outage, storm, slow] = await Promise.all([
      startIdp(),
      startIdp({ tls: cert }),
      startIdp(),
      startIdp(),
      startIdp(),
      startIdp(),
    ]);
    // A port with nothing listening: the JWKS is unreachable from the start.
    const probe = await startIdp();
    deadPort = probe.port;
    await probe.close();

    for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA']) signers[alg] = await makeSigner(alg, `main-${alg}`);
    signers.HS256 = await makeSigner('HS256', 'hs-1', new TextEncoder().encode(HS_SECRET));
    main.setKeys({ keys: ['RS256', 'PS256', 'ES256', 'EdDSA'].map((a) => signers[a]!.publicJwk) });
    tlsSigner = await makeSigner('ES256', 'tls-1');
    tlsIdp.setKeys({ keys: [tlsSigner.publicJwk] });
    rotA = await makeSigner('RS256', 'rot-A');
    rotB = await makeSigner('RS256', 'rot-B');
    rotating.setKeys({ keys: [rotA.publicJwk] });
    outageSigner = await makeSigner('ES256', 'out-1');
    outage.setKeys({ keys: [outageSigner.publicJwk] });
    stormSigner = await makeSigner('ES256', 'storm-1');
    storm.setKeys({ keys: [stormSigner.publicJwk] });
    slow.mode = 'hang';

    const remote = (idp: Idp, extra: object = {}) => ({
      issuer: idp.base,
      jwks_url: idp.jwksUrl,
      allow_http_jwks: true,
      audiences: [AUD],
      ...extra,
    });
    const fast = { cache_ttl: 1, max_stale: 3600, refresh_cooldown: 1, timeout: 1000 };
    const plugin = (route: string, config: object) => ({ name: 'bulwark-jwt', route, config });
    const config = {
      _format_version: '3.0',
      services: [
        {
          name: 'api',
          url: 'ECHO',
          routes: [
            'main',
            'scoped',
            'anyscope',
            'consumer',
            'anon',
            'typed',
            'dead401',
            'dead503',
            'slow',
            'rotate',
            'outage',
            'storm',
            'confusion',
            'vault',
            'byid',
          ].map((n) => ({
            name: n,
            paths: [`/${n}`],
          })),
        },
      ],
      consumers: [{ id: ALICE_ID, username: 'alice' }, { username: 'guest' }],
      plugins: [
        { name: 'probe-late', config: { tag: 'no-consumer' } },
        { name: 'probe-late', consumer: 'alice', config: { tag: 'consumer-alice' } },
        { name: 'probe-late', consumer: 'guest', config: { tag: 'consumer-guest' } },
        plugin('main', {
          issuers: [
            remote(main, { algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] }),
            { issuer: 'hs-issuer', secrets: [HS_SECRET], algorithms: ['HS256'], audiences: [AUD] },
            {
              issuer: tlsIdp.base,
              discovery: true,
              ca_certificates: [cert.cert],
              audiences: [AUD],
              algorithms: ['ES256'],
            },
          ],
          token_sources: { headers: ['x-access-token'], cookies: ['access_token'], query_params: ['access_token'] },
          hide_credentials: true,
          consumer: { claim: 'sub', required: false },
          forward_claims: { sub: 'X-Auth-Subject', scope: 'X-Auth-Scope' },
          realm: 'orders',
        }),
        plugin('scoped', { issuers: [remote(main)], scopes: { required: ['orders:read', 'orders:write'] } }),
        plugin('anyscope', {
          issuers: [remote(main)],
          scopes: { required: ['orders:read', 'orders:admin'], mode: 'any' },
        }),
        plugin('consumer', { issuers: [remote(main)], consumer: { claim: 'sub' } }),
        plugin('anon', { issuers: [remote(main)], consumer: { claim: 'sub' }, anonymous: 'guest' }),
        plugin('byid', { issuers: [remote(main)], consumer: { claim: 'sub', by: 'id' } }),
        plugin('typed', {
          issuers: [remote(main)],
          claims: { typ: 'at+jwt', required: ['tenant'], values: { tenant: ['t1'] }, max_age: 60 },
        }),
        plugin('dead401', {
          issuers: [
            { issuer: 'dead', jwks_url: `http://127.0.0.1:${deadPort}/jwks`, allow_http_jwks: true, audiences: [AUD] },
          ],
        }),
        plugin('dead503', {
          issuers: [
            { issuer: 'dead', jwks_url: `http://127.0.0.1:${deadPort}/jwks`, allow_http_jwks: true, audiences: [AUD] },
          ],
          unavailable_status: 503,
        }),
        plugin('slow', { issuers: [remote(slow)], jwks: { timeout: 300 } }),
        plugin('rotate', { issuers: [remote(rotating)], jwks: fast, token_cache: { max_entries: 0 } }),
        plugin('outage', { issuers: [remote(outage)], jwks: fast, token_cache: { max_entries: 0 } }),
        plugin('storm', { issuers: [remote(storm)] }),
        plugin('vault', {
          issuers: [
            {
              issuer: 'vaulted',
              secrets: ['{vault://env/bulwark-jwt-test-secret}'],
              algorithms: ['HS256'],
              audiences: [AUD],
            },
          ],
        }),
        plugin('confusion', {
          issuers: [
            {
              issuer: 'mixed',
              keys: [confusionPem],
              secrets: [HS_SECRET],
              algorithms: ['RS256', 'HS256'],
              audiences: [AUD],
            },
          ],
        }),
      ],
    };
    process.env.BULWARK_JWT_TEST_SECRET = HS_SECRET; // read by the env vault when the config is loaded
    root = pluginsRoot();
    gw = await startGateway({ pluginsRoot: root, plugins: ['bulwark-jwt', 'probe-late'], onLog: (l) => logs.push(l) });
    gw.configure(JSON.stringify(config));
  });

  afterAllNoFailOpen(() => [gw]);
  afterAll(async () => {
    await Promise.all([main, tlsIdp, rotating, outage, storm, slow].map((i) => i?.close()));
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const call = (p: string, token?: string, headers: Record<string, string> = {}) =>
    gw.send({ path: p, headers: token === undefined ? headers : { authorization: `Bearer ${token}`, ...headers } });
  const challenge = (res: { headers: { first(n: string): string | undefined } }) =>
    res.headers.first('www-authenticate');
  const mainClaims = (extra: Record<string, unknown> = {}) => claimsFor(main.base, AUD, extra);

  describe('valid tokens', () => {
    test.each(['RS256', 'PS256', 'ES256', 'EdDSA'])(
      '%s from the http JWKS is accepted and the claims reach the upstream',
      async (alg) => {
        const res = await call('/main/orders', await signers[alg]!.sign(mainClaims({ scope: 'orders:read' })));
        expect(res.status).toBe(200);
        const up = echoed(res.body);
        expect(up.headers['x-auth-subject']).toBe('alice');
        expect(up.headers['x-auth-scope']).toBe('orders:read');
        expect(up.headers.authorization).toBeUndefined(); // hide_credentials
        expect(up.headers['x-probe-late']).toBe('consumer-alice');
      },
    );

    test('HS256 with the configured shared secret is accepted', async () => {
      const res = await call('/main/x', await signers.HS256!.sign(claimsFor('hs-issuer', AUD)));
      expect(res.status).toBe(200);
    });

    test('HS256 with the secret given as a vault reference ({vault://env/…})', async () => {
      expect((await call('/vault/x', await signers.HS256!.sign(claimsFor('vaulted', AUD)))).status).toBe(200);
      const other = await makeSigner('HS256', 'x', new TextEncoder().encode('another-secret-of-at-least-32-bytes!!'));
      expect((await call('/vault/x', await other.sign(claimsFor('vaulted', AUD)))).status).toBe(401);
    });

    test('ES256 from an https IdP found by OIDC discovery, trusted through ca_certificates (self-signed, openssl)', async () => {
      const res = await call('/main/x', await tlsSigner.sign(claimsFor(tlsIdp.base, AUD)));
      expect(res.status).toBe(200);
      expect(tlsIdp.hits['/.well-known/openid-configuration']).toBeGreaterThanOrEqual(1);
      expect(tlsIdp.hits['/jwks']).toBeGreaterThanOrEqual(1);
    });

    test('spoofed claim headers are replaced or removed before proxying', async () => {
      const res = await call('/main/x', await signers.ES256!.sign(mainClaims()), {
        'x-auth-subject': 'admin',
        'x-auth-scope': 'everything',
      });
      expect(res.status).toBe(200);
      const up = echoed(res.body);
      expect(up.headers['x-auth-subject']).toBe('alice');
      expect(up.headers['x-auth-scope']).toBeUndefined(); // the token has no scope claim
    });

    test('a token in a query parameter is accepted and removed from the proxied query', async () => {
      const t = await signers.RS256!.sign(mainClaims());
      const res = await call(`/main/x?access_token=${t}&keep=1`);
      expect(res.status).toBe(200);
      expect(echoed(res.body).query).toBe('keep=1');
    });

    test('removing a query token re-encodes the rest of the query as Kong 3.9.3 does (resty.ada: %20 → +, / → %2F)', async () => {
      // kong/pdk/service/request.lua 3.9.3 lines 280-291: the upstream sees the other arguments re-serialised.
      const t = await signers.RS256!.sign(mainClaims());
      const res = await call(`/main/x?q=a%20b&access_token=${t}&path=/v1,v2`);
      expect(res.status).toBe(200);
      expect(echoed(res.body).query).toBe('q=a+b&path=%2Fv1%2Cv2');
    });

    test('a token in a cookie is accepted and that cookie removed (other cookies kept)', async () => {
      const t = await signers.RS256!.sign(mainClaims());
      const res = await call('/main/x', undefined, { cookie: `theme=dark; access_token=${t}` });
      expect(res.status).toBe(200);
      expect(echoed(res.body).headers.cookie).toBe('theme=dark');
    });

    test('a token in a configured header is accepted and removed', async () => {
      const res = await call('/main/x', undefined, { 'x-access-token': await signers.RS256!.sign(mainClaims()) });
      expect(res.status).toBe(200);
      expect(echoed(res.body).headers['x-access-token']).toBeUndefined();
    });

    test('a subject without a Kong consumer is accepted as an identity without consumer when consumer.required is false', async () => {
      const res = await call('/main/x', await signers.RS256!.sign(mainClaims({ sub: 'bob' })));
      expect(res.status).toBe(200);
      expect(echoed(res.body).headers['x-auth-subject']).toBe('bob');
      expect(echoed(res.body).headers['x-probe-late']).toBe('no-consumer');
    });
  });

  describe('RFC 6750 errors', () => {
    test('no token: 401 with a bare Bearer challenge (no error code)', async () => {
      const res = await call('/main/x');
      expect(res.status).toBe(401);
      expect(challenge(res)).toBe('Bearer realm="orders"');
      expect(JSON.parse(res.body.toString())).toEqual({ message: 'Unauthorized' });
      expect(res.report.upstreamRequest).toBeUndefined();
    });

    test('tokens in two places: 400 invalid_request', async () => {
      const t = await signers.RS256!.sign(mainClaims());
      const res = await call('/main/x', t, { cookie: `access_token=${t}` });
      expect(res.status).toBe(400);
      expect(challenge(res)).toMatch(/^Bearer realm="orders", error="invalid_request"/);
    });

    test('missing scopes (all-of): 403 insufficient_scope naming the required scopes', async () => {
      const res = await call('/scoped/x', await signers.RS256!.sign(mainClaims({ scope: 'orders:read' })));
      expect(res.status).toBe(403);
      expect(challenge(res)).toBe(
        'Bearer realm="bulwark", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="orders:read orders:write"',
      );
      const ok = await call(
        '/scoped/x',
        await signers.RS256!.sign(mainClaims({ scp: ['orders:write', 'orders:read'] })),
      );
      expect(ok.status).toBe(200);
    });

    test('scopes any-of: one of them is enough', async () => {
      expect(
        (await call('/anyscope/x', await signers.RS256!.sign(mainClaims({ scope: 'orders:admin x' })))).status,
      ).toBe(200);
      expect((await call('/anyscope/x', await signers.RS256!.sign(mainClaims({ scope: 'orders:write' })))).status).toBe(
        403,
      );
    });

    test('the log gets the precise reason; the response gets no key or token material', async () => {
      const before = logs.length;
      const t = await signers.RS256!.sign(mainClaims({ aud: 'other-api' }));
      const res = await call('/main/x', t);
      expect(res.status).toBe(401);
      expect(challenge(res)).toBe(
        'Bearer realm="orders", error="invalid_token", error_description="The access token audience is not accepted"',
      );
      const text = res.body.toString() + challenge(res);
      expect(text).not.toContain(t.split('.')[2]);
      expect(text).not.toContain(String(signers.RS256!.publicJwk.n).slice(0, 20));
      await res.report.logDone;
      const line = logs.slice(before).find((l) => l.includes('jwt_rejected'));
      expect(line).toContain('"reason":"audience_mismatch"');
      expect(line).toContain('other-api');
      expect(line).not.toContain(t);
    });
  });

  describe('consumers', () => {
    test('consumer.claim maps sub to the Kong consumer, which later plugins see', async () => {
      const res = await call('/consumer/x', await signers.ES256!.sign(mainClaims()));
      expect(res.status).toBe(200);
      expect(echoed(res.body).headers['x-probe-late']).toBe('consumer-alice');
    });

    test('a subject without a consumer gets 401 when consumer.required (default)', async () => {
      const res = await call('/consumer/x', await signers.ES256!.sign(mainClaims({ sub: 'mallory' })));
      expect(res.status).toBe(401);
      expect(challenge(res)).toContain('error_description="The access token is not linked to a known consumer"');
    });

    test('consumer.by id: a UUID sub selects the consumer; a non-UUID sub is an unknown consumer (401), never a load_consumer call', async () => {
      // kong/pdk/client.lua (3.9.3) lines 191-193: load_consumer(non-UUID, false) raises a Lua error, a 500 in
      // access; `call` asserts no Lua error happened.
      const ok = await call('/byid/x', await signers.ES256!.sign(mainClaims({ sub: ALICE_ID })));
      expect(ok.status).toBe(200);
      expect(echoed(ok.body).headers['x-probe-late']).toBe('consumer-alice');
      const bad = await call('/byid/x', await signers.ES256!.sign(mainClaims({ sub: 'alice' })));
      expect(bad.status).toBe(401);
      expect(challenge(bad)).toContain('error_description="The access token is not linked to a known consumer"');
    });

    test('a request without a token continues as the anonymous consumer; an invalid token is still rejected', async () => {
      const anon = await call('/anon/x');
      expect(anon.status).toBe(200);
      expect(echoed(anon.body).headers['x-probe-late']).toBe('consumer-guest');
      const bad = await call('/anon/x', 'not.a.token');
      expect(bad.status).toBe(401);
    });
  });

  describe('claim rules', () => {
    const typed = (claims: Record<string, unknown>, header?: Record<string, unknown>) =>
      signers.RS256!.sign(mainClaims(claims), header);
    test('typ at+jwt, a required claim with an accepted value and a maximum age all pass', async () => {
      expect((await call('/typed/x', await typed({ tenant: 't1' }))).status).toBe(200);
    });
    test.each([
      ['wrong typ', { tenant: 't1' }, { typ: 'JWT' }, 'The token type is not accepted'],
      ['missing required claim', {}, undefined, 'The access token lacks a required claim'],
      ['claim value not accepted', { tenant: 't2' }, undefined, 'The access token lacks a required claim'],
      [
        'older than max_age',
        { tenant: 't1', iat: Math.floor(Date.now() / 1000) - 3600 },
        undefined,
        'The access token is too old',
      ],
    ])('%s → 401', async (_name, claims, header, description) => {
      const res = await call('/typed/x', await typed(claims, header));
      expect(res.status).toBe(401);
      expect(challenge(res)).toContain(`error_description="${description}"`);
    });
  });

  describe('attacks', () => {
    const rs = () => signers.RS256!;
    const valid = () => rs().sign(mainClaims());
    const expectInvalid = async (token: string, description: string, p = '/main/x') => {
      const res = await call(p, token);
      expect(res.status).toBe(401);
      expect(challenge(res)).toBe(
        `Bearer realm="${p === '/main/x' ? 'orders' : 'bulwark'}", error="invalid_token", error_description="${description}"`,
      );
      expect(res.report.upstreamRequest).toBeUndefined();
    };

    test('alg none (unsigned, and with a fake signature, any case)', async () => {
      const p = b64url(mainClaims());
      await expectInvalid(
        `${b64url({ alg: 'none', typ: 'JWT' })}.${p}.`,
        'The token signing algorithm is not accepted',
      );
      await expectInvalid(`${b64url({ alg: 'NoNe' })}.${p}.c2ln`, 'The token signing algorithm is not accepted');
    });

    test('HS256 signed with the RSA public key: refused by the RS-only issuer, and fails on an issuer that also allows HS256', async () => {
      const j = jose();
      const pemKey = new TextEncoder().encode(confusionPem);
      const forged = await new j.SignJWT(mainClaims() as never)
        .setProtectedHeader({ alg: 'HS256', kid: 'main-RS256' })
        .sign(pemKey);
      await expectInvalid(forged, 'The token signing algorithm is not accepted');
      const forgedMixed = await new j.SignJWT(claimsFor('mixed', AUD) as never)
        .setProtectedHeader({ alg: 'HS256' })
        .sign(pemKey);
      await expectInvalid(forgedMixed, 'The access token signature is invalid', '/confusion/x');
      // the JWK form of the public key as the HMAC secret, too
      const jwkSecret = new TextEncoder().encode(JSON.stringify(rsaForConfusion.publicKey.export({ format: 'jwk' })));
      const forgedJwk = await new j.SignJWT(claimsFor('mixed', AUD) as never)
        .setProtectedHeader({ alg: 'HS256' })
        .sign(jwkSecret);
      await expectInvalid(forgedJwk, 'The access token signature is invalid', '/confusion/x');
    });

    test('kid injection / unknown kid', async () => {
      for (const kid of ['../../../../etc/passwd', "' OR '1'='1", 'main-RS256\u0000x', 'x'.repeat(200)]) {
        await expectInvalid(await rs().sign(mainClaims(), { kid }), 'The access token signature is invalid');
      }
      await expectInvalid(await rs().sign(mainClaims(), { kid: 'k'.repeat(300) }), 'The access token is malformed');
    });

    test('a key of another algorithm named by kid (ES256 kid on an RS256 token) is not used', async () => {
      await expectInvalid(
        await rs().sign(mainClaims(), { kid: 'main-ES256' }),
        'The access token signature is invalid',
      );
    });

    test('expired, not yet valid, iat in the future', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectInvalid(await rs().sign(mainClaims({ exp: now - 120 })), 'The access token expired');
      await expectInvalid(await rs().sign(mainClaims({ nbf: now + 600 })), 'The access token is not yet valid');
      await expectInvalid(await rs().sign(mainClaims({ iat: now + 600 })), 'The access token is not yet valid');
      await expectInvalid(await rs().sign(mainClaims({ exp: undefined })), 'The access token has no expiry');
    });

    test('within the leeway (30 s) an expired-by-10s token still passes', async () => {
      const res = await call('/main/x', await rs().sign(mainClaims({ exp: Math.floor(Date.now() / 1000) - 10 })));
      expect(res.status).toBe(200);
    });

    test('wrong issuer, missing issuer, wrong audience, missing audience', async () => {
      await expectInvalid(await rs().sign(claimsFor('https://evil.example', AUD)), 'The token issuer is not trusted');
      await expectInvalid(await rs().sign(mainClaims({ iss: undefined })), 'The token issuer is not trusted');
      await expectInvalid(
        await rs().sign(mainClaims({ aud: ['a', 'b'] })),
        'The access token audience is not accepted',
      );
      await expectInvalid(await rs().sign(mainClaims({ aud: undefined })), 'The access token audience is not accepted');
    });

    test('a token of one issuer signed with another issuer key', async () => {
      await expectInvalid(
        await tlsSigner.sign(mainClaims(), { kid: 'main-ES256' }),
        'The access token signature is invalid',
      );
    });

    test('tampered payload (signature of the original kept)', async () => {
      const [h, , s] = (await valid()).split('.');
      await expectInvalid(`${h}.${b64url(mainClaims({ sub: 'admin' }))}.${s}`, 'The access token signature is invalid');
    });

    test('truncated tokens', async () => {
      const t = await valid();
      await expectInvalid(t.slice(0, -10), 'The access token signature is invalid');
      await expectInvalid(t.split('.').slice(0, 2).join('.'), 'The access token is malformed');
      await expectInvalid(t.split('.').slice(0, 2).join('.') + '.', 'The access token is malformed');
      await expectInvalid(t.slice(0, 20), 'The access token is malformed');
    });

    test('huge header and huge token', async () => {
      const [, p, s] = (await valid()).split('.');
      await expectInvalid(
        `${b64url({ alg: 'RS256', kid: 'main-RS256', pad: 'x'.repeat(3000) })}.${p}.${s}`,
        'The access token is too large',
      );
      await expectInvalid(
        `${b64url({ alg: 'RS256' })}.${b64url({ pad: 'x'.repeat(9000) })}.${s}`,
        'The access token is too large',
      );
    });

    test('non-JSON and non-object segments, bad base64url', async () => {
      const [h, p, s] = (await valid()).split('.');
      await expectInvalid(`${b64url('not json')}.${p}.${s}`, 'The access token is malformed');
      await expectInvalid(`${h}.${b64url('not json')}.${s}`, 'The access token is malformed');
      await expectInvalid(`${h}.${b64url('[1,2]')}.${s}`, 'The access token is malformed');
      await expectInvalid(`${h}.${p}=.${s}`, 'The access token is malformed');
      await expectInvalid(`${h}.${p}.${s}!`, 'The access token is malformed');
      await expectInvalid(`${b64url({ alg: 'RS256', enc: 'A128GCM' })}.a.b.c.d`, 'The access token is malformed');
    });

    test('duplicate claims (validly signed) and a duplicate header member', async () => {
      const j = jose();
      const c = mainClaims();
      const text = JSON.stringify(c).replace(/}$/, ',"sub":"admin"}');
      const dup = await new j.CompactSign(new TextEncoder().encode(text))
        .setProtectedHeader({ alg: 'RS256', kid: 'main-RS256' })
        .sign(rs().privateKey as never);
      await expectInvalid(dup, 'The access token is malformed');
      const dupHeader = await new j.CompactSign(new TextEncoder().encode(JSON.stringify(c)))
        .setProtectedHeader({ alg: 'RS256', kid: 'main-RS256' })
        .sign(rs().privateKey as never);
      const [, p2, s2] = dupHeader.split('.');
      await expectInvalid(`${b64url('{"alg":"RS256","alg":"none"}')}.${p2}.${s2}`, 'The access token is malformed');
    });

    test('crit header extensions are refused', async () => {
      const j = jose();
      const t = await new j.CompactSign(new TextEncoder().encode(JSON.stringify(mainClaims())))
        .setProtectedHeader({ alg: 'RS256', kid: 'main-RS256', crit: ['exp'], exp: 1 } as never)
        .sign(rs().privateKey as never)
        .catch(() => undefined);
      const token =
        t ?? `${b64url({ alg: 'RS256', kid: 'main-RS256', crit: ['x'], x: 1 })}.${b64url(mainClaims())}.c2ln`;
      await expectInvalid(token, 'The access token is malformed');
    });

    test('forged kids cause at most one JWKS fetch per cool-down (no fetch storm)', async () => {
      expect((await call('/storm/x', await stormSigner.sign(claimsFor(storm.base, AUD)))).status).toBe(200);
      const before = storm.hits['/jwks'] ?? 0;
      for (let i = 0; i < 15; i++) {
        const res = await call('/storm/x', await stormSigner.sign(claimsFor(storm.base, AUD), { kid: `forged-${i}` }));
        expect(res.status).toBe(401);
      }
      expect((storm.hits['/jwks'] ?? 0) - before).toBeLessThanOrEqual(1);
    });
  });

  describe('JWKS lifecycle', () => {
    test('key rotation at the IdP is picked up without restart', async () => {
      expect((await call('/rotate/x', await rotA.sign(claimsFor(rotating.base, AUD)))).status).toBe(200);
      rotating.setKeys({ keys: [rotB.publicJwk] });
      await sleep(1100); // past the 1 s cool-down since the last fetch
      expect((await call('/rotate/x', await rotB.sign(claimsFor(rotating.base, AUD)))).status).toBe(200);
      // The retired key stops working once the key set is refreshed (cache_ttl 1 s; refreshes happen in the
      // background or for the unknown kid, at most once per 1 s cool-down): poll for up to 5 s.
      let status = 0;
      for (let i = 0; i < 50 && status !== 401; i++) {
        await sleep(100);
        status = (await call('/rotate/x', await rotA.sign(claimsFor(rotating.base, AUD)))).status;
      }
      expect(status).toBe(401);
      expect((await call('/rotate/x', await rotB.sign(claimsFor(rotating.base, AUD)))).status).toBe(200);
    });

    test('an IdP outage: cached keys keep working past cache_ttl', async () => {
      const token = () => outageSigner.sign(claimsFor(outage.base, AUD));
      expect((await call('/outage/x', await token())).status).toBe(200);
      outage.mode = 'fail';
      const hitsBefore = outage.hits['/jwks'] ?? 0;
      await sleep(1200);
      for (let i = 0; i < 3; i++) expect((await call('/outage/x', await token())).status).toBe(200);
      await sleep(1200);
      expect((await call('/outage/x', await token())).status).toBe(200);
      expect(outage.hits['/jwks'] ?? 0).toBeGreaterThan(hitsBefore); // it did try to refresh
      outage.mode = 'ok';
    });

    test('no keys obtainable: 401 by default, 503 when configured; never proxied', async () => {
      const t = await signers.RS256!.sign(claimsFor('dead', AUD));
      const r401 = await call('/dead401/x', t);
      expect(r401.status).toBe(401);
      expect(challenge(r401)).toContain('error_description="The token signing keys are unavailable"');
      const r503 = await call('/dead503/x', t);
      expect(r503.status).toBe(503);
      expect(JSON.parse(r503.body.toString())).toEqual({ message: 'Service unavailable' });
      expect(r503.report.upstreamRequest).toBeUndefined();
    });

    test('a JWKS endpoint that never answers is bounded by jwks.timeout (request answered with 401)', async () => {
      const t = await signers.RS256!.sign(claimsFor(slow.base, AUD));
      const started = Date.now();
      const res = await call('/slow/x', t);
      expect(res.status).toBe(401);
      // Within the cool-down, the next request does not wait for another fetch.
      const again = await call('/slow/x', t);
      expect(again.status).toBe(401);
      expect(slow.hits['/jwks']).toBe(1);
      process.stdout.write(`slow JWKS: two requests answered in ${Date.now() - started} ms with jwks.timeout 300 ms\n`);
    });
  });

  describe('PDK round trips', () => {
    // The emulator counts every round trip of the event: HandleEvent, then one Step per PDK call answered
    // (kong.response.exit ends the event without an answer). Each route is warmed on both workers first
    // so that no StartInstance is counted.
    test('accepted (consumer + forwarded claims + hidden token) and rejected requests', async () => {
      const t = await signers.ES256!.sign(mainClaims({ scope: 'orders:read' }));
      for (let i = 0; i < 2; i++) {
        await call('/main/x', t);
        await call('/consumer/x', t);
      }
      const accepted = await call('/main/x', t);
      const consumerOnly = await call('/consumer/x', t);
      const rejected = await call('/main/x', t.slice(0, -4));
      const rejectedConsumer = await call('/consumer/x', t.slice(0, -4));
      const missing = await call('/consumer/x');
      const counts = {
        accepted: accepted.report.rpcCallsByPlugin['bulwark-jwt'],
        consumerOnly: consumerOnly.report.rpcCallsByPlugin['bulwark-jwt'],
        rejected: rejected.report.rpcCallsByPlugin['bulwark-jwt'],
        rejectedConsumer: rejectedConsumer.report.rpcCallsByPlugin['bulwark-jwt'],
        missing: missing.report.rpcCallsByPlugin['bulwark-jwt'],
      };
      process.stdout.write(`bulwark-jwt PDK round trips per request: ${JSON.stringify(counts)}\n`);
      // HandleEvent + getHeaders + getQuery + loadConsumer + authenticate + the identity (ctx.shared.set)
      // + setHeaders + clearHeader(Authorization) + the decision record (log.set_serialize_value, checked by bulwark-guard)
      expect(counts.accepted).toBe(9);
      // HandleEvent + getHeaders + loadConsumer + authenticate + identity + decision record
      expect(counts.consumerOnly).toBe(6);
      // HandleEvent + getHeaders + getQuery + log.warn + the deny record (+ exit)
      expect(counts.rejected).toBe(5);
      // HandleEvent + getHeaders + log.warn + the deny record (+ exit)
      expect(counts.rejectedConsumer).toBe(4);
      // HandleEvent + getHeaders + the deny record (+ exit)
      expect(counts.missing).toBe(3);
    });
  });
});
