// Redis killed mid-test and restarted: each outage policy does what it says, nothing crashes, each transition is
// logged once, and the limiter goes back to Redis by itself.
import { Redis } from 'ioredis';
import { afterAllNoFailOpen, BOTH_PLUGIN_SERVERS, runsOnPluginServers, type Gateway } from '../../helpers/emulator';
import { startRedis, type RedisServer } from '../../helpers/redis';
import { startRateLimitGateway } from './gateway';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

jest.setTimeout(60_000);

let redis: RedisServer;
let gw: Gateway;

const config = (port: number) => `
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - { name: closed, paths: ["/closed"] }
      - { name: fallback, paths: ["/fallback"] }
      - { name: open, paths: ["/open"] }
plugins:
${['closed', 'fallback', 'open']
  .map(
    (route) => `  - name: bulwark-rate-limit
    route: ${route}
    config:
      limit_by: [ip]
      on_redis_error: ${route === 'closed' ? 'fail-closed' : route === 'open' ? 'fail-open' : 'local-fallback'}
      expected_nodes: 2
      circuit_breaker: { failure_threshold: 1, open_seconds: 1 }
      limits: [{ name: minute, limit: 4, window_seconds: 60 }]
      redis: { mode: standalone, host: 127.0.0.1, port: ${port}, timeout_ms: 300, connect_timeout_ms: 300 }`,
  )
  .join('\n')}
`;

beforeAll(async () => {
  redis = await startRedis();
  gw = await startRateLimitGateway();
  gw.configure(config(redis.port));
});
afterAllNoFailOpen(() => [gw]);
afterAll(async () => {
  await redis?.stop();
});

async function statuses(path: string, ip: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push((await gw.send({ path, clientIp: ip })).status);
  }
  return out;
}

const logged = (event: string) => gw.kong.log.filter((l) => l.includes(`"event":"${event}"`)).length;

test('Redis up → down → up: fail-closed, local-fallback and fail-open each behave as configured', async () => {
  // 1. Redis up: all three limit at 4.
  for (const path of ['/closed', '/fallback', '/open'])
    expect(await statuses(path, '198.51.100.1', 5)).toEqual([200, 200, 200, 200, 429]);

  // 2. Redis killed.
  await redis.stop('SIGKILL');
  const closed = await gw.kong.request({ path: '/closed', clientIp: '198.51.100.2' });
  expect(closed.status).toBe(503);
  expect(JSON.parse(closed.body.toString())).toEqual({ message: 'Service unavailable' });
  expect(await statuses('/closed', '198.51.100.2', 5)).toEqual([503, 503, 503, 503, 503]);
  // local-fallback: limit 4 / expected_nodes 2 = 2 per node, counted in memory, and the headers say so.
  const fb = await gw.kong.request({ path: '/fallback', clientIp: '198.51.100.3' });
  expect(fb.status).toBe(200);
  expect(fb.headers.first('ratelimit-policy')).toBe('"minute";q=2;w=60');
  expect(await statuses('/fallback', '198.51.100.3', 3)).toEqual([200, 429, 429]);
  // fail-open: everything passes, without rate-limit headers (nothing was counted).
  const open = await gw.kong.request({ path: '/open', clientIp: '198.51.100.4' });
  expect(open.status).toBe(200);
  expect(open.headers.first('ratelimit')).toBeUndefined();
  expect(await statuses('/open', '198.51.100.4', 8)).toEqual(Array(8).fill(200));
  // One breaker for the one Redis: the outage was logged once, not per request.
  expect(logged('redis_unavailable')).toBe(1);

  // 3. Redis back (empty: a restart without persistence). Recovery needs no action: the breaker probes Redis
  // once per second and ioredis reconnects with capped backoff.
  await redis.restart();
  const deadline = Date.now() + 20_000;
  let status = 0;
  while (Date.now() < deadline) {
    status = (await gw.kong.request({ path: '/closed', clientIp: '198.51.100.5' })).status;
    if (status === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(status).toBe(200);
  // The probes refused while Redis came back were not counted later: only the admitted request was.
  expect(await statuses('/closed', '198.51.100.5', 4)).toEqual([200, 200, 200, 429]);
  expect(logged('redis_recovered')).toBe(1);
  expect(logged('redis_unavailable')).toBe(1);
  // Counting in Redis again, at the full limit.
  expect(await statuses('/fallback', '198.51.100.6', 5)).toEqual([200, 200, 200, 200, 429]);
  expect(await statuses('/open', '198.51.100.6', 5)).toEqual([200, 200, 200, 200, 429]);
});

// Redis alive but slow: CLIENT PAUSE WRITE holds every script for 1.5 s, longer than timeout_ms (300 ms). The request
// is answered by the outage policy; when Redis then runs the held decision and admits it, that unit belongs to a
// request that fail-closed refused, so the limiter gives it back (REFUND_SCRIPT). Under fail-open the request was
// admitted, so its unit stands.
test('a decision Redis admits after timeout_ms: given back under fail-closed, kept under fail-open', async () => {
  const admin = new Redis({ port: redis.port, host: '127.0.0.1' });
  try {
    const untilRecovered = async (path: string, ip: string) => {
      const deadline = Date.now() + 20_000;
      let status = 0;
      while (Date.now() < deadline && status !== 200) {
        status = (await gw.kong.request({ path, clientIp: ip })).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
    };

    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    expect(await statuses('/closed', '198.51.100.20', 1)).toEqual([503]);
    await untilRecovered('/closed', '198.51.100.21');
    // The refused request's unit was counted when the pause ended, then given back: the full limit of 4 remains.
    expect(await statuses('/closed', '198.51.100.20', 5)).toEqual([200, 200, 200, 200, 429]);

    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    expect(await statuses('/open', '198.51.100.22', 1)).toEqual([200]);
    await untilRecovered('/closed', '198.51.100.23'); // fail-open answers 200 either way: ask a fail-closed route
    // fail-open admitted that request: its unit counts, 3 remain.
    expect(await statuses('/open', '198.51.100.22', 4)).toEqual([200, 200, 200, 429]);
  } finally {
    admin.disconnect();
  }
});
