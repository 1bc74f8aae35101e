// A bounded string-keyed table for the CRS engine's cross-request verdict cache (engine.ts `verdictCache`): two
// generations, each of at most half the entries and half the key chars. New keys go into the young generation; when
// it is full it becomes the old one and the previous old generation is dropped whole; a key found in the old
// generation is copied into the young one. So a key used again within the last half-bound of insertions stays, the
// table never holds more than `maxEntries` entries and (but for one key) `maxKeyChars` chars of keys, and an insertion
// is O(1) (dropping a generation is one reference; the collector frees it, O(1) amortised per insertion): a flood of
// unique keys only churns it.
// Why not npm lru-cache (protected-lru.ts uses it): it allocates arrays of `max` slots up front, per table, and there
// is one table per engine (per plugin instance); this one grows with use and costs a hit a single Map lookup.

export class VerdictCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private youngChars = 0;
  /** Most entries, and chars of keys, per generation. */
  private readonly half: number;
  private readonly halfChars: number;

  constructor(
    readonly maxEntries: number,
    readonly maxKeyChars: number,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    if (!(maxKeyChars >= 1)) throw new RangeError('maxKeyChars must be positive');
    this.half = Math.floor(maxEntries / 2);
    this.halfChars = Math.floor(maxKeyChars / 2);
  }

  /** Entries held (a key copied into the young generation counts twice until the old one is dropped). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  get(key: string): V | undefined {
    const young = this.young.get(key);
    if (young !== undefined) return young;
    const old = this.old.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  /** Stores a key the table does not hold (in its young generation). */
  set(key: string, value: V): void {
    if (this.young.size >= this.half || this.youngChars + key.length > this.halfChars) {
      // With maxEntries 1 (half 0), or a key over half the chars, the young generation holds that entry alone and
      // no old one is kept.
      this.old = this.half > 0 && this.young.size > 0 ? this.young : new Map();
      this.young = new Map();
      this.youngChars = 0;
    }
    this.young.set(key, value);
    this.youngChars += key.length;
  }
}
