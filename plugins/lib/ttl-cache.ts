// A bounded in-memory cache with a per-entry expiry: least-recently-used eviction when full (a Map keeps
// insertion order; a hit re-inserts the entry), expired entries dropped when met. Synchronous and
// allocation-light, for per-request lookups in a plugin server process (one per plugin instance).

export interface TtlCacheOptions {
  /** Most entries kept; 0 disables the cache (every get misses, set does nothing). */
  maxEntries: number;
  /** Clock in milliseconds (tests pass their own). */
  now?: () => number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class TtlCache<K, V> {
  private readonly map = new Map<K, Entry<V>>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: TtlCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 0)
      throw new RangeError('maxEntries must be a non-negative integer');
    this.maxEntries = options.maxEntries;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.map.size;
  }

  /** The live value, or undefined when absent or expired (an expired entry is removed). */
  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    // Most recently used goes last.
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.value;
  }

  /** Store until `expiresAt` (ms, same clock as `now`); an entry already expired is not stored. */
  set(key: K, value: V, expiresAt: number): void {
    if (this.maxEntries === 0 || !(expiresAt > this.now())) return;
    this.map.delete(key);
    while (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
    }
    this.map.set(key, { value, expiresAt });
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}
