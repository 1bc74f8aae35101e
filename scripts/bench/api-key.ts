#!/usr/bin/env node
// bulwark-api-key measurements, side by side in one run on one real redis-server:
//  1. key verification cost per request, in the plugin-server process: a checksum reject, a positive-cache hit
//     (format + SHA-256 + cache), a cache miss to Redis (format + SHA-256 + GET), next to a Kong-style plaintext
//     lookup (key-auth: the plaintext key as cache key; a hit is one in-memory table lookup, a miss one store read
//     by plaintext key, here a Redis GET). Printed as µs per verification and as ratios.
//  2. PDK round trips per request through the Kong emulator and the real plugin server, per path (the budget the
//     handler header and the README state).
// Usage: npm run build && node dist/js/scripts/bench/api-key.js [iterations]
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { KongEmulator } from '../../kong/emulator/kong';
import { issueKey, writeRedisRecord } from '../../plugins/bulwark-api-key/key-admin';
import { generateKey, parseKey } from '../../plugins/bulwark-api-key/key-format';
import { hashKey, serializeKeyRecord } from '../../plugins/bulwark-api-key/key-record';
import { RedisKeyStore } from '../../plugins/bulwark-api-key/key-store';
import { RedisRegistry, redisSettingsKey, type RedisSettings } from '../../plugins/lib/redis';
import { startRedisServer } from './redis-server';

/** Median µs per call of `fn` over `rounds` rounds of `n` calls (synchronous or awaited one by one). */
async function measure(n: number, fn: (i: number) => unknown, rounds = 5): Promise<number> {
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const v = fn(i);
      if (v instanceof Promise) await v;
    }
    perRound.push(((performance.now() - t0) * 1000) / n);
  }
  perRound.sort((a, b) => a - b);
  return perRound[Math.floor(rounds / 2)]!;
}

const PREFIXES = new Set(['bwk_live']);

async function verificationCosts(port: number, iterations: number): Promise<void> {
  const settings: RedisSettings = {
    mode: 'standalone',
    host: '127.0.0.1',
    port,
    database: 0,
    sentinels: [],
    clusterNodes: [],
    tls: { enabled: false, verify: true },
    connectTimeoutMs: 1000,
    commandTimeoutMs: 1000,
  };
  const registry = new RedisRegistry({ sweepEveryMs: 0 });
  const raw = new Redis({ port, host: '127.0.0.1' });
  const issued = issueKey({ prefix: 'bwk_live', id: 'bench-1', scopes: ['a'] }, Date.now());
  await writeRedisRecord(raw, 'bench-ak', issued.record, true);
  const sKey = redisSettingsKey(settings);
  const cached = new RedisKeyStore(
    settings,
    sKey,
    'bench-ak',
    { ttlMs: 3_600_000, negativeTtlMs: 0, staleMs: 0, maxEntries: 10_000 },
    registry,
  );
  const uncached = new RedisKeyStore(
    settings,
    sKey,
    'bench-ak',
    { ttlMs: 1, negativeTtlMs: 0, staleMs: 0, maxEntries: 0 },
    registry,
  );
  // Kong-style: the plaintext key is the cache key and the store key.
  const kongTable = new Map<string, { id: string }>([[issued.key, { id: 'bench-1' }]]);
  for (let i = 0; i < 1000; i++) kongTable.set(generateKey('bwk_live'), { id: `k${i}` });
  await raw.set(`kong-style:${issued.key}`, JSON.stringify({ id: 'bench-1' }));

  const forged = issued.key.slice(0, -1) + (issued.key.endsWith('0') ? '1' : '0');
  const verify = async (store: RedisKeyStore, key: string) => {
    const p = parseKey(key, PREFIXES);
    if (!p.ok) return false;
    const r = await store.lookup(hashKey(key, undefined), Date.now());
    return r.found;
  };
  // Warm up (JIT, connection).
  for (let i = 0; i < 2000; i++) {
    await verify(cached, issued.key);
    parseKey(forged, PREFIXES);
  }
  await verify(uncached, issued.key);
  await raw.get(`kong-style:${issued.key}`);

  const checksumReject = await measure(iterations * 10, () => parseKey(forged, PREFIXES));
  const cacheHit = await measure(iterations * 10, () => verify(cached, issued.key));
  const before = uncached.storeLookups;
  const cacheMiss = await measure(iterations, () => verify(uncached, issued.key));
  const gets = uncached.storeLookups - before;
  const kongHit = await measure(iterations * 10, () => kongTable.get(issued.key));
  const kongMiss = await measure(iterations, () => raw.get(`kong-style:${issued.key}`));

  const row = (name: string, us: number, vsHit: number, vsMiss?: number) =>
    `${name.padEnd(48)} ${us.toFixed(3).padStart(9)} µs   ×${(us / vsHit).toFixed(1).padStart(6)} Kong hit${vsMiss !== undefined ? `   ×${(us / vsMiss).toFixed(2)} Kong miss` : ''}`;
  process.stdout.write('\n1. Verification cost per request (median of 5 rounds; one process, sequential)\n');
  process.stdout.write(row('bulwark: checksum reject (no hash, no lookup)', checksumReject, kongHit) + '\n');
  process.stdout.write(row('bulwark: cache hit (format + SHA-256 + cache)', cacheHit, kongHit) + '\n');
  process.stdout.write(row('bulwark: cache miss (format + SHA-256 + Redis GET)', cacheMiss, kongHit, kongMiss) + '\n');
  process.stdout.write(row('Kong-style plaintext: in-memory hit', kongHit, kongHit) + '\n');
  process.stdout.write(row('Kong-style plaintext: miss, Redis GET by key', kongMiss, kongHit, kongMiss) + '\n');
  process.stdout.write(`Redis GETs made by the cache-miss loop: ${gets} for ${5 * iterations} verifications\n`);
  process.stdout.write(
    `ratios: cache miss / cache hit = ${(cacheMiss / cacheHit).toFixed(1)}, cache hit / checksum reject = ${(cacheHit / checksumReject).toFixed(1)}, ` +
      `bulwark miss / Kong-style miss = ${(cacheMiss / kongMiss).toFixed(2)}\n`,
  );
  raw.disconnect();
  await registry.closeAll();
}

