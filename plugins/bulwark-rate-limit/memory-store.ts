// In-memory counters: the store when no Redis is configured, and the per-node fallback during a Redis outage.
// Same algorithms as the Redis script (algorithms.ts). Bounded: expired entries are dropped as they are met and
// by a periodic sweep, and past `maxKeys` the oldest entries go first (Map insertion order).
import { evaluateAll, type CounterState, type LimitCheck } from './algorithms';
import type { ScriptReply } from './script';

interface Entry {
  state: CounterState;
  expiresAt: number;
}

export class MemoryStore {
  private readonly entries = new Map<string, Entry>();
  private lastSweep = 0;

  constructor(
    readonly maxKeys = 100_000,
    private readonly clock: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Decides one request (all limits, all or nothing), like the Redis script. */
  decide(keys: readonly string[], checks: readonly LimitCheck[], nowOverride?: number): ScriptReply {
    const now = nowOverride ?? this.clock();
    if (now - this.lastSweep > 10_000) this.sweep(now);
    const states = keys.map((k) => {
      const e = this.entries.get(k);
      return e !== undefined && e.expiresAt > now ? e.state : {};
    });
    const { decision, writes } = evaluateAll(now, checks, states);
    writes.forEach((w, i) => {
      const key = keys[i]!;
      this.entries.delete(key); // re-insert: most recently written last
      this.entries.set(key, { state: w.next, expiresAt: now + w.ttlMs });
    });
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return { nowMs: Math.floor(now), allowed: decision.allowed, outcomes: decision.outcomes };
  }

  sweep(now = this.clock()): void {
    this.lastSweep = now;
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }

  clear(): void {
    this.entries.clear();
  }
}
