import {
  evaluate,
  evaluateAll,
  type CounterState,
  type LimitCheck,
} from '../../../../plugins/bulwark-rate-limit/algorithms';
import { MemoryStore } from '../../../../plugins/bulwark-rate-limit/memory-store';

const T0 = 1_700_000_000_000; // a multiple of every window used here

/** Runs requests at the given offsets through one limit; returns which were admitted. */
function run(check: Omit<LimitCheck, 'cost'>, offsets: number[], cost = 1): boolean[] {
  let st: CounterState = {};
  return offsets.map((dt) => {
    const e = evaluate(T0 + dt, { ...check, cost }, st);
    if (e.outcome.allowed) st = e.next;
    return e.outcome.allowed;
  });
}

describe('fixed-window (the Kong reference)', () => {
  const fw = { algorithm: 'fixed-window', limit: 3, windowMs: 1000, burst: 3 } as const;
  test('admits the limit per aligned window and resets at the boundary: 2x the limit within a few ms', () => {
    expect(run(fw, [995, 996, 997, 998, 1001, 1002, 1003, 1004])).toEqual([
      true,
      true,
      true,
      false,
      true,
      true,
      true,
      false,
    ]);
  });
  test('remaining, reset and retry', () => {
    const e = evaluate(T0 + 250, { ...fw, cost: 1 }, { s: T0, c: 3 });
    expect(e.outcome).toEqual({ allowed: false, remaining: 0, resetMs: 750, retryMs: 750 });
  });
  test('a calendar period comes from the caller', () => {
    const period = { startMs: T0 - 10, endMs: T0 + 90 };
    const e = evaluate(T0, { ...fw, cost: 1, period }, { s: T0 - 10, c: 1 });
    expect(e.outcome).toMatchObject({ allowed: true, remaining: 1, resetMs: 90 });
    expect(e.next).toEqual({ s: T0 - 10, c: 2 });
  });
});

describe('sliding-window', () => {
  const sw = { algorithm: 'sliding-window', limit: 10, windowMs: 1000, burst: 10 } as const;
  test('no boundary doubling: a burst before the boundary leaves (almost) nothing right after it', () => {
    const before = Array.from({ length: 12 }, (_, i) => 990 + i * 0.1);
    const after = Array.from({ length: 12 }, (_, i) => 1010 + i);
    const got = run(sw, [...before, ...after]);
    expect(got.slice(0, 12).filter(Boolean)).toHaveLength(10);
    expect(got.slice(12).filter(Boolean)).toHaveLength(0); // est = 10·0.99 → no room
  });
  test('the previous window weighs less as the current one advances: at 50 % half the limit is free again', () => {
    let st: CounterState = { s: T0, c: 10, p: 0 };
    let admitted = 0;
    for (let i = 0; i < 10; i++) {
      const e = evaluate(T0 + 1500, { ...sw, cost: 1 }, st);
      if (e.outcome.allowed) {
        admitted++;
        st = e.next;
      }
    }
    expect(admitted).toBe(5);
  });
  test('retry says when the request fits again, and it does fit then', () => {
    const st: CounterState = { s: T0, c: 10, p: 0 };
    const refused = evaluate(T0 + 1050, { ...sw, cost: 1 }, st);
    expect(refused.outcome.allowed).toBe(false);
    const later = evaluate(T0 + 1050 + refused.outcome.retryMs, { ...sw, cost: 1 }, st);
    expect(later.outcome.allowed).toBe(true);
    const justBefore = evaluate(T0 + 1050 + refused.outcome.retryMs - 2, { ...sw, cost: 1 }, st);
    expect(justBefore.outcome.allowed).toBe(false);
  });
  test('a cost larger than the limit is always refused', () => {
    expect(evaluate(T0, { ...sw, cost: 11 }, {}).outcome.allowed).toBe(false);
  });
});

describe('gcra', () => {
  const g = { algorithm: 'gcra', limit: 10, windowMs: 1000, burst: 3 } as const; // T = 100 ms
  test('burst back to back, then one per emission interval', () => {
    expect(run(g, [0, 0, 0, 0, 50, 100, 150, 200, 299, 300])).toEqual([
      true,
      true,
      true,
      false,
      false,
      true,
      false,
      true,
      false,
      true,
    ]);
  });
  test('exact envelope: any span of d ms admits at most burst + floor(d/T)', () => {
    const offsets = Array.from({ length: 400 }, (_, i) => i * 7); // demand far above the rate
    const got = run(g, offsets);
    const admitted = offsets.filter((_, i) => got[i]);
    for (let i = 0; i < admitted.length; i++) {
      for (let j = i; j < admitted.length; j++) {
        expect(j - i + 1).toBeLessThanOrEqual(3 + Math.floor((admitted[j]! - admitted[i]!) / 100));
      }
    }
    expect(admitted.length).toBe(3 + Math.floor(admitted[admitted.length - 1]! / 100));
  });
  test('retry is the time until the request conforms; remaining counts the free bucket', () => {
    const e = evaluate(T0, { ...g, cost: 1 }, { tat: T0 + 300 });
    expect(e.outcome).toEqual({ allowed: false, remaining: 0, resetMs: 300, retryMs: 100 });
    expect(evaluate(T0, { ...g, cost: 1 }, {}).outcome.remaining).toBe(2);
  });
});

