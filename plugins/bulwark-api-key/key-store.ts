// Where key records live, behind one interface:
//   declarative  the plugin config's `keys` (GitOps with decK): an in-memory Map by hash, built at instance start.
//   redis        one JSON value per key under `<prefix>:key:<hash>` (the CLI writes them): one GET per lookup.
// and a cache in front of the Redis store, process-wide per (Redis, key prefix, cache settings), since Kong recreates
// instances on every config change and a fresh cache per instance would send every key back to Redis:
//   positive  a found record is reused for `ttl` (so a revoked or changed key takes effect within `ttl`);
//   negative  a hash Redis does not know is answered "unknown" for `negativeTtl` without a round trip, so a client
//             repeating one wrong (checksum-valid) key costs one GET per negativeTtl;
//   stale     with the `serve-cached` outage policy, a record fetched within `ttl + staleTtl` is used while Redis is
//             unreachable (a key revoked during the outage keeps working until then: that is the policy's price).
// Keys that fail the checksum never get here (handler.ts): random garbage costs no lookup at all.
//
// Redis layout (shared with the CLI, key-admin.ts): `<p>:key:<hash>` record JSON, `<p>:id:<id>` → hash,
// `<p>:ids` set of ids, `<p>:last-used` hash id → ISO time (written on a cache miss, so "last used" is accurate to
// the cache TTL), `<p>:{lockout:<ip>}:fail|lock` (lockout.ts).
import {
  describeRedisTarget,
  sharedRedisRegistry,
  whenReady,
  type RedisRegistry,
  type RedisSettings,
} from '../lib/redis';
import { describeError } from '../lib/plugin';
import { TtlCache } from '../lib/ttl-cache';
import { formatTimestamp, parseKeyRecord, type KeyRecord } from './key-record';

export class StoreUnavailableError extends Error {
  constructor(
    readonly store: string,
    readonly detail: string,
  ) {
    super(`${store}: ${detail}`);
    this.name = 'StoreUnavailableError';
  }
}

export type Lookup =
  | { found: true; record: KeyRecord; source: 'config' | 'cache' | 'store' | 'stale-cache' }
  | { found: false; source: 'config' | 'cache' | 'store' }
  /** The store holds something under this hash that is not a valid record (fail closed: the key is refused). */
  | { found: false; source: 'store'; invalidRecord: string };

export interface KeyStore {
  readonly kind: 'declarative' | 'redis';
  /** Throws StoreUnavailableError when the store cannot answer. */
  lookup(hash: string, now: number): Promise<Lookup>;
}

export class DeclarativeKeyStore implements KeyStore {
  readonly kind = 'declarative';
  private readonly byHash = new Map<string, KeyRecord>();

  constructor(records: readonly KeyRecord[]) {
    for (const r of records) this.byHash.set(r.hash, r);
  }

  get size(): number {
    return this.byHash.size;
  }

  lookup(hash: string): Promise<Lookup> {
    const record = this.byHash.get(hash);
    return Promise.resolve(
      record === undefined ? { found: false, source: 'config' } : { found: true, record, source: 'config' },
    );
  }
}

export const redisKeys = {
  record: (prefix: string, hash: string) => `${prefix}:key:${hash}`,
  id: (prefix: string, id: string) => `${prefix}:id:${id}`,
  ids: (prefix: string) => `${prefix}:ids`,
  lastUsed: (prefix: string) => `${prefix}:last-used`,
};

/** Largest record value read from Redis (a record is well under 16 KiB; anything bigger is refused unread). */
export const MAX_RECORD_BYTES = 64 * 1024;

export interface CacheSettings {
  ttlMs: number;
  negativeTtlMs: number;
  /** 0 unless the outage policy is serve-cached. */
  staleMs: number;
  maxEntries: number;
}

interface Cached {
  record: KeyRecord;
  fetchedAt: number;
}

export class RedisKeyStore implements KeyStore {
  readonly kind = 'redis';
  private readonly positive: TtlCache<string, Cached>;
  private readonly negative: TtlCache<string, true>;
  /** Counts for benchmarks and tests: how many lookups went to Redis. */
  storeLookups = 0;

  constructor(
    private readonly settings: RedisSettings,
    private readonly settingsKey: string,
    private readonly keyPrefix: string,
    private readonly cache: CacheSettings,
    private readonly registry: RedisRegistry = sharedRedisRegistry,
    now: () => number = Date.now,
  ) {
    this.positive = new TtlCache({ maxEntries: cache.maxEntries, now });
    this.negative = new TtlCache({ maxEntries: cache.maxEntries, now });
  }

  get target(): string {
    return describeRedisTarget(this.settings);
  }

  async lookup(hash: string, now: number): Promise<Lookup> {
    const hit = this.positive.get(hash);
    if (hit !== undefined && now - hit.fetchedAt < this.cache.ttlMs)
      return { found: true, record: hit.record, source: 'cache' };
    if (this.negative.get(hash) !== undefined) return { found: false, source: 'cache' };
    let raw: string | null;
    try {
      this.storeLookups++;
      const client = this.registry.acquire(this.settings, this.settingsKey).client;
      raw = await whenReady(client, this.settings.commandTimeoutMs, 'api key lookup', () =>
        client.get(redisKeys.record(this.keyPrefix, hash)),
      );
    } catch (err) {
      // serve-cached: a record verified recently enough stands in while Redis cannot answer.
      if (hit !== undefined && now - hit.fetchedAt < this.cache.ttlMs + this.cache.staleMs)
        return { found: true, record: hit.record, source: 'stale-cache' };
      throw new StoreUnavailableError(`redis ${this.target}`, describeError(err));
    }
    if (raw === null) {
      this.positive.delete(hash);
      if (this.cache.negativeTtlMs > 0) this.negative.set(hash, true, now + this.cache.negativeTtlMs);
      return { found: false, source: 'store' };
    }
    let record: KeyRecord;
    try {
      if (raw.length > MAX_RECORD_BYTES) throw new Error(`record of ${raw.length} bytes`);
      record = parseKeyRecord(JSON.parse(raw), 'record');
      if (record.hash !== hash) throw new Error('record.hash: does not match the key it is stored under');
    } catch (err) {
      this.positive.delete(hash);
      return { found: false, source: 'store', invalidRecord: describeError(err) };
    }
    this.positive.set(hash, { record, fetchedAt: now }, now + this.cache.ttlMs + this.cache.staleMs);
    this.noteUse(record.id, now);
    return { found: true, record, source: 'store' };
  }

  /** "last used", best effort and not awaited: a failure here must not fail the request. */
  private noteUse(id: string, now: number): void {
    try {
      const client = this.registry.acquire(this.settings, this.settingsKey).client;
      if (client.status === 'ready')
        client.hset(redisKeys.lastUsed(this.keyPrefix), id, formatTimestamp(now)).catch(() => undefined);
    } catch {
      // ignored: see above
    }
  }
}

const redisStores = new Map<string, RedisKeyStore>();

/** The process-wide Redis store (and its caches) for these settings. */
export function sharedRedisKeyStore(
  settings: RedisSettings,
  settingsKey: string,
  keyPrefix: string,
  cache: CacheSettings,
): RedisKeyStore {
  const id = JSON.stringify([
    settingsKey,
    keyPrefix,
    cache.ttlMs,
    cache.negativeTtlMs,
    cache.staleMs,
    cache.maxEntries,
  ]);
  let store = redisStores.get(id);
  if (store === undefined) {
    store = new RedisKeyStore(settings, settingsKey, keyPrefix, cache);
    redisStores.set(id, store);
  }
  return store;
}
