// plugins/lib/redis.ts: the shared connection registry, against real redis-server processes.
import { Redis } from 'ioredis';
import {
  RedisRegistry,
  RedisTimeoutError,
  STALE_CONNECTION_MS,
  STALE_CONNECTION_TIMEOUTS,
  reconnectDelayMs,
  redisSettingsKey,
  whenReady,
  withTimeout,
  type RedisSettings,
} from '../../plugins/lib/redis';
import { BlackholeProxy } from '../helpers/blackhole-proxy';
import { startRedis, type RedisServer } from '../helpers/redis';

const base = (port: number, extra: Partial<RedisSettings> = {}): RedisSettings => ({
  mode: 'standalone',
  host: '127.0.0.1',
  port,
  database: 0,
  sentinels: [],
  clusterNodes: [],
  tls: { enabled: false, verify: true },
  connectTimeoutMs: 1000,
  commandTimeoutMs: 1000,
  ...extra,
});

async function bulwarkClients(admin: Redis): Promise<number> {
  return String(await admin.client('LIST'))
    .split('\n')
    .filter((l) => /\bname=bulwark\b/.test(l)).length;
}

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  // An ACL user next to the default one; the default user needs a password too.
  server = await startRedis([
    '--requirepass',
    'rootpw',
    '--user',
    'limiter',
    'on',
    '>s3cret',
    '~bulwark-rl:*',
    '+@all',
  ]);
  admin = new Redis({ port: server.port, host: server.host, password: 'rootpw' });
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});

describe('redisSettingsKey', () => {
  test('equal settings give equal keys whatever the order of seed nodes; secrets never appear in clear', () => {
    const a = base(1, {
      mode: 'cluster',
      clusterNodes: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
      ],
      password: 'hunter2',
    });
    const b = base(1, {
      mode: 'cluster',
      clusterNodes: [
        { host: 'b', port: 2 },
        { host: 'a', port: 1 },
      ],
      password: 'hunter2',
    });
    expect(redisSettingsKey(a)).toBe(redisSettingsKey(b));
    expect(redisSettingsKey(a)).not.toContain('hunter2');
    expect(redisSettingsKey({ ...a, password: 'other' })).not.toBe(redisSettingsKey(a));
    expect(redisSettingsKey({ ...a, commandTimeoutMs: 5 })).not.toBe(redisSettingsKey(a));
  });
});

describe('RedisRegistry', () => {
  test('ACL user and password; equal settings share ONE connection however many times they are acquired', async () => {
    const registry = new RedisRegistry({ sweepEveryMs: 0 });
    try {
      const settings = base(server.port, { username: 'limiter', password: 's3cret' });
      const before = await bulwarkClients(admin);
      for (let i = 0; i < 50; i++) {
        // A fresh but equal settings object each time, as a restarted plugin instance would build.
        const entry = registry.acquire({ ...settings, tls: { ...settings.tls } });
        expect(await entry.client.set(`bulwark-rl:k${i}`, '1')).toBe('OK');
      }
      expect(registry.size).toBe(1);
      expect(await bulwarkClients(admin)).toBe(before + 1);
      // The ACL applies: the user may not touch other keys.
      await expect(registry.acquire(settings).client.set('other:k', '1')).rejects.toThrow(/NOPERM/);
    } finally {
      await registry.closeAll();
    }
  });

  test('a wrong password fails the command (no crash, no unhandled error event)', async () => {
    const registry = new RedisRegistry({ sweepEveryMs: 0 });
    const errors: string[] = [];
    registry.onError((_k, e) => errors.push(e.message));
    try {
      const entry = registry.acquire(
        base(server.port, { username: 'limiter', password: 'wrong', commandTimeoutMs: 300 }),
      );
      await expect(withTimeout(entry.client.get('bulwark-rl:x'), 500)).rejects.toThrow();
    } finally {
      await registry.closeAll();
    }
  });

  test('idle clients are closed by the sweep (settings no instance uses any more do not leak)', async () => {
    let now = 0;
    const registry = new RedisRegistry({ sweepEveryMs: 0, idleMs: 1000, now: () => now });
    try {
      const before = await bulwarkClients(admin);
      // Five different configs (the password rotated five times), each used once.
      for (let i = 0; i < 5; i++) {
        const e = registry.acquire(base(server.port, { password: 'rootpw', connectTimeoutMs: 1000 + i }));
        await e.client.ping();
        now += 100;
      }
      expect(await bulwarkClients(admin)).toBe(before + 5);
      now += 850; // now 1350: the first four (used at 0-300) have been idle for more than a second
      expect(registry.sweep()).toBe(4);
      expect(registry.size).toBe(1);
      await new Promise((r) => setTimeout(r, 100));
      expect(await bulwarkClients(admin)).toBe(before + 1);
    } finally {
      await registry.closeAll();
    }
  });
});

describe('timeouts', () => {
  test('withTimeout bounds a call that never answers', async () => {
    await expect(withTimeout(new Promise(() => undefined), 30, 'probe')).rejects.toBeInstanceOf(RedisTimeoutError);
    await expect(withTimeout(Promise.resolve(7), 30)).resolves.toBe(7);
  });
  test('reconnect backoff grows and is capped at 2 s', () => {
    expect(reconnectDelayMs(0)).toBe(50);
    expect(reconnectDelayMs(3)).toBe(400);
    expect(reconnectDelayMs(50)).toBe(2000);
  });
});

