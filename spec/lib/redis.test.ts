// plugins/lib/redis.ts: the shared connection registry, against real redis-server processes.
import { Redis } from 'ioredis';
import {
  RedisRegistry,
  RedisTimeoutError,
  reconnectDelayMs,
  redisSettingsKey,
  withTimeout,
  type RedisSettings,
} from '../../plugins/lib/redis';
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
  server = await startRedis(['--requirepass', 'rootpw', '--user', 'limiter', 'on', '>s3cret', '~bulwark-rl:*', '+@all']);
  admin = new Redis({ port: server.port, host: server.host, password: 'rootpw' });
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});

describe('redisSettingsKey', () => {
  test('equal settings give equal keys whatever the order of seed nodes; secrets never appear in clear', () => {
    const a = base(1, { mode: 'cluster', clusterNodes: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }], password: 'hunter2' });
    const b = base(1, { mode: 'cluster', clusterNodes: [{ host: 'b', port: 2 }, { host: 'a', port: 1 }], password: 'hunter2' });
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
      const entry = registry.acquire(base(server.port, { username: 'limiter', password: 'wrong', commandTimeoutMs: 300 }));
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
