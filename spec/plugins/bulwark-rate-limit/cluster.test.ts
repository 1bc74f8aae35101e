// A real 3-master Redis Cluster: counters of different clients land in different slots on different masters,
// the keys of one request (three limits) share a slot through their hash tag, and limits hold across slots.
import { Cluster } from 'ioredis';
import { afterAllNoFailOpen, BOTH_PLUGIN_SERVERS, runsOnPluginServers, type Gateway } from '../../helpers/emulator';
import { startRedisCluster, type RedisCluster } from '../../helpers/redis-cluster';
import { startRateLimitGateway } from './gateway';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

jest.setTimeout(60_000);

let cluster: RedisCluster;
let gw: Gateway;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  gw = await startRateLimitGateway();
  gw.configure(`
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes: [{ name: r, paths: ["/"] }]
plugins:
  - name: bulwark-rate-limit
    config:
      limit_by: [header]
      header_name: x-api-key
      on_redis_error: fail-closed
      namespace: cluster-test
      limits:
        - { name: second, limit: 100, window_seconds: 1, algorithm: gcra }
        - { name: minute, limit: 3, window_seconds: 60 }
        - { name: day, limit: 1000, calendar: day }
      redis:
        mode: cluster
        cluster_nodes: [{ host: 127.0.0.1, port: ${cluster.addresses[0]!.port} }]
        timeout_ms: 2000
`);
});
afterAllNoFailOpen(() => [gw]);
afterAll(async () => {
  await cluster?.stop();
});

test('30 clients over the cluster: each gets exactly its 3 per minute; keys spread over every master', async () => {
  for (let c = 0; c < 30; c++) {
    const got: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await gw.send({ path: '/', headers: { 'x-api-key': `client-${c}` } });
      expect(res.report.failOpen).toEqual([]);
      got.push(res.status);
    }
    expect({ c, got }).toEqual({ c, got: [200, 200, 200, 429] });
  }
  const client = new Cluster(cluster.addresses);
  try {
    await new Promise((resolve) => client.once('ready', resolve));
    expect(client.nodes('master')).toHaveLength(3);
    const perMaster = await Promise.all(client.nodes('master').map((n) => n.keys('bulwark-rl:{cluster-test:*')));
    // The minute and day counters of 30 clients (a gcra key lives only until its bucket is full again: ~10 ms).
    const all = perMaster.flat();
    expect(all.filter((k) => k.includes('}:minute:')).length).toBe(30);
    expect(all.filter((k) => k.includes('}:day:')).length).toBe(30);
    // 30 identities hash to slots owned by every master.
    for (const keys of perMaster) expect(keys.length).toBeGreaterThan(0);
  } finally {
    client.disconnect();
  }
});
