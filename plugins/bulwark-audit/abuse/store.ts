// Where the abuse counters, trip markers and bans live: in memory (one plugin-server process: one Kong node) or in
// Redis (every Kong node agrees). Both stores use the bucket arithmetic of window.ts, so they decide alike.
//
// Memory is bounded: counters sit in a ProtectedLru (lib/protected-lru.ts): a subject at half its threshold or more
// is never evicted by a flood of other subjects; a table full of those refuses to count a NEW subject (the request
// is not counted, `tableFull` says so and the handler logs it). Bans and trip markers are TtlCaches of
// `maxEntries`. Distinct sets stop growing at the threshold (the answer no longer changes past it).
//
// Redis: one EVALSHA per measure (sent together; in the log phase, after the response, so no client waits), keys
// `<prefix>:{abuse:<detector>:<hash of subject>}:<bucket>` (a hash tag per subject: Redis Cluster safe), distinct
// values in HyperLogLogs (PFADD / PFCOUNT of the two buckets: 12 KiB at most per subject and bucket, ~0.81 % error),
// bans at `<prefix>:{abuse-ban:<ip>}` (value: the detector; `DEL` it to lift a ban by hand).
import { createHash } from 'node:crypto';
import { ProtectedLru } from '../../lib/protected-lru';
import { whenReady, type RedisClient, type RedisRegistry, type RedisSettings } from '../../lib/redis';
import { TtlCache } from '../../lib/ttl-cache';
import {
  distinctCap,
  type DetectorName,
  type DetectorPolicies,
  type Measure,
  type Reading,
  type SharePolicy,
  type CountPolicy,
} from './detectors';
import { bucketOf, slidingCount } from './window';

export interface Ban {
  detector: DetectorName;
  /** ms since the epoch. */
  until: number;
}

export interface MeasureResult {
  readings: Reading[];
  /** Measures the memory table had no room for (not counted). */
  tableFull: number;
}

export interface AbuseStore {
  readonly kind: 'memory' | 'redis';
  measure(measures: readonly Measure[], p: DetectorPolicies, now: number): Promise<MeasureResult>;
  /** Marks (detector, subject) tripped for ttlMs; true when it was not tripped already (report the trip once). */
  markTripped(detector: DetectorName, subject: string, ttlMs: number, now: number): Promise<boolean>;
  /** Bans `ip` for ttlMs unless it is banned already (a ban is never extended); true when new. */
  ban(ip: string, detector: DetectorName, ttlMs: number, now: number): Promise<boolean>;
  lookupBan(ip: string, now: number): Promise<Ban | undefined>;
}

// ---------------------------------------------------------------- memory

interface CountEntry {
  bucket: number;
  current: number;
  previous: number;
  expiresAt: number;
}

interface DistinctEntry {
  bucket: number;
  current: Set<string>;
  previous: Set<string>;
  expiresAt: number;
}

export const DEFAULT_MAX_ENTRIES = 100_000;

export class MemoryAbuseStore implements AbuseStore {
  readonly kind = 'memory' as const;
  private readonly counts: ProtectedLru<CountEntry>;
  private readonly distinct: ProtectedLru<DistinctEntry>;
  private readonly bans: TtlCache<string, Ban>;
  private readonly tripped: TtlCache<string, true>;
  private clock = 0;

  constructor(readonly maxEntries = DEFAULT_MAX_ENTRIES) {
    this.counts = new ProtectedLru<CountEntry>(maxEntries, (e, now) => e.expiresAt <= now);
    this.distinct = new ProtectedLru<DistinctEntry>(maxEntries, (e, now) => e.expiresAt <= now);
    // TtlCache asks its clock when it stores and reads: give it the time of the call in progress.
    this.bans = new TtlCache({ maxEntries, now: () => this.clock });
    this.tripped = new TtlCache({ maxEntries, now: () => this.clock });
  }

  get size(): number {
    return this.counts.size + this.distinct.size;
  }

  /** Adds `add` to the counter `key`; its sliding estimate, or undefined when the table had no room. */
  private count(key: string, add: number, windowMs: number, guardAt: number, now: number): number | undefined {
    const bucket = bucketOf(now, windowMs);
    const old = this.counts.peek(key);
    let e: CountEntry;
    if (old === undefined || old.bucket < bucket - 1) e = { bucket, current: 0, previous: 0, expiresAt: 0 };
    else if (old.bucket === bucket - 1) e = { bucket, current: 0, previous: old.current, expiresAt: 0 };
    else e = { ...old };
    e.current += add;
    e.expiresAt = (bucket + 2) * windowMs;
    const estimate = slidingCount(e.current, e.previous, now, windowMs);
    if (!this.counts.set(key, e, estimate * 2 >= guardAt, now)) return undefined;
    return estimate;
  }

