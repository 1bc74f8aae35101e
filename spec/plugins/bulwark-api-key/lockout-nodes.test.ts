// The lockout across Kong nodes: two emulators, each with its own plugin-server process(es), share one real Redis.
// Invalid keys sent alternately to both nodes are counted together, the lock one node sets is honoured by the other,
// and a valid key still works on both. Without Redis each node counts alone (the contrast shows what Redis adds).
import { Redis } from 'ioredis';
import { issueKey } from '../../../plugins/bulwark-api-key/key-admin';
import { generateKey } from '../../../plugins/bulwark-api-key/key-format';
import { serializeKeyRecord } from '../../../plugins/bulwark-api-key/key-record';
import type { Gateway } from '../../helpers/emulator';
import { startRedis, type RedisServer } from '../../helpers/redis';
import { pluginLogLines, startApiKeyGateway } from './gateway';
import { BOTH_PLUGIN_SERVERS, runsOnPluginServers } from '../../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const valid = issueKey({ prefix: 'bwk_test', id: 'partner-1' }, Date.now());

function config(redisPort: number): string {
  const keys = JSON.stringify([serializeKeyRecord(valid.record)]);
  return `
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - { name: shared, paths: ["/shared"] }
      - { name: local, paths: ["/local"] }
plugins:
  - name: bulwark-api-key
    route: shared
    config:
      key_prefixes: [bwk_test]
      lockout: { max_failures: 4, window_seconds: 60, lockout_seconds: 30 }
      redis: { mode: standalone, host: 127.0.0.1, port: ${redisPort}, key_prefix: nodes-ak }
      keys: ${keys}
  - name: bulwark-api-key
    route: local
    config:
      key_prefixes: [bwk_test]
      lockout: { max_failures: 4, window_seconds: 60, lockout_seconds: 30 }
      keys: ${keys}
`;
}

const nodes: Gateway[] = [];
const logs: string[][] = [[], []];
let redisServer: RedisServer;
let redis: Redis;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis({ port: redisServer.port, host: redisServer.host });
  for (let i = 0; i < 2; i++) {
    const gw = await startApiKeyGateway(logs[i]);
    gw.configure(config(redisServer.port));
    nodes.push(gw);
  }
}, 120_000);
afterAll(async () => {
  for (const gw of nodes) {
    expect(gw.kong.unhandledExceptions()).toEqual([]);
    await gw.stop();
  }
  redis?.disconnect();
  await redisServer?.stop();
});

async function status(node: number, path: string, ip: string, key: string): Promise<number> {
  const res = await nodes[node]!.kong.request({ path, clientIp: ip, headers: { 'x-api-key': key } });
  expect(res.report.failOpen).toEqual([]);
  return res.status;
}

test('two nodes share the count in Redis: failures alternating between them lock the IP on both; the valid key works on both', async () => {
  const ip = '203.0.113.50';
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push(await status(i % 2, '/shared', ip, generateKey('bwk_test')));
  expect(statuses).toEqual([401, 401, 401, 429]); // the 4th failure (on node 1) locks
  expect(pluginLogLines(logs[1]!)).toContainEqual(
    expect.objectContaining({ event: 'client_locked_out', ip, counter: 'redis' }),
  );
  expect(await redis.pttl(`nodes-ak:{lockout:${ip}}:lock`)).toBeGreaterThan(20_000);
  // Node 0 never saw the locking failure, and refuses all the same (Redis says so).
  expect(await status(0, '/shared', ip, generateKey('bwk_test'))).toBe(429);
  expect(await status(0, '/shared', ip, 'not-a-key')).toBe(429);
  // A valid key from the locked IP is never locked out, on either node.
  expect(await status(0, '/shared', ip, valid.key)).toBe(200);
  expect(await status(1, '/shared', ip, valid.key)).toBe(200);
  // Another IP is not affected.
  expect(await status(0, '/shared', '203.0.113.51', generateKey('bwk_test'))).toBe(401);
});

test('once a node knows the IP is locked, further invalid keys from it cost no Redis command', async () => {
  const ip = '203.0.113.60';
  for (let i = 0; i < 4; i++) await status(0, '/shared', ip, generateKey('bwk_test'));
  const before = Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
  for (let i = 0; i < 10; i++) expect(await status(0, '/shared', ip, generateKey('bwk_test'))).toBe(429);
  const after = Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
  expect(after - before).toBe(0);
});

test('without Redis each node counts alone: the same alternating failures lock nobody', async () => {
  const ip = '203.0.113.70';
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push(await status(i % 2, '/local', ip, generateKey('bwk_test')));
  expect(statuses).toEqual([401, 401, 401, 401, 401, 401]); // 3 per node, below 4
});
