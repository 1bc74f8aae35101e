// End to end: `npm run gateway`'s program with the repository's kong.yml, over real HTTP and HTTPS, with the real
// plugin server, every built Bulwark plugin and the embedded echo upstream: a client gets a token from
// bulwark-oauth2 and calls the orders API through bulwark-transport, bulwark-jwt, bulwark-rate-limit and
// bulwark-validator; a partner calls with an API key (bulwark-api-key).
import { BLOCKED_USER_AGENT, untilThreatRulesReady } from '../helpers/threat-rules';
import { spawn, ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { freePort } from '../helpers/redis';

const root = path.join(__dirname, '..', '..');

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(
  tls: boolean,
  port: number,
  method: string,
  p: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const mod = tls ? https : http;
    const req = mod.request({ host: '127.0.0.1', port, method, path: p, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// One query command per plugin (Kong 3.9, one plugin per server entry), each a Node start: on a loaded 2-core
// machine six of them alone took over 30 s.
const START_TIMEOUT_MS = 120_000;

describe('npm run gateway with kong.yml (end to end)', () => {
  let proc: ChildProcess;
  let proxy = 0;
  let tlsPort = 0;
  let admin = 0;
  let output = '';
  const get = (p: string, headers: Record<string, string> = {}) => send(false, proxy, 'GET', p, headers);
  const tls = (method: string, p: string, headers: Record<string, string> = {}, body?: string) =>
    send(true, tlsPort, method, p, headers, body);
  /** A token for the demo client from bulwark-oauth2 (client credentials) with these scopes. */
  const clientToken = async (scope: string): Promise<string> => {
    const basic = Buffer.from('demo-client:demo-secret-change-me').toString('base64');
    const form = `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`;
    const res = await tls(
      'POST',
      '/oauth2/token',
      {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(form.length),
      },
      form,
    );
    expect(res.status).toBe(200);
    return (JSON.parse(res.body) as { access_token: string }).access_token;
  };
  /** `METHOD path` of every operation of a served OpenAPI document. */
  const operationsOf = (body: string): string[] =>
    Object.entries((JSON.parse(body) as { paths: Record<string, Record<string, unknown>> }).paths).flatMap(
      ([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`),
    );

  beforeAll(async () => {
    // The repository's kong.yml as it is: it points bulwark-jwt at the gateway's own JWKS on port 8000, and the
    // gateway on another port (--port) must fetch it from itself, not from whatever listens on 8000.
    proxy = await freePort();
    const config = path.join(root, 'kong.yml');
    const env = { ...process.env };
    delete env.BULWARK_OAUTH2_SIGNING_KEY;
    delete env.BULWARK_UPSTREAM_TRUST_SIGNING_KEY;
    proc = spawn(
      process.execPath,
      [
        path.join(root, 'dist/js/kong/emulator/gateway-cli.js'),
        '--config',
        config,
        '--port',
        String(proxy),
        '--admin-port',
        '0',
        '--tls-port',
        '0',
      ],
      {
        cwd: root,
        env,
      },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), START_TIMEOUT_MS - 5000);
      proc.stdout!.on('data', (c) => {
        output += c;
        const t = /proxy TLS:\s+https:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        const a = /admin API:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (t && a) {
          tlsPort = Number(t[1]);
          admin = Number(a[1]);
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr!.on('data', (c) => (output += c));
      proc.on('exit', () => reject(new Error(`gateway exited:\n${output}`)));
    });
  }, START_TIMEOUT_MS);
  afterAll(() => {
    proc?.kill('SIGTERM');
  });

  test('it says where it listens and that it generated a throw-away signing key', () => {
    expect(output).toMatch(/proxy:\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(/BULWARK_OAUTH2_SIGNING_KEY not set/);
  });

  test('a request on the public service reaches the echo upstream; the response carries bulwark-transport headers', async () => {
    const res = await get('/public/hello', {
      'x-echo-response-headers': JSON.stringify({ 'X-Powered-By': 'Express' }),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).path).toBe('/public/hello');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin'); // browser preset
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined(); // bulwark-response-headers, opted in on this service only
  });

  test('plain HTTP to the orders API is redirected (Kong exit: no upstream call); an unexpected Host gets 421; partners get 426', async () => {
    const res = await get('/orders?limit=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('https://127.0.0.1/orders?limit=1');
    expect(res.headers.server).toBe('kong/3.9.3'); // a Kong-generated response
    expect((await get('/public/x', { host: 'evil.example' })).status).toBe(421);
    expect((await get('/partners/x')).status).toBe(426);
  });

  test('the token endpoint refuses plain HTTP, so a client secret never crosses it', async () => {
    const res = await send(
      false,
      proxy,
      'POST',
      '/oauth2/token',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'grant_type=client_credentials',
    );
    expect(res.status).toBe(403);
  });

  test('client credentials → token → orders API: verified subject forwarded, OpenAPI validation, no token → 401', async () => {
    const basic = Buffer.from('demo-client:demo-secret-change-me').toString('base64');
    const form = 'grant_type=client_credentials&scope=orders%3Aread%20orders%3Awrite';
    const tokenRes = await tls(
      'POST',
      '/oauth2/token',
      {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(form.length),
      },
      form,
    );
    expect(tokenRes.status).toBe(200);
    expect(tokenRes.headers['cache-control']).toBe('no-store');
    const { access_token: token, token_type: type } = JSON.parse(tokenRes.body);
    expect(type).toBe('Bearer');

    // kong.yml's bulwark-threat-protection answers 503 until its rules are compiled; its 403 means it is ready.
    const blocked = await untilThreatRulesReady(() =>
      tls('GET', '/orders?limit=5', { authorization: `Bearer ${token}`, 'user-agent': BLOCKED_USER_AGENT }),
    );
    expect(blocked).toBe(403);
    const ok = await tls('GET', '/orders?limit=5', { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    const seen = JSON.parse(ok.body);
    expect(seen.headers['x-auth-subject']).toBe('demo-client');
    expect(seen.headers.authorization).toBe(`Bearer ${token}`);
    expect(ok.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(ok.headers['ratelimit-policy']).toBeDefined();

    const order = JSON.stringify({ item: 'book', quantity: 2 });
    const created = await tls(
      'POST',
      '/orders',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(order.length) },
      order,
    );
    expect(created.status).toBe(200); // the echo upstream answers 200 to everything
    expect(JSON.parse(created.body).body).toBe(order);

    const bad = JSON.stringify({ item: 'book', quantity: 0 });
    const invalid = await tls(
      'POST',
      '/orders',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(bad.length) },
      bad,
    );
    expect(invalid.status).toBe(400);
    // Kong's cjson escapes `/` in the JSON body (kong/pdk/response.lua 3.9.3 exit): compare the parsed value.
    expect(JSON.parse(invalid.body).errors[0].location).toBe('body/quantity');

    // bulwark-authz (960) runs before bulwark-validator (890): an operation no rule allows is refused by default.
    const unknown = await tls('DELETE', '/orders', { authorization: `Bearer ${token}` });
    expect(unknown.status).toBe(403);

    // Object level: the demo client (sub demo-client) reads its own customer orders only.
    const own = await tls('GET', '/orders/customers/demo-client', { authorization: `Bearer ${token}` });
    expect(own.status).toBe(200);
    const other = await tls('GET', '/orders/customers/someone-else', { authorization: `Bearer ${token}` });
    expect(other.status).toBe(403);
    const trick = await tls('GET', '/orders/customers/demo-client?customer=someone-else', {
      authorization: `Bearer ${token}`,
    });
    expect(trick.status).toBe(403);

    const anonymous = await tls('GET', '/orders');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer realm="orders"/);

    // bulwark-docs on the same route: the validator's document, behind the same token, listing what bulwark-authz's
    // rules allow this token (orders:read and orders:write: all four operations).
    const docs = await tls('GET', '/orders/docs/openapi.json', { authorization: `Bearer ${token}` });
    expect(docs.status).toBe(200);
    expect(operationsOf(docs.body)).toEqual([
      'GET /orders',
      'POST /orders',
      'GET /orders/{id}',
      'GET /orders/customers/{customer}',
    ]);
    expect((await tls('GET', '/orders/docs/openapi.json')).status).toBe(401);
  });

  test('the demo docs are filtered per caller: a token with orders:read only does not see POST /orders', async () => {
    const reader = await clientToken('orders:read');
    const docs = await tls('GET', '/orders/docs/openapi.json', { authorization: `Bearer ${reader}` });
    expect(docs.status).toBe(200);
    expect(docs.headers['cache-control']).toBe('private, no-cache');
    expect(operationsOf(docs.body)).toEqual(['GET /orders', 'GET /orders/{id}', 'GET /orders/customers/{customer}']);
    // The page and the UI files pass bulwark-authz (the docs rules) too.
    expect((await tls('GET', '/orders/docs', { authorization: `Bearer ${reader}` })).status).toBe(200);
    expect((await tls('GET', '/orders/docs/assets/swagger-ui.css', { authorization: `Bearer ${reader}` })).status).toBe(
      200,
    );
  });

  test('partners authenticate with an API key: none → 401 with the Key challenge, the demo key → 200 without the key upstream', async () => {
    const none = await tls('GET', '/partners/x');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Key realm="kong"');
    const ok = await tls('GET', '/partners/x', { 'x-api-key': 'bwk_test_TrfBIdSFcMCk5FNxhzDvcME1Tovwk5jA_1c1PAl' });
    expect(ok.status).toBe(200);
    const seen = JSON.parse(ok.body);
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers['x-credential-identifier']).toBe('demo-partner');
  });

  test('the Admin API lists the plugins of kong.yml', async () => {
    const res = await send(false, admin, 'GET', '/plugins');
    const names = (JSON.parse(res.body).data as { name: string }[]).map((p) => p.name).sort();
    expect(names).toEqual([
      'bulwark-api-key',
      'bulwark-audit',
      'bulwark-authz',
      'bulwark-docs',
      'bulwark-jwt',
      'bulwark-oauth2',
      'bulwark-rate-limit',
      'bulwark-response-headers',
      'bulwark-threat-protection',
      'bulwark-transport',
      'bulwark-transport',
      'bulwark-transport',
      'bulwark-transport',
      'bulwark-transport',
      'bulwark-transport',
      'bulwark-upstream-trust',
      'bulwark-upstream-trust',
      'bulwark-validator',
    ]);
  });

  test('the ledger backend trusts only the gateway: accepted through it, a direct request to its port refused', async () => {
    const port = Number(
      /upstream "trusted-backend:8080" \(verifies the gateway's token\) on 127\.0\.0\.1:(\d+)/.exec(output)?.[1],
    );
    expect(port).toBeGreaterThan(0);
    const via = await get('/ledger/entries?day=1');
    expect(via.status).toBe(200);
    expect(JSON.parse(via.body)).toMatchObject({ method: 'GET', path: '/ledger/entries?day=1', identity: null });
    const direct = await send(false, port, 'GET', '/ledger/entries?day=1', { host: `127.0.0.1:${port}` });
    expect(direct.status).toBe(401);
    expect(JSON.parse(direct.body).error).toBe('missing_token');
  });
});
