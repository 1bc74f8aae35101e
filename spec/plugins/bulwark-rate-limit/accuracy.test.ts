// Accuracy under concurrency: two Kong nodes (two emulators, two plugin-server processes) share one real Redis;
// 8 concurrent clients of ONE identity burst just before and just after window boundaries, then send without
// pause. The same load goes to a sliding-window, a gcra and a fixed-window (Kong's behaviour) limit side by side.
// The table is printed (scripts/bench/rate-limit.ts prints the same experiment for the closing note).
import { afterAllNoFailOpen, BOTH_PLUGIN_SERVERS, runsOnPluginServers, type Gateway } from '../../helpers/emulator';
import { startRedis, type RedisServer } from '../../helpers/redis';
import { accuracyConfig, formatAccuracyTable, runAccuracy, type AccuracyRow } from '../../../scripts/bench/rate-limit';
import { startRateLimitGateway } from './gateway';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

jest.setTimeout(60_000);

const LIMIT = 20;
const WINDOW_MS = 2000;

let redis: RedisServer;
const nodes: Gateway[] = [];
let rows: AccuracyRow[];

beforeAll(async () => {
  redis = await startRedis();
  const yaml = accuracyConfig(redis.port, `t${Date.now()}`, WINDOW_MS, LIMIT);
  for (let i = 0; i < 2; i++) {
    const gw = await startRateLimitGateway();
    gw.configure(yaml);
    nodes.push(gw);
  }
  rows = await runAccuracy({
    nodes: nodes.map((g) => g.kong),
    redisPort: redis.port,
    windowMs: WINDOW_MS,
    limit: LIMIT,
    clients: 8,
  });
  console.log(formatAccuracyTable(rows, 2, 8));
});
afterAllNoFailOpen(() => nodes);
afterAll(async () => {
  await redis?.stop();
});

const row = (a: AccuracyRow['algorithm']) => rows.find((r) => r.algorithm === a)!;

test('every request was answered 200 or 429 by both nodes (no error, no fail-open)', () => {
  for (const r of rows) {
    expect(r.errors).toBe(0);
    expect(r.sent).toBeGreaterThan(6 * LIMIT);
  }
});

// Only bounds that hold whatever the machine's load: the decision time of each admission is known only to lie in its
// round trip, so the checks use round trips, not midpoints (scripts/bench/rate-limit.ts slidingExcess).
test('sliding window: never more than the limit in an aligned window, and within its stated bound in ANY window-long span', () => {
  const r = row('sliding-window');
  for (const n of r.perWindowCertain) expect(n).toBeLessThanOrEqual(LIMIT);
  expect(r.slidingExcess).toBeLessThanOrEqual(0);
  expect(r.admitted).toBeGreaterThanOrEqual(2 * LIMIT); // it does admit: two windows of continuous demand
});

test('gcra: exact, no group of admitted requests exceeds burst + span/T', () => {
  const r = row('gcra');
  expect(r.gcraExcess).toBeLessThanOrEqual(0);
});

// How far past the limit a boundary burst gets depends on how close to the boundary the bursts land, which a loaded
// machine shifts (28 of the ideal 40 seen at load 12 on 2 cores); "more than the limit" holds whatever the load.
test('fixed window (Kong): the limit per aligned window holds, but a boundary lets more than the limit through in one window length', () => {
  const f = row('fixed-window');
  for (const n of f.perWindowCertain) expect(n).toBeLessThanOrEqual(LIMIT);
  expect(f.maxInAnySpan).toBeGreaterThan(LIMIT);
  expect(row('sliding-window').maxInAnySpan).toBeLessThan(f.maxInAnySpan);
});
