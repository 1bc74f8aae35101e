// A bounded table for the CRS engine's cross-request verdict cache (engine.ts `verdictCache`), keyed by a value's
// collection (a small integer tag), its bytes and, where the collection's rules depend on names, its name: two
// generations, each of at most half the entries and half the key chars. New keys go into the young generation; when
// it is full it becomes the old one and the previous old generation is dropped whole; a key found in the old
// generation is copied into the young one. So a key used again within the last half-bound of insertions stays, the
// table never holds more than `maxEntries` entries and (but for one key) `maxKeyChars` chars of keys, and an insertion
// is O(1) (dropping a generation is one reference; the collector frees it, O(1) amortised per insertion): a flood of
// unique keys only churns it.
// Each generation is a Map from the value's bytes to a short chain of (tag, name) entries: a lookup hashes the value
// string the engine's per-request memo has already hashed (V8 keeps a string's hash in it), where a joined key string
// cost a copy and a second hash per value. A stored key is a private copy of the value (a value sliced from a larger
// string would otherwise keep all of it alive in the cache).
// Why not npm lru-cache (protected-lru.ts uses it): it allocates arrays of `max` slots up front, per table, and there
// is one table per engine (per plugin instance); this one grows with use and costs a hit a single Map lookup.

interface Entry<V> {
  tag: number;
  name: string | undefined;
  verdict: V;
  /** The generation's Map key for this value (a private copy), shared by the chain. */
  key: string;
  next: Entry<V> | undefined;
}

/** Chars a key counts for: the value, a tag char, and with a name the name and two chars of the value's length (the
 * joined key strings the table held before). */
export function keyChars(value: string, name: string | undefined): number {
  return name === undefined ? value.length + 1 : value.length + name.length + 3;
}

/** A copy of `s` that shares no larger string (`s` may be a slice of a request's body). */
function privateCopy(s: string): string {
  return (s + ' ').slice(0, -1);
}

export class VerdictCache<V> {
  private young = new Map<string, Entry<V>>();
  private old = new Map<string, Entry<V>>();
  private youngEntries = 0;
  private oldEntries = 0;
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
    return this.youngEntries + this.oldEntries;
  }

  get(tag: number, value: string, name: string | undefined): V | undefined {
    for (let e = this.young.get(value); e !== undefined; e = e.next)
      if (e.tag === tag && e.name === name) return e.verdict;
    for (let e = this.old.get(value); e !== undefined; e = e.next) {
      if (e.tag === tag && e.name === name) {
        this.insert(tag, e.key, e.name, e.verdict, true);
        return e.verdict;
      }
    }
    return undefined;
  }

  /** Stores a key the table does not hold (in its young generation). */
  set(tag: number, value: string, name: string | undefined, verdict: V): void {
    this.insert(tag, value, name === undefined ? undefined : privateCopy(name), verdict, false);
  }

  /** `name` is a private copy, and so is `value` when `valueIsPrivate` (else it is copied unless the young
   * generation holds it already). */
  private insert(tag: number, value: string, name: string | undefined, verdict: V, valueIsPrivate: boolean): void {
    const chars = keyChars(value, name);
    if (this.youngEntries >= this.half || this.youngChars + chars > this.halfChars) {
      // With maxEntries 1 (half 0), or a key over half the chars, the young generation holds that entry alone and
      // no old one is kept.
      const keep = this.half > 0 && this.youngEntries > 0;
      this.old = keep ? this.young : new Map();
      this.oldEntries = keep ? this.youngEntries : 0;
      this.young = new Map();
      this.youngEntries = 0;
      this.youngChars = 0;
    }
    const head = this.young.get(value);
    const key = head?.key ?? (valueIsPrivate ? value : privateCopy(value));
    this.young.set(key, { tag, name, verdict, key, next: head });
    this.youngEntries++;
    this.youngChars += chars;
  }
}