  private addDistinct(key: string, member: string, windowMs: number, cap: number, now: number): number | undefined {
    const bucket = bucketOf(now, windowMs);
    const old = this.distinct.peek(key);
    let e: DistinctEntry;
    if (old === undefined || old.bucket < bucket - 1)
      e = { bucket, current: new Set(), previous: new Set(), expiresAt: 0 };
    else if (old.bucket === bucket - 1) e = { bucket, current: new Set(), previous: old.current, expiresAt: 0 };
    else e = old;
    if (e.current.size < cap) e.current.add(member);
    e.expiresAt = (bucket + 2) * windowMs;
    let union = e.current.size;
    for (const m of e.previous) if (!e.current.has(m)) union++;
    if (!this.distinct.set(key, e, union * 2 >= cap, now)) return undefined;
    return union;
  }

  measureSync(measures: readonly Measure[], p: DetectorPolicies, now: number): MeasureResult {
    const readings: Reading[] = [];
    let tableFull = 0;
    for (const m of measures) {
      const windowMs = p[m.detector].windowMs;
      const key = `${m.detector}|${m.subject}`;
      if (m.kind === 'count') {
        const count = this.count(key, m.add, windowMs, (p[m.detector] as CountPolicy).threshold, now);
        if (count === undefined) tableFull++;
        readings.push({ kind: 'count', count: count ?? 0 });
      } else if (m.kind === 'share') {
        const min = (p[m.detector] as SharePolicy).minRequests;
        const total = this.count(`${m.detector}|total|${m.totalSubject}`, m.totalAdd, windowMs, min, now);
        const part = this.count(key, m.add, windowMs, min, now);
        if (total === undefined || part === undefined) tableFull++;
        readings.push({ kind: 'share', part: part ?? 0, total: total ?? 0 });
      } else {
        const distinct = this.addDistinct(key, m.member, windowMs, distinctCap(m.detector, p), now);
        if (distinct === undefined) tableFull++;
        readings.push({ kind: 'distinct', distinct: distinct ?? 0 });
      }
    }
    return { readings, tableFull };
  }

  measure(measures: readonly Measure[], p: DetectorPolicies, now: number): Promise<MeasureResult> {
    return Promise.resolve(this.measureSync(measures, p, now));
  }

  markTrippedSync(detector: DetectorName, subject: string, ttlMs: number, now: number): boolean {
    this.clock = now;
    const key = `${detector}|${subject}`;
    if (this.tripped.get(key) !== undefined) return false;
    this.tripped.set(key, true, now + ttlMs);
    return true;
  }

  markTripped(detector: DetectorName, subject: string, ttlMs: number, now: number): Promise<boolean> {
    return Promise.resolve(this.markTrippedSync(detector, subject, ttlMs, now));
  }

  banSync(ip: string, detector: DetectorName, ttlMs: number, now: number): boolean {
    this.clock = now;
    if (this.bans.get(ip) !== undefined) return false;
    this.bans.set(ip, { detector, until: now + ttlMs }, now + ttlMs);
    return true;
  }

  ban(ip: string, detector: DetectorName, ttlMs: number, now: number): Promise<boolean> {
    return Promise.resolve(this.banSync(ip, detector, ttlMs, now));
  }

  lookupBanSync(ip: string, now: number): Ban | undefined {
    this.clock = now;
    return this.bans.get(ip);
  }

  lookupBan(ip: string, now: number): Promise<Ban | undefined> {
    return Promise.resolve(this.lookupBanSync(ip, now));
  }
}

// ---------------------------------------------------------------- Redis