describe('several limits', () => {
  test('all or nothing: a refusal by one limit consumes none of the others', () => {
    const checks: LimitCheck[] = [
      { algorithm: 'fixed-window', limit: 100, windowMs: 60_000, burst: 100, cost: 1 },
      { algorithm: 'fixed-window', limit: 1, windowMs: 1000, burst: 1, cost: 1 },
    ];
    const first = evaluateAll(T0, checks, [{}, {}]);
    expect(first.decision.allowed).toBe(true);
    const states = first.writes.map((w) => w.next);
    const second = evaluateAll(T0 + 1, checks, states);
    expect(second.decision.allowed).toBe(false);
    expect(second.writes).toEqual([]);
    // The per-minute limit reports its remaining units without the refused request.
    expect(second.decision.outcomes[0]!.remaining).toBe(99);
  });
});

describe('MemoryStore', () => {
  const perMinute = (limit: number): LimitCheck[] => [
    { algorithm: 'fixed-window', limit, windowMs: 60_000, burst: limit, cost: 1 },
  ];

  test('bounded: past maxKeys the least recently used counter far from its limit goes first', () => {
    const store = new MemoryStore(3, () => T0);
    const c = perMinute(10);
    for (const k of ['a', 'b', 'c']) expect(store.decide([k], c).allowed).toBe(true);
    expect(store.decide(['a'], c).outcomes[0]!.remaining).toBe(8); // 'a' used again: 'b' is now the oldest
    expect(store.decide(['d'], c).allowed).toBe(true);
    expect(store.size).toBe(3);
    expect(store.decide(['b'], c).outcomes[0]!.remaining).toBe(9); // 'b' was evicted: counts from zero again
    expect(store.decide(['a'], c).outcomes[0]!.remaining).toBe(7);
  });

  test('a limited client stays limited after 100,005 requests from other addresses (default size)', () => {
    let now = T0;
    const store = new MemoryStore(undefined, () => now);
    const c = perMinute(5);
    for (let i = 0; i < 5; i++) expect(store.decide(['victim'], c).allowed).toBe(true);
    expect(store.decide(['victim'], c).allowed).toBe(false);
    for (let i = 0; i < 100_005; i++) {
      now = T0 + i / 10_000; // all inside the same minute
      store.decide([`2001:db8::${i.toString(16)}`], c);
    }
    expect(store.size).toBeLessThanOrEqual(100_000);
    expect(store.decide(['victim'], c).allowed).toBe(false);
  });

  test('a client close to its limit (half used) is not forgotten either', () => {
    const store = new MemoryStore(100, () => T0);
    const c = perMinute(10);
    for (let i = 0; i < 5; i++) store.decide(['busy'], c);
    for (let i = 0; i < 1000; i++) store.decide([`other-${i}`], c);
    expect(store.decide(['busy'], c).outcomes[0]!.remaining).toBe(4);
  });

  test('full of live limited clients: a new client is refused (storeFull) until counters expire; tracked ones are decided', () => {
    let now = T0;
    const store = new MemoryStore(3, () => now);
    const c = perMinute(1);
    for (const k of ['a', 'b', 'c']) expect(store.decide([k], c).allowed).toBe(true); // each at its limit: protected
    const refused = store.decide(['d'], c);
    expect(refused).toMatchObject({ allowed: false, storeFull: true, reportStoreFull: true });
    expect(refused.outcomes[0]!.retryMs).toBeGreaterThan(0);
    expect(store.decide(['e'], c).reportStoreFull).toBeUndefined(); // logged at most every 10 s
    expect(store.decide(['a'], c)).toMatchObject({ allowed: false });
    expect(store.decide(['a'], c).storeFull).toBeUndefined();
    now += 60_000; // the window ends: the counters expire
    expect(store.decide(['d'], c).allowed).toBe(true);
  });

  test('expired counters are forgotten', () => {
    let now = T0;
    const store = new MemoryStore(10, () => now);
    const c: LimitCheck[] = [{ algorithm: 'fixed-window', limit: 1, windowMs: 1000, burst: 1, cost: 1 }];
    expect(store.decide(['k'], c).allowed).toBe(true);
    now += 20_000;
    store.sweep();
    expect(store.size).toBe(0);
  });
});