describe('whenReady', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  // The rate limiter's decisions go through whenReady. A command issued while ioredis reconnects would otherwise
  // wait in its offline queue and run when the connection is back: a request answered 503 (fail-closed) would
  // still be counted. Here the command is issued after Redis is back but before the client has reconnected
  // (its backoff is several hundred ms by then), which is exactly when the offline queue would send it later.
  test('a command that timed out waiting for the connection is never sent when the connection comes back', async () => {
    const own = await startRedis();
    const registry = new RedisRegistry({ sweepEveryMs: 0 });
    try {
      const client = registry.acquire(base(own.port, { commandTimeoutMs: 100, connectTimeoutMs: 100 })).client;
      expect(await whenReady(client, 1000, 'ping', () => client.ping())).toBe('PONG');
      await own.stop('SIGKILL');
      await sleep(1500); // several failed reconnects: the next one is 400-800 ms away
      await own.restart();
      expect(client.status).not.toBe('ready');
      const outcome = await whenReady(client, 100, 'incr', () => client.incr('bulwark-rl:late')).then(
        (v) => `sent: ${v}`,
        (e: Error) => e.name,
      );
      const deadline = Date.now() + 5000;
      while (client.status !== 'ready' && Date.now() < deadline) await sleep(20);
      await sleep(100); // room for a queued command to be flushed, if one had been queued
      const stored = await client.get('bulwark-rl:late');
      // Either the wait timed out and nothing was sent, or the connection came back in time and it counted once.
      if (outcome === 'RedisTimeoutError') expect(stored).toBeNull();
      else expect([outcome, stored]).toEqual(['sent: 1', '1']);
    } finally {
      await registry.closeAll();
      await own.stop();
    }
  });

  test('many waiters share one ready listener', async () => {
    const own = await startRedis();
    const registry = new RedisRegistry({ sweepEveryMs: 0 });
    try {
      const client = registry.acquire(base(own.port)).client;
      await own.stop('SIGKILL');
      await sleep(100);
      const before = client.listenerCount('ready');
      const waits = Array.from({ length: 50 }, () =>
        whenReady(client, 50, 'ping', () => client.ping()).catch((e: Error) => e.name),
      );
      expect(client.listenerCount('ready')).toBe(before + 1);
      expect(new Set(await Promise.all(waits))).toEqual(new Set(['RedisTimeoutError']));
    } finally {
      await registry.closeAll();
    }
  });
});

describe('a stale connection (blackholed while new connections work)', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test(`is recycled after ${STALE_CONNECTION_TIMEOUTS} command timeouts and ${STALE_CONNECTION_MS} ms without a reply; commands work again`, async () => {
    const own = await startRedis();
    const proxy = await BlackholeProxy.start(own.port);
    const registry = new RedisRegistry({ sweepEveryMs: 0 });
    try {
      const errors: string[] = [];
      registry.onError((_key, err) => errors.push(err.message));
      const client = registry.acquire(base(proxy.port, { commandTimeoutMs: 100 })).client;
      expect(await whenReady(client, 1000, 'ping', () => client.ping())).toBe('PONG');
      expect(proxy.accepted).toBe(1);
      expect(proxy.blackholeOpenConnections()).toBe(1);
      const started = Date.now();
      const outcomes: string[] = [];
      // Bounded: one command every 100 ms for at most 15 s.
      while (Date.now() - started < 15_000) {
        const outcome = await whenReady(client, 100, 'ping', () => client.ping()).catch((e: Error) => e.name);
        outcomes.push(outcome);
        if (outcome === 'PONG') break;
        await sleep(100);
      }
      const recoveryMs = Date.now() - started;
      process.stdout.write(
        `stale Redis connection: ${outcomes.includes('PONG') ? 'recovered' : 'still no reply'} after ${recoveryMs} ms (${outcomes.length} commands)\n`,
      );
      expect(outcomes[outcomes.length - 1]).toBe('PONG');
      expect(outcomes.slice(0, -1).every((o) => o === 'RedisTimeoutError')).toBe(true);
      expect(proxy.accepted).toBe(2); // one new connection, not a reconnect storm
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^connection recycled: \d+ commands in a row got no reply within 100 ms/);
    } finally {
      await registry.closeAll();
      await proxy.close();
      await own.stop();
    }
  }, 30_000);

  test('a Redis that answers late (a pause, a slow command) keeps its connection: the late replies still arrive', async () => {
    const own = await startRedis();
    const registry = new RedisRegistry({ sweepEveryMs: 0 });
    try {
      const errors: string[] = [];
      registry.onError((_key, err) => errors.push(err.message));
      const client = registry.acquire(base(own.port)).client;
      for (let i = 0; i < STALE_CONNECTION_TIMEOUTS + 2; i++) {
        // BLPOP answers after 200 ms: each call times out at 20 ms, and its reply arrives later.
        await expect(
          whenReady(client, 20, 'blpop', () => client.blpop('bulwark-rl:never', 0.2)),
        ).rejects.toBeInstanceOf(RedisTimeoutError);
      }
      await sleep(STALE_CONNECTION_MS + 500);
      expect(client.status).toBe('ready');
      expect(errors).toEqual([]);
    } finally {
      await registry.closeAll();
      await own.stop();
    }
  }, 30_000);
});
