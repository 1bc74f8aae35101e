// bulwark-rate-limit through the Kong emulator with the real plugin server, a real echo upstream and a real Redis.
import { Redis } from 'ioredis';
import { afterAllNoFailOpen, BOTH_PLUGIN_SERVERS, runsOnPluginServers, type Gateway } from '../../helpers/emulator';
import { startRedis, type RedisServer } from '../../helpers/redis';
import { bulwarkConnections, probe, startRateLimitGateway } from './gateway';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const ALICE = '2b0bd4a4-6b3e-4b3c-9a8e-0b1f7f0a0001';
const BOB = '2b0bd4a4-6b3e-4b3c-9a8e-0b1f7f0a0002';

function config(redisPort: number, extra = ''): string {
  const redis = `{ mode: standalone, host: 127.0.0.1, port: ${redisPort} }`;
  return `
_format_version: "3.0"
consumers:
  - { id: ${ALICE}, username: alice }
  - { id: ${BOB}, username: bob }
services:
  - name: api
    url: ECHO
    routes:
      - { name: mem, paths: ["/mem"] }
      - { name: redis, paths: ["/redis"] }
      - { name: consumer, paths: ["/consumer"] }
      - { name: claim, paths: ["/claim"] }
      - { name: xff, paths: ["/xff"] }
      - { name: cost, paths: ["/cost"] }
      - { name: hidden, paths: ["/hidden"] }
      - { name: month, paths: ["/month"] }
plugins:
  - name: probe
  - name: bulwark-rate-limit
    route: mem
    config:
      limit_by: [ip]
      legacy_headers: true
      limits: [{ name: minute, limit: 3, window_seconds: 60 }]
  - name: bulwark-rate-limit
    route: redis
    config:
      limits:
        - { name: burst, limit: 10, window_seconds: 10, algorithm: gcra, burst: 4 }
        - { name: minute, limit: 6, window_seconds: 60 }
      redis: ${redis}
  - name: bulwark-rate-limit
    route: consumer
    config:
      limits: [{ name: minute, limit: 2, window_seconds: 60 }]
      redis: ${redis}
  - name: bulwark-rate-limit
    route: claim
    config:
      limit_by: [jwt-claim]
      jwt_claim: tenant.id
      limits: [{ name: minute, limit: 2, window_seconds: 60 }]
      redis: ${redis}
  - name: bulwark-rate-limit
    route: xff
    config:
      limit_by: [ip]
      trusted_proxies: ["10.0.0.0/8"]
      limits: [{ name: minute, limit: 1, window_seconds: 60 }]
      redis: ${redis}
  - name: bulwark-rate-limit
    route: cost
    config:
      limit_by: [ip]
      cost: { by_method: { POST: 3 } }
      limits: [{ name: minute, limit: 5, window_seconds: 60, algorithm: fixed-window }]
      redis: ${redis}
  - name: bulwark-rate-limit
    route: hidden
    config:
      limit_by: [ip]
      hide_client_headers: true
      limits: [{ name: minute, limit: 1, window_seconds: 60 }]
      redis: ${redis}
  - name: bulwark-rate-limit
    route: month
    config:
      limit_by: [ip]
      time_zone: Pacific/Auckland
      limits: [{ name: monthly, limit: 2, calendar: month }]
      redis: ${redis}
${extra}`;
}

let gw: Gateway;
let redisServer: RedisServer;
let redis: Redis;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis({ port: redisServer.port, host: redisServer.host });
  gw = await startRateLimitGateway({ probe: true });
  gw.configure(config(redisServer.port));
});
afterAllNoFailOpen(() => [gw]);
afterAll(async () => {
  redis.disconnect();
  await redisServer?.stop();
});

type Req = Parameters<Gateway['kong']['request']>[0];
const send = (r: Req) => gw.send(r);

async function evalshaCalls(): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

/** PDK calls the plugin made: its RPCs minus the HandleEvent that starts the event (each PDK step is one RPC). */
const pdkCalls = (res: { report: { rpcCallsByPlugin: Record<string, number> } }) =>
  (res.report.rpcCallsByPlugin['bulwark-rate-limit'] ?? 0) - 1;

