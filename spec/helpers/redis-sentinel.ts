// A real Redis Sentinel setup for tests: one master, one replica and three sentinels (quorum 2), each a
// `redis-server` on a free port in its own temp dir. Ready when every sentinel sees the master, the replica (with a
// working replication link) and the two other sentinels. `failover()` moves the master role (SENTINEL FAILOVER, or
// a SIGKILL of the master) and waits until every sentinel names the new master. Never a mock.
//
// Timings are shortened for tests: down-after-milliseconds 1000 (a killed master is subjectively down after 1 s),
// failover-timeout 4000, diskless replication without delay (Redis 7 waits 5 s by default before a full sync).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisServerBinary, startRedis, waitForPort, type RedisServer } from './redis';
import type { TestCertificates } from './redis-tls';

export interface Address {
  host: string;
  port: number;
}

export interface RedisSentinelOptions {
  /** Name of the monitored master group (default "bulwark-master"). */
  masterName?: string;
  /**
   * ACL user for clients on the data nodes (master and replica): `user default off` is NOT set, because the
   * sentinels and the replica authenticate as `default` with `adminPassword`; the client user gets `~* +@all`.
   */
  dataUser?: { username: string; password: string };
  /** Password of the `default` user on the data nodes (requirepass, masterauth, sentinel auth-pass). */
  adminPassword?: string;
  /** requirepass on the sentinels (they authenticate to each other with it: sentinel sentinel-pass). */
  sentinelPassword?: string;
  /** An extra ACL user on the sentinels, for clients that authenticate with a username (Redis >= 6.2). */
  sentinelUser?: { username: string; password: string };
  /**
   * TLS only, everywhere: data nodes and sentinels listen on a TLS port (plain-text port 0), replication and the
   * sentinels' own connections use TLS (tls-replication). Clients need no certificate. See redis-tls.ts.
   */
  tls?: TestCertificates;
}

export interface RedisSentinelSetup {
  masterName: string;
  sentinels: Address[];
  /** The data nodes, the initial master first. */
  dataNodes: RedisServer[];
  /** The master as the first sentinel reports it. */
  master(): Promise<Address>;
  /**
   * Moves the master role and resolves with the new master once every live sentinel names it and it answers ROLE
   * as master. `kill: true` SIGKILLs the current master (an outage, detected after down-after-milliseconds);
   * otherwise `SENTINEL FAILOVER` (the old master stays up and is turned into a replica by the sentinels later).
   */
  failover(opts?: { kill?: boolean; timeoutMs?: number }): Promise<Address>;
  /**
   * Makes a live former master a replica of the current master at once (REPLICAOF) and waits until its link is up,
   * instead of waiting ~10 s for the sentinels to demote it: afterwards the setup can fail over again.
   */
  rejoinAsReplica(node: Address, timeoutMs?: number): Promise<void>;
  /** A client on a data node authenticated as the admin (`default`) user. Disconnect it yourself. */
  adminClient(node: Address): Redis;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SentinelProcess {
  port: number;
  dir: string;
  process: ChildProcess;
}

async function startSentinel(
  masterName: string,
  master: Address,
  opts: RedisSentinelOptions,
): Promise<SentinelProcess> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-sentinel-'));
  const conf = path.join(dir, 'sentinel.conf');
  const lines = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `logfile ${path.join(dir, 'sentinel.log')}`,
    `sentinel monitor ${masterName} ${master.host} ${master.port} 2`,
    `sentinel down-after-milliseconds ${masterName} 1000`,
    `sentinel failover-timeout ${masterName} 4000`,
    `sentinel parallel-syncs ${masterName} 1`,
  ];
  if (opts.adminPassword !== undefined) lines.push(`sentinel auth-pass ${masterName} ${opts.adminPassword}`);
  if (opts.sentinelPassword !== undefined)
    lines.push(`requirepass ${opts.sentinelPassword}`, `sentinel sentinel-pass ${opts.sentinelPassword}`);
  if (opts.sentinelUser !== undefined)
    lines.push(`user ${opts.sentinelUser.username} on >${opts.sentinelUser.password} allchannels +@all`);
  if (opts.tls !== undefined) {
    lines[0] = 'port 0';
    lines.push(
      `tls-port ${port}`,
      `tls-cert-file ${opts.tls.serverCertFile}`,
      `tls-key-file ${opts.tls.serverKeyFile}`,
      `tls-ca-cert-file ${opts.tls.caFile}`,
      'tls-auth-clients no',
      'tls-replication yes',
    );
  }
  // Sentinel rewrites its config file (it must be writable): it records the replicas, the other sentinels, epochs.
  fs.writeFileSync(conf, `${lines.join('\n')}\n`);
  // The caller records the process before waiting for its port, so a sentinel that never listens is stopped too.
  return { port, dir, process: spawn(redisServerBinary(), [conf, '--sentinel'], { stdio: 'ignore' }) };
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

function fieldsOf(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(flat)) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

