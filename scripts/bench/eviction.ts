#!/usr/bin/env node
// Cost of one decision that must evict, at the 100,000-entry cap, before and after the move to ProtectedLru:
//  - "Map (previous)": the previous code's technique, a JavaScript Map in insertion order whose first key is
//    dropped (`keys().next()` + delete). V8 leaves deleted slots at the head of the Map until it rehashes, and
//    `keys().next()` walks them, so each eviction costs more as deletes pile up.
//  - "ProtectedLru (current)": MemoryStore / FailureLimiter as shipped (lru-cache lists, O(1) eviction).
// Workload: the table is filled with 100,000 keys, then every operation brings a NEW key (an address flood).
// Usage: npm run build && node dist/js/scripts/bench/eviction.js [operations=100000]
// Never asserts on time; prints per-operation times and the previous/current ratio measured in the same run.
import { performance } from 'node:perf_hooks';
import { FailureLimiter, type FailureLimits } from '../../plugins/bulwark-oauth2/failure-limiter';
import type { LimitCheck } from '../../plugins/bulwark-rate-limit/algorithms';
import { MemoryStore } from '../../plugins/bulwark-rate-limit/memory-store';

const CAP = 100_000;
const ops = Number(process.argv[2] ?? 100_000);

/** The previous eviction, reduced to its data-structure work (delete + re-insert, drop the first key when over). */
class MapEviction {
  private readonly map = new Map<string, { v: number; expiresAt: number }>();
  touch(key: string, now: number): void {
    this.map.delete(key);
    this.map.set(key, { v: 1, expiresAt: now + 60_000 });
    while (this.map.size > CAP) this.map.delete(this.map.keys().next().value as string);
  }
}

/** The previous oauth2 lockout table: scan up to 64 oldest entries for an unlocked one, else drop the oldest. */
class MapLockouts {
  private readonly map = new Map<string, { failures: number; lockedUntil: number }>();
  fail(key: string, now: number): void {
    if (!this.map.has(key) && this.map.size >= CAP) {
      let scanned = 0;
      let dropped = false;
      for (const [k, e] of this.map) {
        if (e.lockedUntil <= now) {
          this.map.delete(k);
          dropped = true;
          break;
        }
        if (++scanned >= 64) break;
      }
      if (!dropped) this.map.delete(this.map.keys().next().value as string);
    }
    const e = this.map.get(key) ?? { failures: 0, lockedUntil: 0 };
    e.failures++;
    this.map.set(key, e);
  }
}

function perOpMicros(run: (i: number) => void, fill: (i: number) => void): number {
  for (let i = 0; i < CAP; i++) fill(i);
  const started = performance.now();
  for (let i = 0; i < ops; i++) run(i);
  return ((performance.now() - started) * 1000) / ops;
}

const now = 1_700_000_000_000;
const check: LimitCheck[] = [{ algorithm: 'sliding-window', limit: 100, windowMs: 60_000, burst: 100, cost: 1 }];
const limits: FailureLimits = { enabled: true, maxPerClient: 0, maxPerIp: 10, windowMs: 60_000, lockoutMs: 300_000 };

const oldRl = new MapEviction();
const oldRate = perOpMicros(
  (i) => oldRl.touch(`flood-${i}`, now),
  (i) => oldRl.touch(`fill-${i}`, now),
);
const store = new MemoryStore(CAP, () => now);
const newRate = perOpMicros(
  (i) => store.decide([`flood-${i}`], check),
  (i) => store.decide([`fill-${i}`], check),
);

const oldLo = new MapLockouts();
const oldLock = perOpMicros(
  (i) => oldLo.fail(`i:flood-${i}`, now),
  (i) => oldLo.fail(`i:fill-${i}`, now),
);
const limiter = new FailureLimiter(CAP);
const newLock = perOpMicros(
  (i) => limiter.recordFailure(undefined, `flood-${i}`, limits, now),
  (i) => limiter.recordFailure(undefined, `fill-${i}`, limits, now),
);

const row = (name: string, before: number, after: number): string =>
  `${name.padEnd(34)} ${before.toFixed(2).padStart(9)} µs ${after.toFixed(2).padStart(9)} µs   ${(before / after).toFixed(1)}x`;
console.log(`one evicting operation at the ${CAP} cap, ${ops} operations (Node ${process.version})`);
console.log(`${''.padEnd(34)} ${'Map (prev)'.padStart(12)} ${'current'.padStart(12)}   prev/current`);
console.log(row('rate-limit memory store decision', oldRate, newRate));
console.log(row('oauth2 lockout failure', oldLock, newLock));
console.log('(the current rows include the whole decision: algorithm, counters, classification)');
