// Kong's 100-entry caps on headers and query arguments, and identity headers under every spelling an upstream
// folds together, through the Kong emulator and the real plugin server (bulwark or stock, BULWARK_PLUGINSERVER).
// Each bypass pinned here went through before plugins/lib/bounded-reads.ts and verified-headers.ts.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  echoed,
  startGateway,
  type Gateway,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../helpers/emulator';
import { claimsFor, makeSigner, type Signer } from '../fixtures/jwt/idp';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const HS_SECRET = 'an-hs256-secret-of-at-least-32-bytes!';
const AUD = 'orders-api';
const ISSUER = 'hs-issuer';

/**
 * An upstream that reads headers as CGI/WSGI/PHP/Rack do: the name upper-cased, `-` as `_`, prefixed HTTP_.
 * It answers every value each such variable was given (in arrival order), so a test sees whether any forged
 * spelling arrived at all, whichever one a framework would keep.
 */
async function startCgiUpstream(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const env: Record<string, string[]> = {};
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const key = `HTTP_${req.rawHeaders[i]!.toUpperCase().replace(/-/g, '_')}`;
      (env[key] ??= []).push(req.rawHeaders[i + 1]!);
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(env));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

const fillers = (n: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-filler-${i}`, 'v']));

describe('header and query caps, folded identity headers (emulator + real plugin server)', () => {
  let gw: Gateway;
  let cgi: Awaited<ReturnType<typeof startCgiUpstream>>;
  let signer: Signer;
  const logs: string[] = [];

  beforeAll(async () => {
    signer = await makeSigner('HS256', 'hs-1', new TextEncoder().encode(HS_SECRET));
    cgi = await startCgiUpstream();
    const issuers = [{ issuer: ISSUER, secrets: [HS_SECRET], algorithms: ['HS256'], audiences: [AUD] }];
    const jwt = (route: string, extra: object = {}) => ({
      name: 'bulwark-jwt',
      route,
      config: {
        issuers,
        token_sources: { query_params: ['access_token'] },
        forward_claims: { sub: 'X-Auth-Subject', email: 'X-Auth-Email' },
        hide_credentials: true,
        ...extra,
      },
    });
    const config = {
      _format_version: '3.0',
      services: [
        {
          name: 'echo',
          url: 'ECHO',
          routes: ['jwt', 'anon', 'transport', 'ratelimit'].map((n) => ({ name: n, paths: [`/${n}`] })),
        },
        {
          name: 'cgi',
          url: `http://127.0.0.1:${cgi.port}`,
          routes: [
            { name: 'cgi', paths: ['/cgi'] },
            { name: 'cgi-anon', paths: ['/cgi-anon'] },
          ],
        },
      ],
      consumers: [{ username: 'guest' }],
      plugins: [
        jwt('jwt'),
        jwt('anon', { anonymous: 'guest' }),
        jwt('cgi'),
        jwt('cgi-anon', { anonymous: 'guest' }),
        { name: 'bulwark-transport', route: 'transport', config: {} },
        {
          name: 'bulwark-rate-limit',
          route: 'ratelimit',
          config: {
            limit_by: ['header'],
            header_name: 'x-api-key',
            limits: [{ name: 'minute', limit: 100, window_seconds: 60 }],
          },
        },
      ],
    };
    // Three plugins per gateway (the stock server starts one process each; more at once can miss the emulator's
    // socket deadline on a loaded machine): bulwark-validator has its own gateway below.
    gw = await startGateway({
      plugins: ['bulwark-jwt', 'bulwark-transport', 'bulwark-rate-limit'],
      onLog: (l) => logs.push(l),
    });
    gw.configure(JSON.stringify(config));
  }, 120_000);

  afterAllNoFailOpen(() => [gw]);
  afterAll(async () => {
    await cgi?.close();
  });

  const call = async (
    path: string,
    headers: Record<string, string | string[]> = {},
    scheme: 'http' | 'https' = 'https',
  ) => {
    const res = await gw.kong.request({ path, headers, scheme });
    expect(res.report.failOpen).toEqual([]);
    expect(res.report.luaErrors).toEqual([]);
    return res;
  };
  const token = (extra: Record<string, unknown> = {}) => signer.sign(claimsFor(ISSUER, AUD, extra));
  const FORGED = 'forged.e30.AAAA';

  describe('1. Kong caps get_headers/get_query at 100 entries: Bulwark reads them whole or refuses', () => {
    test('bypass: 100 filler headers, then X-Auth-Email → stripped (before: the spoofed header reached the upstream)', async () => {
      const res = await call('/jwt/x', {
        ...fillers(100),
        authorization: `Bearer ${await token()}`,
        'x-auth-email': 'admin@corp.example',
      });
      expect(res.status).toBe(200);
      const up = echoed(res.body);
      expect(up.headers['x-auth-subject']).toBe('alice');
      expect(up.headers['x-auth-email']).toBeUndefined();
    });

    test('bypass: with anonymous, 100 filler headers then a forged Bearer → 401 (before: 200, the forged token forwarded)', async () => {
      const res = await call('/anon/x', { ...fillers(100), authorization: `Bearer ${FORGED}` });
      expect(res.status).toBe(401);
      expect(res.report.upstreamRequest).toBeUndefined();
    });

    test('bypass: 100 query arguments then access_token=forged → 401 (before: 200, token left in the upstream query)', async () => {
      const args = Array.from({ length: 100 }, (_, i) => `q${i}=1`).join('&');
      const res = await call(`/anon/x?${args}&access_token=${FORGED}`);
      expect(res.status).toBe(401);
      expect(res.report.upstreamRequest).toBeUndefined();
    });

    test('bypass: 100 EMPTY query pieces then access_token=forged → 401 (Kong counts them but returns nothing)', async () => {
      const res = await call(`/anon/x?${'&'.repeat(100)}access_token=${FORGED}`);
      expect(res.status).toBe(401);
    });

    test('bypass: a valid token after 100 headers no longer gets a false 401', async () => {
      const res = await call('/jwt/x', { ...fillers(100), authorization: `Bearer ${await token()}` });
      expect(res.status).toBe(200);
    });

    test('a valid query token after 150 arguments is accepted and removed from the upstream query', async () => {
      const args = Array.from({ length: 150 }, (_, i) => `q${i}=1`).join('&');
      const res = await call(`/jwt/x?${args}&access_token=${await token()}`);
      expect(res.status).toBe(200);
      expect(JSON.stringify(echoed(res.body).query)).not.toContain('access_token');
    });

    test('1000 header lines or more (Kong may have cut the list at 1000): 431 and a log line, nothing proxied', async () => {
      const before = logs.length;
      const res = await call('/jwt/x', { ...fillers(998), authorization: `Bearer ${await token()}` }); // + Host = 1000
      expect(res.status).toBe(431);
      expect(JSON.parse(res.body.toString('utf8'))).toEqual({ message: 'Request header fields too large' });
      expect(res.report.upstreamRequest).toBeUndefined();
      expect(logs.slice(before).some((l) => l.includes('bulwark-jwt') && l.includes('too_many_headers'))).toBe(true);
      expect((await call('/jwt/x', { ...fillers(997), authorization: `Bearer ${await token()}` })).status).toBe(200);
    });

    test('more than 1000 query pieces (Kong would cut them): 400 and a log line; exactly 1000 pass', async () => {
      const before = logs.length;
      const res = await call(`/anon/x?${'&'.repeat(1000)}access_token=${FORGED}`); // 1001 pieces
      expect(res.status).toBe(400);
      expect(res.report.upstreamRequest).toBeUndefined();
      expect(logs.slice(before).some((l) => l.includes('too_many_query_arguments'))).toBe(true);
      expect((await call(`/anon/x?${'&'.repeat(999)}a=1`)).status).toBe(200);
    });

    test.each([
      ['bulwark-transport', '/transport/x'],
      ['bulwark-rate-limit', '/ratelimit/x'],
    ])('%s: 1000 header lines → 431 with a log line; 998 pass', async (plugin, path) => {
      const before = logs.length;
      const refused = await call(path, { ...fillers(998), 'x-api-key': 'k' });
      expect(refused.status).toBe(431);
      expect(logs.slice(before).some((l) => l.includes(plugin) && l.includes('too_many_headers'))).toBe(true);
      expect((await call(path, { ...fillers(996), 'x-api-key': 'k' })).status).toBe(200);
    });

    describe('bulwark-validator (its own gateway)', () => {
      let vgw: Gateway;
      const vlogs: string[] = [];
      beforeAll(async () => {
        vgw = await startGateway({ plugins: ['bulwark-validator'], onLog: (l) => vlogs.push(l) });
        vgw.configure(
          JSON.stringify({
            _format_version: '3.0',
            services: [{ name: 'echo', url: 'ECHO', routes: [{ name: 'validator', paths: ['/validator'] }] }],
            plugins: [
              {
                name: 'bulwark-validator',
                route: 'validator',
                config: { json_schema: { header_schema: JSON.stringify({ type: 'object' }) } },
              },
            ],
          }),
        );
      }, 120_000);
      afterAll(async () => vgw?.stop());

      test('1000 header lines → 431 with a log line; 998 pass', async () => {
        const refused = await vgw.kong.request({ path: '/validator/x', headers: fillers(999) });
        expect(refused.status).toBe(431);
        expect(refused.report.failOpen).toEqual([]);
        expect(vlogs.some((l) => l.includes('bulwark-validator') && l.includes('too_many_headers'))).toBe(true);
        expect((await vgw.kong.request({ path: '/validator/x', headers: fillers(997) })).status).toBe(200);
      });
    });
  });

  describe('2. identity headers under every spelling an upstream folds together', () => {
    test('bypass: X_Auth_Subject / x-auth_subject / repeats never reach a CGI-style upstream beside the verified value', async () => {
      const res = await call('/cgi/x', {
        authorization: `Bearer ${await token()}`,
        X_Auth_Subject: 'admin',
        'x-auth_subject': 'root',
        'X-AUTH-SUBJECT': ['forged-1', 'forged-2'],
        X_Auth_Email: 'admin@corp.example', // the token has no email claim: every spelling is removed
      });
      expect(res.status).toBe(200);
      const env = JSON.parse(res.body.toString('utf8')) as Record<string, string[]>;
      expect(env.HTTP_X_AUTH_SUBJECT).toEqual(['alice']);
      expect(env.HTTP_X_AUTH_EMAIL).toBeUndefined();
    });

    test('anonymous: no spelling of a forwarded claim header reaches the upstream', async () => {
      const res = await call('/cgi-anon/x', {
        X_Auth_Subject: 'admin',
        'X-Auth-Subject': 'admin',
        x_auth_email: 'admin@corp.example',
      });
      expect(res.status).toBe(200);
      const env = JSON.parse(res.body.toString('utf8')) as Record<string, string[]>;
      expect(env.HTTP_X_AUTH_SUBJECT).toBeUndefined();
      expect(env.HTTP_X_AUTH_EMAIL).toBeUndefined();
    });

    test('the clears cost one RPC per spelling actually sent; none for a clean request', async () => {
      // Every emulated worker starts its instance first (StartInstance is counted too).
      for (let i = 0; i < 4; i++) await call('/cgi/x', { authorization: `Bearer ${await token()}` });
      const clean = await call('/cgi/x', { authorization: `Bearer ${await token()}` });
      const spoofed = await call('/cgi/x', {
        authorization: `Bearer ${await token()}`,
        X_Auth_Subject: 'admin',
        'x-auth_subject': 'root',
      });
      expect(spoofed.report.rpcCallsByPlugin['bulwark-jwt']! - clean.report.rpcCallsByPlugin['bulwark-jwt']!).toBe(2);
    });
  });
});