async function rpcRoundTrips(port: number): Promise<void> {
  const now = Date.now();
  const withConsumer = issueKey({ prefix: 'bwk_live', id: 'c-1', consumer: 'alice' }, now);
  const plain = issueKey({ prefix: 'bwk_live', id: 'p-1' }, now);
  const redisKey = issueKey({ prefix: 'bwk_live', id: 'r-1' }, now);
  const raw = new Redis({ port, host: '127.0.0.1' });
  await writeRedisRecord(raw, 'bench-rpc', redisKey.record, true);
  raw.disconnect();
  const keys = JSON.stringify([withConsumer.record, plain.record].map(serializeKeyRecord));
  const yaml = `
_format_version: "3.0"
consumers:
  - { id: 9b1f0c52-3b7e-4c8e-9a51-000000000001, username: alice }
services:
  - name: api
    url: ECHO
    routes:
      - { name: decl, paths: ["/decl"] }
      - { name: redis, paths: ["/redis"] }
plugins:
  - name: bulwark-api-key
    route: decl
    config: { key_prefixes: [bwk_live], keys: ${keys} }
  - name: bulwark-api-key
    route: redis
    config: { key_prefixes: [bwk_live], store: redis, redis: { mode: standalone, host: 127.0.0.1, port: ${port}, key_prefix: bench-rpc } }
`;
  const upstream = await startEchoUpstream(0);
  const node = await KongEmulator.start({ plugins: ['bulwark-api-key'] });
  try {
    node.setConfig(
      loadDeclarative(yaml.replace(/ECHO/g, `http://127.0.0.1:${upstream.port}`), {
        knownPlugins: new Set(node.plugins.keys()),
      }),
    );
    const paths: [string, string, Record<string, string>][] = [
      ['valid key, no consumer (declarative)', '/decl', { 'x-api-key': plain.key }],
      ['valid key with consumer (declarative, consumer cached)', '/decl', { 'x-api-key': withConsumer.key }],
      ['valid key (redis store, cache hit)', '/redis', { 'x-api-key': redisKey.key }],
      ['no key', '/decl', {}],
      ['invalid key (lockout on)', '/decl', { 'x-api-key': generateKey('bwk_live') }],
      ['checksum failure (lockout on)', '/decl', { 'x-api-key': 'bwk_live_' + 'A'.repeat(32) + '_000000' }],
    ];
    process.stdout.write(
      '\n2. PDK round trips per request (emulator, bulwark-pluginserver; the PDK calls, response.exit included)\n',
    );
    for (const [name, p, headers] of paths) {
      // Warm both emulated workers (a worker's first request also starts the instance) and the caches.
      for (let i = 0; i < 4; i++) await node.request({ path: p, headers });
      const res = await node.request({ path: p, headers, clientIp: '192.0.2.10' });
      const calls = res.report.pdkCalls
        .filter(([plugin]) => plugin === 'bulwark-api-key')
        .map(([, m]) => m.replace(/^kong\./, ''));
      if (res.status >= 400 && !calls.includes('response.exit')) calls.push('response.exit');
      process.stdout.write(
        `${name.padEnd(56)} ${String(res.status).padStart(3)}  ${String(calls.length).padStart(2)}  ${calls.join(', ')}\n`,
      );
    }
  } finally {
    await node.stop();
    await upstream.close();
  }
}

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? 2000);
  const redis = await startRedisServer();
  try {
    process.stdout.write(
      `bulwark-api-key benchmark (${iterations} iterations per Redis measurement, 10x for in-memory ones)\n`,
    );
    await verificationCosts(redis.port, iterations);
    await rpcRoundTrips(redis.port);
  } finally {
    redis.proc.kill('SIGKILL');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