export async function startRedisSentinel(
  opts: RedisSentinelOptions = {},
  timeoutMs = 20_000,
): Promise<RedisSentinelSetup> {
  const masterName = opts.masterName ?? 'bulwark-master';
  const dataNodes: RedisServer[] = [];
  const sentinelProcs: SentinelProcess[] = [];
  const sentinelClients: Redis[] = [];
  const stop = async () => {
    for (const c of sentinelClients) c.disconnect();
    await Promise.all([...sentinelProcs.map((s) => stopProcess(s.process)), ...dataNodes.map((n) => n.stop())]);
    for (const dir of [...sentinelProcs.map((s) => s.dir), ...dataNodes.map((n) => n.dir)])
      fs.rmSync(dir, { recursive: true, force: true });
  };

  const startDataNode = async (extra: string[]): Promise<RedisServer> => {
    if (opts.tls === undefined) return startRedis([...dataArgs(), ...extra]);
    const port = await freePort();
    const t = opts.tls;
    // startRedis passes `--port <port>` first; the later `--port 0` wins: TLS only.
    const tlsArgs = [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      t.serverCertFile,
      '--tls-key-file',
      t.serverKeyFile,
    ];
    tlsArgs.push('--tls-ca-cert-file', t.caFile, '--tls-auth-clients', 'no', '--tls-replication', 'yes');
    return startRedis([...tlsArgs, ...dataArgs(), ...extra], port);
  };
  const tlsClientOptions = opts.tls !== undefined ? { tls: { ca: opts.tls.ca } } : {};
  const dataArgs = (): string[] => {
    const args = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'];
    if (opts.adminPassword !== undefined)
      args.push('--requirepass', opts.adminPassword, '--masterauth', opts.adminPassword);
    if (opts.dataUser !== undefined)
      args.push('--user', opts.dataUser.username, 'on', `>${opts.dataUser.password}`, '~*', '&*', '+@all');
    return args;
  };
  const adminClient = (node: Address) =>
    new Redis({
      host: node.host,
      port: node.port,
      ...(opts.adminPassword !== undefined ? { password: opts.adminPassword } : {}),
      ...tlsClientOptions,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
  const sentinelClient = (port: number) => {
    const c = new Redis({
      host: '127.0.0.1',
      port,
      ...(opts.sentinelPassword !== undefined ? { password: opts.sentinelPassword } : {}),
      ...tlsClientOptions,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 100,
    });
    c.on('error', () => undefined);
    sentinelClients.push(c);
    return c;
  };
  const masterAddr = async (c: Redis): Promise<Address | undefined> => {
    const r = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as string[] | null;
    return r ? { host: r[0]!, port: Number(r[1]) } : undefined;
  };
  const liveSentinels = () => sentinelProcs.filter((s) => s.process.exitCode === null && s.process.signalCode === null);

  try {
    const master = await startDataNode([]);
    dataNodes.push(master);
    dataNodes.push(await startDataNode(['--replicaof', '127.0.0.1', String(master.port)]));
    for (let i = 0; i < 3; i++) {
      const sentinel = await startSentinel(masterName, { host: '127.0.0.1', port: master.port }, opts);
      sentinelProcs.push(sentinel);
      await waitForPort(sentinel.port, 10_000, 'redis sentinel');
    }
    const clients = sentinelProcs.map((s) => sentinelClient(s.port));

    // Ready: every sentinel knows the 2 others and a replica whose replication link is up.
    const deadline = Date.now() + timeoutMs;
    for (const c of clients) {
      for (;;) {
        try {
          const m = fieldsOf(await c.call('SENTINEL', 'MASTER', masterName));
          const replicas = ((await c.call('SENTINEL', 'REPLICAS', masterName)) as unknown[]).map(fieldsOf);
          const replicaOk = replicas.some(
            (r) => r['master-link-status'] === 'ok' && !/down|disconnected/.test(r['flags'] ?? ''),
          );
          if (m['flags'] === 'master' && m['num-other-sentinels'] === '2' && replicaOk) break;
        } catch {
          // not answering yet
        }
        if (Date.now() > deadline)
          throw new Error('redis sentinels did not agree on the master, replica and each other');
        await sleep(100);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const sentinels = sentinelProcs.map((s) => ({ host: '127.0.0.1', port: s.port }));
  const setup: RedisSentinelSetup = {
    masterName,
    sentinels,
    dataNodes,
    adminClient,
    async master() {
      const a = await masterAddr(sentinelClients[0]!);
      if (!a) throw new Error(`sentinel does not know master ${masterName}`);
      return a;
    },
    async failover({ kill = false, timeoutMs: limitMs = 20_000 } = {}) {
      const before = await setup.master();
      const deadline = Date.now() + limitMs;
      if (kill) {
        const node = dataNodes.find((n) => n.port === before.port);
        if (!node) throw new Error(`master ${before.port} is not one of this setup's nodes`);
        await node.stop('SIGKILL');
      } else {
        // NOGOODSLAVE when the sentinel's view of the replica is stale (INFO every 10 s): retry.
        for (;;) {
          try {
            await sentinelClients[0]!.call('SENTINEL', 'FAILOVER', masterName);
            break;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await sleep(200);
          }
        }
      }
      for (;;) {
        const live = liveSentinels().map((s) => sentinelClients[sentinelProcs.indexOf(s)]!);
        const seen = await Promise.all(live.map((c) => masterAddr(c).catch(() => undefined)));
        const first = seen[0];
        if (first && first.port !== before.port && seen.every((a) => a?.port === first.port)) {
          const c = adminClient(first);
          try {
            await c.connect();
            const role = (await c.call('ROLE')) as unknown[];
            if (role[0] === 'master') return first;
          } catch {
            // not yet
          } finally {
            c.disconnect();
          }
        }
        if (Date.now() > deadline)
          throw new Error(`no failover within ${limitMs} ms (sentinels say ${JSON.stringify(seen)})`);
        await sleep(100);
      }
    },
    async rejoinAsReplica(node, limitMs = 10_000) {
      const master = await setup.master();
      const c = adminClient(node);
      try {
        await c.connect();
        await c.call('REPLICAOF', master.host, String(master.port));
        const deadline = Date.now() + limitMs;
        while (!/master_link_status:up/.test(await c.info('replication'))) {
          if (Date.now() > deadline) throw new Error(`${node.port} did not sync from ${master.port}`);
          await sleep(50);
        }
      } finally {
        c.disconnect();
      }
    },
    stop,
  };
  return setup;
}
