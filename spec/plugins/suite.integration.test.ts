// The suite together, as kong.yml wires it: bulwark-transport → bulwark-jwt → bulwark-rate-limit on one route,
// through the Kong emulator and the real plugin server. Pins the cross-plugin contracts: Kong's priority order,
// a claim that bulwark-jwt forwards is what bulwark-rate-limit counts (a client cannot spoof it), and a request
// refused by an earlier plugin consumes no quota.
import {
  startGateway,
  Gateway,
  echoed,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../helpers/emulator';
import { jose } from '../../plugins/lib/jose';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const SECRET = 'suite-test-hs256-secret-of-32-bytes!!';

async function token(sub: string): Promise<string> {
  const j = jose();
  return new j.SignJWT({ sub, scope: 'orders:read' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('suite-issuer')
    .setAudience('orders')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));
}

const CONFIG = `
_format_version: "3.0"
services:
  - name: orders
    url: ECHO
    routes:
      - name: orders
        paths: ["/orders"]
    plugins:
      - name: bulwark-transport
        config: { https: { enforce: false } }
      - name: bulwark-jwt
        config:
          issuers:
            - { issuer: suite-issuer, secrets: ["${SECRET}"], algorithms: [HS256], audiences: [orders] }
          forward_claims: { sub: X-Auth-Subject }
      - name: bulwark-rate-limit
        config:
          limits: [{ name: minute, limit: 2, window_seconds: 60 }]
          limit_by: [jwt-claim]
          jwt_claim: sub
          jwt_claim_header: X-Auth-Subject
`;

describe('bulwark-transport + bulwark-jwt + bulwark-rate-limit on one route', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ plugins: ['bulwark-transport', 'bulwark-jwt', 'bulwark-rate-limit'] });
    gw.configure(CONFIG);
  });
  afterAllNoFailOpen(() => [gw]);

  test('plugins run in Kong priority order: transport (2600), jwt (1460), rate-limit (915)', async () => {
    const res = await gw.kong.request({
      path: '/orders',
      headers: { authorization: `Bearer ${await token('order-reader')}` },
    });
    expect(res.status).toBe(200);
    expect(res.report.events.filter(([, p]) => p === 'access').map(([n]) => n)).toEqual([
      'bulwark-transport',
      'bulwark-jwt',
      'bulwark-rate-limit',
    ]);
    expect(echoed(res.body).headers['x-auth-subject']).toBe('order-reader');
    expect(res.report.failOpen).toEqual([]);
  });

  test("the quota follows the verified subject: a spoofed X-Auth-Subject neither escapes nor spends another subject's quota", async () => {
    const alice = `Bearer ${await token('alice')}`;
    const bob = `Bearer ${await token('bob')}`;
    expect((await gw.kong.request({ path: '/orders', headers: { authorization: alice } })).status).toBe(200);
    // alice claims to be carol: bulwark-jwt overwrites the header with the token's subject before rate limiting.
    const spoof = await gw.kong.request({
      path: '/orders',
      headers: { authorization: alice, 'x-auth-subject': 'carol' },
    });
    expect(spoof.status).toBe(200);
    expect(echoed(spoof.body).headers['x-auth-subject']).toBe('alice');
    const third = await gw.kong.request({
      path: '/orders',
      headers: { authorization: alice, 'x-auth-subject': 'carol' },
    });
    expect(third.status).toBe(429);
    expect(JSON.parse(third.body.toString())).toMatchObject({ message: expect.any(String) });
    expect(third.report.upstreamRequest).toBeUndefined();
    // bob has his own quota
    expect((await gw.kong.request({ path: '/orders', headers: { authorization: bob } })).status).toBe(200);
  });

  test('a request refused by bulwark-jwt never reaches the rate limiter (no quota spent, 401 with a Bearer challenge)', async () => {
    const res = await gw.kong.request({ path: '/orders', headers: { authorization: 'Bearer not.a.token' } });
    expect(res.status).toBe(401);
    expect(res.headers.first('www-authenticate')).toMatch(/^Bearer /);
    expect(res.report.events.map(([n]) => n)).not.toContain('bulwark-rate-limit');
    const dave = `Bearer ${await token('dave')}`;
    expect((await gw.kong.request({ path: '/orders', headers: { authorization: dave } })).status).toBe(200);
    expect((await gw.kong.request({ path: '/orders', headers: { authorization: dave } })).status).toBe(200);
  });
});
