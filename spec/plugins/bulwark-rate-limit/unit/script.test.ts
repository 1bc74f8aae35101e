// The Lua decision script in a real Redis against the TypeScript algorithms (the in-memory store): the same
// request sequence, at the same (injected) instants, must get the same decisions, remaining counts and waits.
import { Redis } from 'ioredis';
import { MemoryStore } from '../../../../plugins/bulwark-rate-limit/memory-store';
import type { LimitCheck } from '../../../../plugins/bulwark-rate-limit/algorithms';
import {
  DECIDE_SCRIPT,
  DECIDE_SCRIPT_SHA,
  parseScriptReply,
  REFUND_SCRIPT,
  refundArgs,
  scriptArgs,
} from '../../../../plugins/bulwark-rate-limit/script';
import { runDecideScript } from '../../../../plugins/bulwark-rate-limit/limiter';
import { startRedis, type RedisServer } from '../../../helpers/redis';

let server: RedisServer;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis({ port: server.port, host: server.host, lazyConnect: false });
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});

async function viaRedis(keys: string[], checks: LimitCheck[], now: number) {
  return parseScriptReply(await runDecideScript(redis, keys, scriptArgs(checks, now)), checks.length);
}

// A deterministic pseudo-random sequence (no flaky seeds).
function lcg(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

const T0 = 1_700_000_000_000;

describe.each([
  ['sliding-window', { algorithm: 'sliding-window', limit: 10, windowMs: 1000, burst: 10 }],
  ['gcra', { algorithm: 'gcra', limit: 10, windowMs: 1000, burst: 4 }],
  ['fixed-window', { algorithm: 'fixed-window', limit: 10, windowMs: 1000, burst: 10 }],
] as const)('%s: Lua in Redis decides exactly as the TypeScript algorithm', (name, base) => {
  test('300 requests with random gaps and costs', async () => {
    const memory = new MemoryStore();
    const rnd = lcg(name.length * 7919);
    let now = T0;
    let admitted = 0;
    for (let i = 0; i < 300; i++) {
      now += Math.floor(rnd() * 120);
      const cost = rnd() < 0.2 ? 3 : 1;
      const checks: LimitCheck[] = [{ ...base, cost }];
      const keys = [`eq:{${name}}:a`];
      const r = await viaRedis(keys, checks, now);
      const m = memory.decide(keys, checks, now);
      expect({ i, ...r }).toEqual({ i, ...m });
      if (r.allowed) admitted++;
    }
    // The sequence must exercise both outcomes for the comparison to mean anything.
    expect(admitted).toBeGreaterThan(20);
    expect(admitted).toBeLessThan(300);
  });
});

test('several limits: all or nothing, in one call, same as TypeScript', async () => {
  const memory = new MemoryStore();
  const checks: LimitCheck[] = [
    { algorithm: 'sliding-window', limit: 3, windowMs: 1000, burst: 3, cost: 1 },
    { algorithm: 'gcra', limit: 5, windowMs: 10_000, burst: 5, cost: 1 },
    {
      algorithm: 'fixed-window',
      limit: 4,
      windowMs: 60_000,
      burst: 4,
      cost: 1,
      period: { startMs: T0 - 5000, endMs: T0 + 86_400_000 },
    },
  ];
  const keys = ['multi:{x}:1', 'multi:{x}:2', 'multi:{x}:3'];
  const seen: boolean[] = [];
  for (const dt of [0, 10, 20, 30, 1100, 1110, 1120, 2500, 2600]) {
    const r = await viaRedis(keys, checks, T0 + dt);
    expect(r).toEqual(memory.decide(keys, checks, T0 + dt));
    seen.push(r.allowed);
  }
  // 3/s sliding admits 3; refusals consume nothing. At +1.1 s the previous window still weighs 3·0.9 = 2.7, so
  // still refused; at +2.5 s it is gone and the 4th unit of the fixed quota is used; then the quota refuses.
  expect(seen).toEqual([true, true, true, false, false, false, false, true, false]);
  const refused = await viaRedis(keys, checks, T0 + 3000);
  expect(refused.outcomes[2]).toMatchObject({ allowed: false, remaining: 0 });
  expect(refused.outcomes[0]!.allowed).toBe(true); // the sliding limit alone would admit it
});

test('NOSCRIPT (script cache flushed) falls back to EVAL, which reloads the script', async () => {
  await redis.script('FLUSH');
  expect(await redis.script('EXISTS', DECIDE_SCRIPT_SHA)).toEqual([0]);
  const r = await viaRedis(['ns:{y}:1'], [{ algorithm: 'gcra', limit: 1, windowMs: 1000, burst: 1, cost: 1 }], T0);
  expect(r.allowed).toBe(true);
  expect(await redis.script('EXISTS', DECIDE_SCRIPT_SHA)).toEqual([1]);
  expect(DECIDE_SCRIPT.length).toBeGreaterThan(100);
});

test('uses Redis TIME when no instant is given', async () => {
  const before = Date.now();
  const r = parseScriptReply(
    await runDecideScript(
      redis,
      ['time:{z}:1'],
      scriptArgs([{ algorithm: 'fixed-window', limit: 5, windowMs: 60_000, burst: 5, cost: 1 }]),
    ),
    1,
  );
  // Same machine: Redis's clock is this clock.
  expect(Math.abs(r.nowMs - before)).toBeLessThan(5000);
  expect(r.outcomes[0]!.remaining).toBe(4);
});

// The limiter refunds a decision whose reply came after timeout_ms if Redis admitted it (limiter.ts): the request
// was answered by the outage policy, so the unit must not count. "Refunded" = the same stored state as if that
// decision had never been made.
describe.each([
  ['sliding-window', { algorithm: 'sliding-window', limit: 10, windowMs: 1000, burst: 10 }],
  ['gcra', { algorithm: 'gcra', limit: 10, windowMs: 1000, burst: 4 }],
  ['fixed-window', { algorithm: 'fixed-window', limit: 10, windowMs: 1000, burst: 10 }],
] as const)(
  'REFUND_SCRIPT, %s: a late-admitted decision given back leaves the state as if it had never been made',
  (name, base) => {
    const checks: LimitCheck[] = [{ ...base, cost: 2 }];
    const refund = (key: string, decidedAt: number, now: number) =>
      redis.eval(REFUND_SCRIPT, 1, key, ...refundArgs(checks, decidedAt, now));

    test('refunded within the same window', async () => {
      const [withLate, without] = [`refund:{${name}}:w1`, `refund:{${name}}:o1`];
      for (const k of [withLate, without]) expect((await viaRedis([k], checks, T0 + 100)).allowed).toBe(true);
      const late = await viaRedis([withLate], checks, T0 + 150);
      expect(late.allowed).toBe(true);
      expect(await redis.hgetall(withLate)).not.toEqual(await redis.hgetall(without));
      await refund(withLate, late.nowMs, T0 + 160); // the reply came 10 ms late
      expect(await redis.hgetall(withLate)).toEqual(await redis.hgetall(without));
    });

    test('after another decision in the next window: refunded, except a GCRA cost that may have been absorbed', async () => {
      const [withLate, without] = [`refund:{${name}}:w2`, `refund:{${name}}:o2`];
      for (const k of [withLate, without]) expect((await viaRedis([k], checks, T0 + 100)).allowed).toBe(true);
      const late = await viaRedis([withLate], checks, T0 + 900);
      expect(late.allowed).toBe(true);
      for (const k of [withLate, without]) expect((await viaRedis([k], checks, T0 + 1100)).allowed).toBe(true);
      const before = await redis.hgetall(withLate);
      await refund(withLate, late.nowMs, T0 + 1150);
      if (name === 'gcra') {
        // The late decision's cost ended at T0 + 1100, when the bucket was empty again: giving back 200 ms now would
        // take them from the decision at T0 + 1100 and admit more than the rate. Kept.
        expect(await redis.hgetall(withLate)).toEqual(before);
      } else {
        expect(await redis.hgetall(withLate)).toEqual(await redis.hgetall(without));
      }
    });
  },
);

test('REFUND_SCRIPT: a calendar quota is refunded in its period, never below zero, and not in a later period', async () => {
  const period = { startMs: T0, endMs: T0 + 86_400_000 };
  const checks: LimitCheck[] = [
    { algorithm: 'fixed-window', limit: 5, windowMs: 86_400_000, burst: 5, cost: 1, period },
  ];
  const key = 'refund:{calendar}:a';
  const late = await viaRedis([key], checks, T0 + 5000);
  await redis.eval(REFUND_SCRIPT, 1, key, ...refundArgs(checks, late.nowMs, T0 + 5100));
  expect(await redis.hget(key, 'c')).toBe('0');
  await redis.eval(REFUND_SCRIPT, 1, key, ...refundArgs(checks, late.nowMs, T0 + 5100));
  expect(await redis.hget(key, 'c')).toBe('0');
  // The next period's counter is not touched by a refund of this period's decision.
  const next: LimitCheck[] = [{ ...checks[0]!, period: { startMs: period.endMs, endMs: period.endMs + 86_400_000 } }];
  await viaRedis([key], next, period.endMs + 10);
  await redis.eval(REFUND_SCRIPT, 1, key, ...refundArgs(checks, late.nowMs, period.endMs + 20));
  expect(await redis.hget(key, 'c')).toBe('1');
});
