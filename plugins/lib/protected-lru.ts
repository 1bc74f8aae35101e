// A bounded key → value table for abuse counters (rate-limit counters, failed-login lockouts) that an attacker
// must not be able to reset by flooding it with other keys.
//
// Entries live in one of two least-recently-used lists (npm lru-cache: O(1) get, set, delete and eviction):
//  - `evictable`: counters far from their limit. When the table is full, the least recently used of these
//    makes room (forgetting it gives that key back at most what it had used).
//  - `protected`: keys that are limited or close to it. Never evicted while live: a new key that finds the
//    table full of them is refused (`set` returns false) and the caller fails closed for it. Only a protected
//    entry that has expired (the caller says when) gives its place, checked at the least recently used end.
// The O(1) eviction matters: dropping the first key of a JavaScript Map after many deletes walks every deleted
// slot at its head (90-270 µs per eviction at 100,000 entries, measured by scripts/bench/eviction.ts).
import { LRUCache } from 'lru-cache';

export class ProtectedLru<V extends object> {
  private readonly evictable: LRUCache<string, V>;
  private readonly guarded: LRUCache<string, V>;

  constructor(
    readonly maxEntries: number,
    /** Whether an entry is dead at `now` (its counter expired): a dead entry always gives its place. */
    private readonly isExpired: (value: V, now: number) => boolean,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    // Each list could hold every entry; the total is kept at maxEntries by `set`, so neither evicts on its own.
    this.evictable = new LRUCache<string, V>({ max: maxEntries });
    this.guarded = new LRUCache<string, V>({ max: maxEntries });
  }

  get size(): number {
    return this.evictable.size + this.guarded.size;
  }

  /** The value, if the key is held (expired or not: the caller checks); does not change recency. */
  peek(key: string): V | undefined {
    return this.evictable.peek(key) ?? this.guarded.peek(key);
  }

  /**
   * Stores `value` (most recently used) in the list `guard` says. A new key takes the place of the least recently
   * used evictable entry when the table is full, or of the least recently used protected one if it has expired;
   * false (nothing stored) when every entry is live and protected.
   */
  set(key: string, value: V, guard: boolean, now: number): boolean {
    const into = guard ? this.guarded : this.evictable;
    const other = guard ? this.evictable : this.guarded;
    if (into.has(key)) {
      into.set(key, value);
      return true;
    }
    if (other.delete(key)) {
      into.set(key, value);
      return true;
    }
    if (this.size >= this.maxEntries && !this.makeRoom(now)) return false;
    into.set(key, value);
    return true;
  }

  /** Makes room for `count` new keys if it can; false when the live protected entries leave too little. */
  reserve(count: number, now: number): boolean {
    while (this.size + count > this.maxEntries) if (!this.makeRoom(now)) return false;
    return true;
  }

  delete(key: string): void {
    if (!this.evictable.delete(key)) this.guarded.delete(key);
  }

  /** Drops every expired entry (a full walk: for a periodic sweep, not per request). */
  sweep(now: number): void {
    for (const list of [this.evictable, this.guarded]) {
      const dead: string[] = [];
      for (const [key, value] of list.entries()) if (this.isExpired(value, now)) dead.push(key);
      for (const key of dead) list.delete(key);
    }
  }

  clear(): void {
    this.evictable.clear();
    this.guarded.clear();
  }

  /** Frees one place in O(1); false when every entry is live and protected. */
  private makeRoom(now: number): boolean {
    if (this.evictable.size > 0) {
      this.evictable.pop();
      return true;
    }
    const oldest = this.guarded.rkeys().next();
    if (!oldest.done && this.isExpired(this.guarded.peek(oldest.value)!, now)) {
      this.guarded.delete(oldest.value);
      return true;
    }
    return false;
  }
}