// Adds ARGV[1] to the current bucket (created with a TTL of two windows), returns {current, previous}.
export const COUNT_SCRIPT = `
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
if c == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local p = tonumber(redis.call('GET', KEYS[2]) or '0')
return {c, p}
`;
// Adds ARGV[1] to the current bucket's HyperLogLog, returns the distinct count of both buckets.
export const DISTINCT_SCRIPT = `
redis.call('PFADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('PFCOUNT', KEYS[1], KEYS[2])
`;
// A live ban: {detector, ms left}; nil when none.
export const LOOKUP_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}
`;

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
const SCRIPTS = { count: COUNT_SCRIPT, distinct: DISTINCT_SCRIPT, lookup: LOOKUP_SCRIPT } as const;
const SHAS = { count: sha1(COUNT_SCRIPT), distinct: sha1(DISTINCT_SCRIPT), lookup: sha1(LOOKUP_SCRIPT) } as const;

async function runScript(client: RedisClient, name: keyof typeof SCRIPTS, keys: string[], args: string[]) {
  try {
    return (await client.evalsha(SHAS[name], keys.length, ...keys, ...args)) as unknown;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT'))
      return (await client.eval(SCRIPTS[name], keys.length, ...keys, ...args)) as unknown;
    throw err;
  }
}

/** A subject in a key name: hashed (bounded length, no `{` `}` to break the Cluster hash tag). */
export function subjectKey(subject: string): string {
  return createHash('sha256').update(subject).digest('hex').slice(0, 32);
}

export interface RedisTarget {
  settings: RedisSettings;
  settingsKey: string;
  keyPrefix: string;
}

export class RedisAbuseStore implements AbuseStore {
  readonly kind = 'redis' as const;

  constructor(
    private readonly target: RedisTarget,
    private readonly registry: RedisRegistry,
  ) {}

  private client(): RedisClient {
    return this.registry.acquire(this.target.settings, this.target.settingsKey).client;
  }

  private call<T>(what: string, command: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = this.client();
    return whenReady(client, this.target.settings.commandTimeoutMs, what, () => command(client));
  }

  counterKey(detector: DetectorName, subject: string, bucket: number): string {
    return `${this.target.keyPrefix}:{abuse:${detector}:${subjectKey(subject)}}:${bucket}`;
  }

  banKey(ip: string): string {
    return `${this.target.keyPrefix}:{abuse-ban:${ip}}`;
  }

  private async count(detector: DetectorName, subject: string, add: number, windowMs: number, now: number) {
    const bucket = bucketOf(now, windowMs);
    const keys = [this.counterKey(detector, subject, bucket), this.counterKey(detector, subject, bucket - 1)];
    const reply = await this.call('abuse counter', (c) =>
      runScript(c, 'count', keys, [String(add), String(2 * windowMs)]),
    );
    if (!Array.isArray(reply) || typeof reply[0] !== 'number' || typeof reply[1] !== 'number')
      throw new Error('unexpected abuse counter reply');
    return slidingCount(reply[0], reply[1], now, windowMs);
  }

  async measure(measures: readonly Measure[], p: DetectorPolicies, now: number): Promise<MeasureResult> {
    const readings = await Promise.all(
      measures.map(async (m): Promise<Reading> => {
        const windowMs = p[m.detector].windowMs;
        if (m.kind === 'count')
          return { kind: 'count', count: await this.count(m.detector, m.subject, m.add, windowMs, now) };
        if (m.kind === 'share') {
          const [part, total] = await Promise.all([
            this.count(m.detector, m.subject, m.add, windowMs, now),
            this.count(m.detector, `total|${m.totalSubject}`, m.totalAdd, windowMs, now),
          ]);
          return { kind: 'share', part, total };
        }
        const bucket = bucketOf(now, windowMs);
        const keys = [
          `${this.counterKey(m.detector, m.subject, bucket)}:hll`,
          `${this.counterKey(m.detector, m.subject, bucket - 1)}:hll`,
        ];
        const reply = await this.call('abuse distinct counter', (c) =>
          runScript(c, 'distinct', keys, [m.member, String(2 * windowMs)]),
        );
        if (typeof reply !== 'number') throw new Error('unexpected abuse distinct reply');
        return { kind: 'distinct', distinct: reply };
      }),
    );
    return { readings, tableFull: 0 };
  }

  async markTripped(detector: DetectorName, subject: string, ttlMs: number): Promise<boolean> {
    const key = `${this.target.keyPrefix}:{abuse:${detector}:${subjectKey(subject)}}:tripped`;
    const reply = await this.call('abuse trip', (c) => c.set(key, '1', 'PX', ttlMs, 'NX'));
    return reply === 'OK';
  }

  async ban(ip: string, detector: DetectorName, ttlMs: number): Promise<boolean> {
    const reply = await this.call('abuse ban', (c) => c.set(this.banKey(ip), detector, 'PX', ttlMs, 'NX'));
    return reply === 'OK';
  }

  async lookupBan(ip: string, now: number): Promise<Ban | undefined> {
    const reply = await this.call('abuse ban lookup', (c) => runScript(c, 'lookup', [this.banKey(ip)], []));
    if (reply === null || reply === undefined) return undefined;
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || typeof reply[1] !== 'number')
      throw new Error('unexpected abuse ban reply');
    if (reply[1] <= 0) return undefined;
    return { detector: reply[0] as DetectorName, until: now + reply[1] };
  }
}
