// The Redis test helper starts a real server that answers, and stops it.
import Redis from 'ioredis';
import { startRedis } from './redis';

test('startRedis runs a real redis-server that can be stopped and restarted', async () => {
  const redis = await startRedis();
  const client = new Redis({
    port: redis.port,
    host: redis.host,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  await client.connect();
  expect(await client.ping()).toBe('PONG');
  await client.set('k', 'v');
  client.disconnect();
  await redis.restart();
  const again = new Redis({ port: redis.port, host: redis.host, lazyConnect: true });
  await again.connect();
  expect(await again.get('k')).toBeNull(); // a fresh server: no persistence
  again.disconnect();
  await redis.stop();
});
