// A bounded table for the CRS engine's cross-request verdict cache (engine.ts `verdictCache`), keyed by a value's
// collection (a small integer tag), its bytes and, where the collection's rules depend on names, its name: two
// generations, each of at most half the entries and half the key chars. New keys go into the young generation; when
// it is full it becomes the old one and the previous old generation is dropped whole; a key found in the old
// generation is copied into the young one. So a key used again within the last half-bound of insertions stays, the
// table never holds more than `maxEntries` entries and (but for one key) `maxKeyChars` chars of keys, and an insertion
// is O(1) (dropping a generation is one reference; the collector frees it, O(1) amortised per insertion): a flood of
// unique keys only churns it.
// Each generation holds a Map per collection from the value's bytes (to its verdict, or to its names' verdicts where
// the rules depend on names): a lookup hashes the value string that the engine's per-request memo has already hashed
// (V8 keeps a string's hash in it), where a joined key string cost a copy and a second hash per value. A stored key
// is a private copy of the value (a value sliced from a larger string would otherwise keep all of it alive).
// Why not npm lru-cache (protected-lru.ts uses it): it allocates arrays of `max` slots up front, per table, and there
// is one table per engine (per plugin instance); this one grows with use and costs a hit a single Map lookup.

/** A name-dependent collection's entries for one value: its names, each with its verdict. */
interface Named<V> {
  name: string;
  verdict: V;
  next: Named<V> | undefined;
}

/** One generation: per collection tag, a Map from the value's bytes to its verdict (collections whose rules do not
 * depend on names) or to its names' verdicts; a Map per tag, so a hit is one lookup, with no entry object to read. */
class Generation<V> {
  readonly nameless: (Map<string, V> | undefined)[] = [];
  readonly named: (Map<string, Named<V>> | undefined)[] = [];
  entries = 0;
  chars = 0;

  get(tag: number, value: string, name: string | undefined): V | undefined {
    if (name === undefined) return this.nameless[tag]?.get(value);
    for (let e = this.named[tag]?.get(value); e !== undefined; e = e.next) if (e.name === name) return e.verdict;
    return undefined;
  }
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
  private young = new Generation<V>();
  private old = new Generation<V>();
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
    return this.young.entries + this.old.entries;
  }

  get(tag: number, value: string, name: string | undefined): V | undefined {
    const young = this.young.get(tag, value, name);
    if (young !== undefined) return young;
    const old = this.old.get(tag, value, name);
    if (old !== undefined) this.set(tag, value, name, old);
    return old;
  }

  /** Stores a key the table does not hold (in its young generation). */
  set(tag: number, value: string, name: string | undefined, verdict: V): void {
    const chars = keyChars(value, name);
    let young = this.young;
    if (young.entries >= this.half || young.chars + chars > this.halfChars) {
      // With maxEntries 1 (half 0), or a key over half the chars, the young generation holds that entry alone and
      // no old one is kept.
      this.old = this.half > 0 && young.entries > 0 ? young : new Generation();
      this.young = young = new Generation();
    }
    young.entries++;
    young.chars += chars;
    if (name === undefined) {
      const map = (young.nameless[tag] ??= new Map());
      map.set(privateCopy(value), verdict);
      return;
    }
    const map = (young.named[tag] ??= new Map());
    const head = map.get(value);
    const entry = { name: privateCopy(name), verdict, next: head };
    // The Map keeps the key it holds when it holds the value already.
    map.set(head === undefined ? privateCopy(value) : value, entry);
  }
}
