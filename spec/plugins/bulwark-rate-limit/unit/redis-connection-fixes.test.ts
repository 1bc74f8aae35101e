// Pins two fixes found by the Sentinel and TLS tests (sentinel.test.ts, tls.test.ts run them against real servers):
//   - Sentinel clients watch the sentinels for +switch-master (ioredis failoverDetector). Without it, after a
//     SENTINEL FAILOVER the limiter kept counting on the old master for ~10 s, and those counts were lost.
//   - The redis_unavailable log line carries the connection error (TLS verification, WRONGPASS, refused): the
//     failed command itself only says "max retries" or "timed out".
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { createRedisClient, RedisRegistry, type RedisClient, type RedisSettings } from '../../../../plugins/lib/redis';
import { parseRateLimitConfig } from '../../../../plugins/bulwark-rate-limit/config';
import { decide, type LimiterDeps } from '../../../../plugins/bulwark-rate-limit/limiter';
import { MemoryStore } from '../../../../plugins/bulwark-rate-limit/memory-store';

const base: RedisSettings = {
  mode: 'standalone',
  host: '127.0.0.1',
  port: 1,
  database: 0,
  sentinels: [],
  clusterNodes: [],
  tls: { enabled: false, verify: true },
  connectTimeoutMs: 50,
  commandTimeoutMs: 50,
};

function optionsOf(settings: RedisSettings): Record<string, unknown> {
  const client = createRedisClient(settings) as Redis;
  client.on('error', () => undefined);
  client.disconnect();
  return client.options as unknown as Record<string, unknown>;
}

test('a Sentinel client follows +switch-master (failoverDetector); TLS reaches the sentinels and the master', () => {
  const sentinel: RedisSettings = {
    ...base,
    mode: 'sentinel',
    sentinelMaster: 'm',
    sentinels: [{ host: '127.0.0.1', port: 1 }],
  };
  expect(optionsOf(sentinel)).toMatchObject({ failoverDetector: true, name: 'm', role: 'master' });
  const tls = optionsOf({ ...sentinel, tls: { enabled: true, verify: true, ca: 'PEM' } });
  expect(tls).toMatchObject({
    enableTLSForSentinelMode: true,
    tls: { ca: 'PEM', rejectUnauthorized: true },
    sentinelTLS: { ca: 'PEM' },
  });
});

/** A client that cannot connect: it reports a connection error and never becomes ready. */
class FailingClient extends EventEmitter {
  status = 'connecting';
  commandsSent = 0;
  constructor(private readonly connectionError: Error) {
    super();
    setImmediate(() => this.emit('error', this.connectionError));
  }
  async evalsha(): Promise<never> {
    this.commandsSent++;
    throw new Error('Reached the max retries per request limit (which is 1).');
  }
  async quit(): Promise<void> {}
  disconnect(): void {}
}

test('the registry keeps the last connection error until the client is ready again', () => {
  const fake = new FailingClient(new Error('x'));
  const registry = new RedisRegistry({ sweepEveryMs: 0, create: () => fake as unknown as RedisClient });
  const entry = registry.acquire(base);
  expect(entry.lastError).toBeUndefined();
  const tlsError = new Error('self-signed certificate in certificate chain');
  fake.emit('error', tlsError);
  expect(entry.lastError).toBe(tlsError);
  fake.emit('ready');
  expect(entry.lastError).toBeUndefined();
});

test('redis_unavailable names the connection error next to the command error', async () => {
  const fake = new FailingClient(new Error('self-signed certificate in certificate chain'));
  const registry = new RedisRegistry({ sweepEveryMs: 0, create: () => fake as unknown as RedisClient });
  const deps: LimiterDeps = {
    registry,
    memory: new MemoryStore(),
    breakers: new Map(),
    clockOffsets: new Map(),
    now: () => 1_000_000,
  };
  const conf = parseRateLimitConfig({
    limits: [{ name: 'm', limit: 4, window_seconds: 60 }],
    on_redis_error: 'fail-closed',
    circuit_breaker: { failure_threshold: 1, open_seconds: 5 },
    redis: { mode: 'standalone', host: '127.0.0.1', port: 6380, ssl: true, timeout_ms: 50 },
  });
  const d = await decide(conf, 'client', 1, deps);
  // Never connected, so the decision was never sent (it would wait in ioredis's offline queue and run later).
  expect(fake.commandsSent).toBe(0);
  expect(d.source).toBe('fail-closed');
  expect(d.events).toHaveLength(1);
  expect(d.events[0]!.event).toBe('redis_unavailable');
  expect(d.events[0]!.fields).toMatchObject({
    reason: 'RedisTimeoutError: rate-limit decision (no Redis connection) took longer than 50 ms',
    connection_error: 'Error: self-signed certificate in certificate chain',
  });
});