test('in-memory store: limit reached → 429 with Kong body, IETF and legacy headers, Retry-After; 2 RPCs per request', async () => {
  // Warm up both emulated workers (their first request also starts the instance).
  await send({ path: '/mem', clientIp: '198.51.100.200' });
  await send({ path: '/mem', clientIp: '198.51.100.201' });
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await send({ path: '/mem', clientIp: '198.51.100.1' });
    expect(res.status).toBe(200);
    expect(res.report.upstreamRequest).toBeDefined();
    seen.push(res.headers.first('ratelimit') ?? '');
    expect(res.headers.first('ratelimit-policy')).toBe('"minute";q=3;w=60');
    expect(res.headers.first('x-ratelimit-limit-minute')).toBe('3');
    expect(res.headers.first('x-ratelimit-remaining-minute')).toBe(String(2 - i));
    // limit_by ip: client.getIp + response.setHeaders + the decision record bulwark-guard checks, nothing else.
    expect(pdkCalls(res)).toBe(3);
  }
  expect(seen.map((h) => /r=(\d+)/.exec(h)?.[1])).toEqual(['2', '1', '0']);
  expect(seen[0]).toMatch(/^"minute";r=2;t=\d+$/);
  const refused = await send({ path: '/mem', clientIp: '198.51.100.1' });
  expect(refused.status).toBe(429);
  expect(JSON.parse(refused.body.toString())).toEqual({ message: 'API rate limit exceeded' });
  expect(Number(refused.headers.first('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(refused.headers.first('ratelimit')).toMatch(/^"minute";r=0;t=\d+$/);
  expect(refused.report.upstreamRequest).toBeUndefined();
  // Another client is not affected.
  expect((await send({ path: '/mem', clientIp: '198.51.100.2' })).status).toBe(200);
});

test('Redis: two limits decided with ONE EVALSHA per request; the stricter one refuses', async () => {
  const before = await evalshaCalls();
  const statuses: number[] = [];
  let policy = '';
  for (let i = 0; i < 6; i++) {
    const res = await send({ path: '/redis', clientIp: '203.0.113.7' });
    statuses.push(res.status);
    if (res.status === 200) policy = res.headers.first('ratelimit-policy') ?? '';
  }
  // gcra burst 4 back to back; the 5th and 6th come faster than one per second.
  expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  expect(policy).toBe('"burst";q=10;w=10;bulwark-burst=4, "minute";q=6;w=60');
  const after = await evalshaCalls();
  // One EVALSHA per request (the script may have been EVAL'd once on first use instead).
  expect(after - before).toBeGreaterThanOrEqual(5);
  expect(after - before).toBeLessThanOrEqual(6);
});

test('limit_by consumer: each authenticated consumer has its own bucket; anonymous falls back to the client IP', async () => {
  const as = (id: string) => probe([['client.authenticate', { id }, null]]);
  expect((await send({ path: '/consumer', headers: as(ALICE), clientIp: '192.0.2.1' })).status).toBe(200);
  expect((await send({ path: '/consumer', headers: as(ALICE), clientIp: '192.0.2.2' })).status).toBe(200);
  // Alice is out, whatever her address.
  expect((await send({ path: '/consumer', headers: as(ALICE), clientIp: '192.0.2.3' })).status).toBe(429);
  expect((await send({ path: '/consumer', headers: as(BOB), clientIp: '192.0.2.1' })).status).toBe(200);
  // Anonymous requests are counted per IP.
  expect((await send({ path: '/consumer', clientIp: '192.0.2.9' })).status).toBe(200);
  expect((await send({ path: '/consumer', clientIp: '192.0.2.9' })).status).toBe(200);
  expect((await send({ path: '/consumer', clientIp: '192.0.2.9' })).status).toBe(429);
  expect((await send({ path: '/consumer', clientIp: '192.0.2.10' })).status).toBe(200);
});

/** A caller identity as bulwark-jwt publishes it (plugins/lib/identity.ts), set by the probe plugin. */
function identityProbe(claims: Record<string, unknown>, credentialId = 'cred-1'): Record<string, string> {
  const record = {
    v: 1,
    authenticated: true,
    authenticatedBy: 'bulwark-jwt',
    method: 'jwt',
    subject: 'u',
    credential: { kind: 'jwt', id: credentialId },
    scopes: [],
    groups: [],
    claims,
  };
  return probe([['ctx.shared.set', 'bulwark.identity', record]]);
}

test('limit_by jwt-claim reads the claim from the caller identity (kong.ctx.shared bulwark.identity), 1 RPC', async () => {
  const tenant = (id: string) => identityProbe({ tenant: { id } });
  // Warm up both emulated workers (their first request also starts the instance).
  await send({ path: '/claim', headers: tenant('w1'), clientIp: '192.0.2.20' });
  await send({ path: '/claim', headers: tenant('w2'), clientIp: '192.0.2.20' });
  const measured = await send({ path: '/claim', headers: tenant('t0'), clientIp: '192.0.2.20' });
  expect(measured.status).toBe(200);
  // ctx.shared.get + response.setHeaders + the decision record: no getConsumer, no getIp.
  expect(pdkCalls(measured)).toBe(3);
  expect((await send({ path: '/claim', headers: tenant('t1'), clientIp: '192.0.2.20' })).status).toBe(200);
  expect((await send({ path: '/claim', headers: tenant('t1'), clientIp: '192.0.2.21' })).status).toBe(200);
  // The old contract (bulwark.jwt.claims, which no plugin wrote) is not read: that caller falls back to its IP.
  const legacy = probe([['ctx.shared.set', 'bulwark.jwt.claims', { tenant: { id: 't1' } }]]);
  expect((await send({ path: '/claim', headers: legacy, clientIp: '192.0.2.23' })).status).toBe(200);
  expect((await send({ path: '/claim', headers: tenant('t1'), clientIp: '192.0.2.22' })).status).toBe(429);
  expect((await send({ path: '/claim', headers: tenant('t2'), clientIp: '192.0.2.20' })).status).toBe(200);
  // No claims → the client IP (192.0.2.20 has not been counted as an IP yet).
  expect((await send({ path: '/claim', clientIp: '192.0.2.20' })).status).toBe(200);
});

test('client IP only through trusted proxies: a spoofed X-Forwarded-For from an untrusted peer is ignored', async () => {
  expect(
    (await send({ path: '/xff', clientIp: '198.51.100.50', headers: { 'x-forwarded-for': '1.1.1.1' } })).status,
  ).toBe(200);
  expect(
    (await send({ path: '/xff', clientIp: '198.51.100.50', headers: { 'x-forwarded-for': '2.2.2.2' } })).status,
  ).toBe(429);
  // Behind a trusted proxy, the forwarded client counts.
  expect(
    (await send({ path: '/xff', clientIp: '10.1.1.1', headers: { 'x-forwarded-for': '203.0.113.80' } })).status,
  ).toBe(200);
  expect(
    (await send({ path: '/xff', clientIp: '10.1.1.2', headers: { 'x-forwarded-for': '203.0.113.81' } })).status,
  ).toBe(200);
  expect(
    (await send({ path: '/xff', clientIp: '10.1.1.3', headers: { 'x-forwarded-for': '203.0.113.80' } })).status,
  ).toBe(429);
});

test('cost per method: POST costs 3 units', async () => {
  const ip = '198.51.100.60';
  const get = await send({ path: '/cost', clientIp: ip });
  expect(get.headers.first('ratelimit')).toMatch(/r=4;/);
  const post = await send({ path: '/cost', method: 'POST', body: '{}', clientIp: ip });
  expect(post.status).toBe(200);
  expect(post.headers.first('ratelimit')).toMatch(/r=1;/);
  expect((await send({ path: '/cost', method: 'POST', body: '{}', clientIp: ip })).status).toBe(429);
  expect((await send({ path: '/cost', clientIp: ip })).status).toBe(200); // a GET still fits
});

test('hide_client_headers: no rate-limit header on admitted or refused responses, and no setHeaders RPC', async () => {
  await send({ path: '/hidden', clientIp: '198.51.100.71' });
  await send({ path: '/hidden', clientIp: '198.51.100.72' });
  const ok = await send({ path: '/hidden', clientIp: '198.51.100.70' });
  expect(ok.status).toBe(200);
  expect(pdkCalls(ok)).toBe(2); // getIp + the decision record (log.set_serialize_value)
  const no = await send({ path: '/hidden', clientIp: '198.51.100.70' });
  expect(no.status).toBe(429);
  for (const h of ['ratelimit', 'ratelimit-policy', 'retry-after', 'x-ratelimit-limit-minute']) {
    expect(ok.headers.first(h)).toBeUndefined();
    expect(no.headers.first(h)).toBeUndefined();
  }
});

test('calendar month quota in a time zone: w is this month’s length there', async () => {
  const res = await send({ path: '/month', clientIp: '198.51.100.90' });
  expect(res.status).toBe(200);
  const w = Number(/w=(\d+)/.exec(res.headers.first('ratelimit-policy') ?? '')?.[1]);
  expect([28, 29, 30, 31].map((d) => d * 86400)).toContain(w);
  expect((await send({ path: '/month', clientIp: '198.51.100.90' })).status).toBe(200);
  const refused = await send({ path: '/month', clientIp: '198.51.100.90' });
  expect(refused.status).toBe(429);
  // Retry-After points at the 1st of next month (Auckland time): more than 0, at most 31 days.
  const retry = Number(refused.headers.first('retry-after'));
  expect(retry).toBeGreaterThan(0);
  expect(retry).toBeLessThanOrEqual(31 * 86400);
});

test('config changes (new instances each time) reuse the Redis connection: no connection growth', async () => {
  await send({ path: '/redis', clientIp: '203.0.113.99' });
  const before = await bulwarkConnections(redis);
  expect(before).toBeGreaterThanOrEqual(1);
  for (let i = 0; i < 8; i++) {
    // A different config (error_message) each time: Kong starts new instances and closes the old ones.
    gw.configure(
      config(redisServer.port).replace(
        'limit_by: [jwt-claim]',
        `limit_by: [jwt-claim]\n      error_message: "slow down ${i}"`,
      ),
    );
    const res = await send({ path: '/redis', clientIp: `203.0.113.${100 + i}` });
    expect(res.status).toBe(200);
  }
  expect(await bulwarkConnections(redis)).toBe(before);
});
