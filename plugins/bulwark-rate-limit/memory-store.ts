// In-memory counters: the store when no Redis is configured, and the per-node fallback during a Redis outage.
// Same algorithms as the Redis script (algorithms.ts).
//
// Bounded at `maxKeys` counters (default 100,000; a counter is ~200-300 bytes with its key, so tens of MiB at
// most). Traffic from other keys must never make the store forget a client that is limited or close to it, or
// a limited client could reset itself by sending requests from many addresses (IPv6 gives plenty). So:
//  - a counter that has used at least half of its limit, or refused a request, is PROTECTED: never evicted
//    before it expires;
//  - a counter below half of its limit may be evicted (least recently used first) to make room; the client then
//    starts again from zero, so within that window it can get at most 1.5 x its limit;
//  - when every counter is live and protected, a request that needs a NEW counter is refused (fail closed,
//    `storeFull`), until counters expire. Clients already tracked are decided as usual.
// Expired counters are dropped when met and by a sweep every 10 s. Eviction is O(1) (ProtectedLru).
import { ProtectedLru } from '../lib/protected-lru';
import { evaluateAll, type CounterState, type LimitCheck, type LimitOutcome } from './algorithms';
import type { ScriptReply } from './script';

interface Entry {
  state: CounterState;
  expiresAt: number;
}

/** A request refused because the store has no room for its new counter: try again in this long. */
export const STORE_FULL_RETRY_MS = 1000;

export interface MemoryReply extends ScriptReply {
  /** Refused because every counter is live and protected and this client needs a new one. */
  storeFull?: true;
  /** Set on the first such refusal and then at most every 10 s: when to write a log line. */
  reportStoreFull?: true;
}

/** Used at least half of its limit, or refused: the client must not be forgotten. */
function protects(outcome: LimitOutcome, check: LimitCheck): boolean {
  return !outcome.allowed || outcome.remaining * 2 <= check.limit;
}

export class MemoryStore {
  private readonly entries: ProtectedLru<Entry>;
  private lastSweep = 0;
  private lastFullReport = -Infinity;

  constructor(
    readonly maxKeys = 100_000,
    private readonly clock: () => number = Date.now,
  ) {
    this.entries = new ProtectedLru<Entry>(maxKeys, (e, now) => e.expiresAt <= now);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Decides one request (all limits, all or nothing), like the Redis script. */
  decide(keys: readonly string[], checks: readonly LimitCheck[], nowOverride?: number): MemoryReply {
    const now = nowOverride ?? this.clock();
    if (now - this.lastSweep > 10_000) this.sweep(now);
    let newKeys = 0;
    const states = keys.map((k) => {
      const e = this.entries.peek(k);
      if (e !== undefined && e.expiresAt > now) return e.state;
      if (e !== undefined) this.entries.delete(k);
      newKeys++;
      return {};
    });
    if (newKeys > 0 && !this.entries.reserve(newKeys, now)) {
      const outcomes = checks.map(() => ({
        allowed: false,
        remaining: 0,
        resetMs: STORE_FULL_RETRY_MS,
        retryMs: STORE_FULL_RETRY_MS,
      }));
      const report = now - this.lastFullReport >= 10_000;
      if (report) this.lastFullReport = now;
      return {
        nowMs: Math.floor(now),
        allowed: false,
        outcomes,
        storeFull: true,
        ...(report ? { reportStoreFull: true as const } : {}),
      };
    }
    const { decision, writes } = evaluateAll(now, checks, states);
    if (decision.allowed) {
      writes.forEach((w, i) => {
        this.entries.set(
          keys[i]!,
          { state: w.next, expiresAt: now + w.ttlMs },
          protects(decision.outcomes[i]!, checks[i]!),
          now,
        );
      });
    } else {
      // Nothing is counted, but a counter that refused is protected from now on.
      keys.forEach((key, i) => {
        const e = this.entries.peek(key);
        if (e !== undefined && protects(decision.outcomes[i]!, checks[i]!)) this.entries.set(key, e, true, now);
      });
    }
    return { nowMs: Math.floor(now), allowed: decision.allowed, outcomes: decision.outcomes };
  }

  sweep(now = this.clock()): void {
    this.lastSweep = now;
    this.entries.sweep(now);
  }

  clear(): void {
    this.entries.clear();
  }
}
