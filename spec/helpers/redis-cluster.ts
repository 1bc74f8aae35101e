// A real Redis Cluster for tests: N `redis-server --cluster-enabled yes` processes on free ports, joined with
// `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes` (N masters, the 16384 slots split between
// them), ready when every node reports cluster_state:ok. Never a mock.
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, startRedis, type RedisServer } from './redis';

export interface RedisCluster {
  nodes: RedisServer[];
  /** host/port of every node (seed list for a client). */
  addresses: { host: string; port: number }[];
  stop(): Promise<void>;
}

async function clusterOk(port: number): Promise<boolean> {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await c.connect();
    return /cluster_state:ok/.test(await c.cluster('INFO'));
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

export async function startRedisCluster(masters = 3, timeoutMs = 20_000): Promise<RedisCluster> {
  if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  const nodes: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      // Each node keeps its cluster state file in its own temp dir (startRedis passes --dir).
      // The cluster bus port is given too: by default it is the port + 10000, which nobody checked was free.
      const busPort = await freePort();
      nodes.push(
        await startRedis([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
          '--cluster-port',
          String(busPort),
        ]),
      );
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: timeoutMs },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stderr || create.stdout}`);
    const deadline = Date.now() + timeoutMs;
    for (const n of nodes) {
      while (!(await clusterOk(n.port))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${n.port} did not reach cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, addresses: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), stop };
}
