// The jti replay cache: each accepted token id is remembered until its token expires (plus leeway). Bounded: when
// full of live entries it refuses new tokens ('full', fail closed) rather than forget one that could be replayed.

export type ReplayVerdict = 'new' | 'replayed' | 'full';

/** Where accepted token ids are remembered. Plug in a shared store (Redis SET NX PX) for several processes. */
export interface ReplayStore {
  /** Remember `id` until `expiresAtMs`; 'replayed' when it is already remembered. */
  remember(id: string, expiresAtMs: number, nowMs: number): ReplayVerdict | Promise<ReplayVerdict>;
}

export class MemoryReplayCache implements ReplayStore {
  private readonly entries = new Map<string, number>();
  private lastSweepMs = 0;

  constructor(readonly maxEntries = 100_000) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  remember(id: string, expiresAtMs: number, nowMs: number): ReplayVerdict {
    const seen = this.entries.get(id);
    if (seen !== undefined && seen > nowMs) return 'replayed';
    if (seen === undefined && this.entries.size >= this.maxEntries) {
      // A full sweep is O(n): at most once a second, so a flood of valid tokens cannot make every request pay it.
      if (nowMs - this.lastSweepMs >= 1000) this.sweep(nowMs);
      if (this.entries.size >= this.maxEntries) return 'full';
    }
    this.entries.set(id, expiresAtMs);
    return 'new';
  }

  private sweep(nowMs: number): void {
    this.lastSweepMs = nowMs;
    for (const [id, exp] of this.entries) if (exp <= nowMs) this.entries.delete(id);
  }
}
