// The abuse guard of one bulwark-audit configuration: the ban check of the access phase (one cheap lookup) and the
// counting of the log phase. Time is injected (`now`), so tests assert exact trip points.
//
// Access (`checkBan`): a local cache answers first (a ban until it ends; "not banned" for `banCacheMs`), then the
// store: the memory store directly, Redis with one EVALSHA bounded by the Redis timeout. So a ban set by another
// Kong node is seen here within banCacheMs; a ban set here is seen here at once.
//
// Log (`observe`): the request's Observation becomes Measures, the store counts them, and each reading that trips
// its detector gives a `trip` finding (once per subject and TTL) and, for a detector in `block`, bans the client IP
// of the tripping request (a `ban` finding, once per IP and TTL). A subject that stays over its threshold bans each
// further IP that adds to it: a stuffing run spread over a few IPs is banned IP by IP.
//
// Redis down (`onRedisError`, logged once per outage by the handler):
//   local        counting goes on in this node's memory, bans known here (cached, or set during the outage) are
//                enforced; bans other nodes set during the outage are not seen. The default: an outage must not
//                turn into a refusal of every client.
//   fail-closed  the access phase cannot tell whether the client is banned: it refuses with 503.
import type { RedisRegistry } from '../../lib/redis';
import { TtlCache } from '../../lib/ttl-cache';
import {
  measuresFor,
  trips,
  type DetectorName,
  type DetectorPolicies,
  type Observation,
  type Reading,
  type AbuseAction,
} from './detectors';
import { MemoryAbuseStore, RedisAbuseStore, type Ban, type RedisTarget } from './store';

export type OnRedisError = 'local' | 'fail-closed';

export interface AbuseSettings {
  policies: DetectorPolicies;
  /** Status of a banned client's requests. */
  blockStatus: 403 | 429;
  /** How long "not banned" is cached per IP (ms); bans are cached until they end. */
  banCacheMs: number;
  onRedisError: OnRedisError;
  redis?: RedisTarget;
  /** Bound of every in-memory table (counters, bans, cached answers). */
  maxEntries: number;
}

export type BanCheck =
  | { state: 'clear' }
  | { state: 'banned'; detector: DetectorName; retryAfterMs: number }
  /** Redis failed and onRedisError is fail-closed. */
  | { state: 'unavailable'; error: string };

export type AbuseFinding =
  | { kind: 'trip'; detector: DetectorName; subject: string; action: AbuseAction; reading: Reading }
  | { kind: 'ban'; detector: DetectorName; ip: string; ttlMs: number };

export interface ObserveResult {
  findings: AbuseFinding[];
  /** Where the counting happened: redis, memory, or memory because Redis failed. */
  counter: 'redis' | 'memory' | 'memory-fallback';
  redisError?: string;
  tableFull: number;
}

/** Redis health as the guard saw it on its last call; the handler logs transitions, metrics read it. */
export interface RedisHealth {
  up: boolean;
  /** Set by the call that changed `up` (read and reset by the handler: one log line per transition). */
  changed: boolean;
  lastError?: string;
}

export const REDIS_RETRY_MS = 1000;

/** Redis not called: it failed less than REDIS_RETRY_MS ago. */
class RedisSkipped extends Error {}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class AbuseGuard {
  readonly memory: MemoryAbuseStore;
  readonly redis: RedisAbuseStore | undefined;
  private readonly answers: TtlCache<string, Ban | null>;
  private clock = 0;
  readonly redisHealth: RedisHealth = { up: true, changed: false };

  constructor(
    readonly settings: AbuseSettings,
    registry: RedisRegistry,
    private readonly now: () => number = Date.now,
  ) {
    this.memory = new MemoryAbuseStore(settings.maxEntries);
    this.redis = settings.redis === undefined ? undefined : new RedisAbuseStore(settings.redis, registry);
    this.answers = new TtlCache({ maxEntries: settings.maxEntries, now: () => this.clock });
  }

  /** After a Redis failure, no call for REDIS_RETRY_MS (then one probe): an outage costs no timeout per request. */
  private redisSkipUntil = 0;

  private noteRedis(ok: boolean, err?: unknown): void {
    if (this.redisHealth.up !== ok) this.redisHealth.changed = true;
    this.redisHealth.up = ok;
    if (!ok && !(err instanceof RedisSkipped)) {
      this.redisHealth.lastError = errorText(err);
      this.redisSkipUntil = this.now() + REDIS_RETRY_MS;
    }
  }

  private redisUsable(now: number): boolean {
    return this.redis !== undefined && now >= this.redisSkipUntil;
  }

  private redisSkipped(): Error {
    return new RedisSkipped(`Redis failed (${this.redisHealth.lastError ?? ''}); next try within ${REDIS_RETRY_MS} ms`);
  }

  /** Whether the client at `ip` is banned: the one lookup of the access phase. */
  async checkBan(ip: string): Promise<BanCheck> {
    const now = this.now();
    this.clock = now;
    const cached = this.answers.get(ip);
    if (cached !== undefined) return cached === null ? { state: 'clear' } : banned(cached, now);
    const local = this.memory.lookupBanSync(ip, now);
    if (local !== undefined) return banned(local, now);
    if (this.redis === undefined) return { state: 'clear' };
    let ban: Ban | undefined;
    try {
      if (!this.redisUsable(now)) throw this.redisSkipped();
      ban = await this.redis.lookupBan(ip, now);
      this.noteRedis(true);
    } catch (err) {
      this.noteRedis(false, err);
      if (this.settings.onRedisError === 'fail-closed') return { state: 'unavailable', error: errorText(err) };
      return { state: 'clear' };
    }
    this.clock = now;
    if (ban !== undefined) {
      this.answers.set(ip, ban, ban.until);
      return banned(ban, now);
    }
    this.answers.set(ip, null, now + this.settings.banCacheMs);
    return { state: 'clear' };
  }

  /** Counts one request; the trips and bans that follow. */
  async observe(obs: Observation): Promise<ObserveResult> {
    const now = this.now();
    const p = this.settings.policies;
    const measures = measuresFor(obs, p);
    const result: ObserveResult = { findings: [], counter: this.redis ? 'redis' : 'memory', tableFull: 0 };
    if (measures.length === 0) return result;
    let store: MemoryAbuseStore | RedisAbuseStore = this.redis ?? this.memory;
    let readings: Reading[];
    try {
      if (this.redis && !this.redisUsable(now)) throw this.redisSkipped();
      const measured = await store.measure(measures, p, now);
      readings = measured.readings;
      result.tableFull = measured.tableFull;
      if (this.redis) this.noteRedis(true);
    } catch (err) {
      // Redis failed: this node counts alone until it is back (whatever onRedisError says: counting is
      // after the response, and a count kept here is better than none).
      this.noteRedis(false, err);
      result.counter = 'memory-fallback';
      result.redisError = errorText(err);
      store = this.memory;
      const measured = this.memory.measureSync(measures, p, now);
      readings = measured.readings;
      result.tableFull = measured.tableFull;
    }
    for (let i = 0; i < measures.length; i++) {
      const m = measures[i]!;
      const reading = readings[i]!;
      if (!trips(m.detector, reading, p)) continue;
      const policy = p[m.detector];
      try {
        if (await store.markTripped(m.detector, m.subject, policy.ttlMs, now))
          result.findings.push({
            kind: 'trip',
            detector: m.detector,
            subject: m.subject,
            action: policy.action,
            reading,
          });
        if (policy.action === 'block' && obs.clientIp !== undefined) {
          const ip = obs.clientIp;
          const fresh = await store.ban(ip, m.detector, policy.ttlMs, now);
          // The ban is enforced on this node at once, whatever the store: the local cache holds it until it ends.
          this.clock = now;
          if (fresh) {
            this.answers.set(ip, { detector: m.detector, until: now + policy.ttlMs }, now + policy.ttlMs);
            if (store !== this.memory) this.memory.banSync(ip, m.detector, policy.ttlMs, now);
            result.findings.push({ kind: 'ban', detector: m.detector, ip, ttlMs: policy.ttlMs });
          } else {
            this.answers.delete(ip); // banned by someone else: the next check reads the store
          }
        }
      } catch (err) {
        // Redis failed between the count and the ban: ban here (this node at least enforces it).
        this.noteRedis(false, err);
        result.redisError = errorText(err);
        if (this.memory.markTrippedSync(m.detector, m.subject, policy.ttlMs, now))
          result.findings.push({
            kind: 'trip',
            detector: m.detector,
            subject: m.subject,
            action: policy.action,
            reading,
          });
        if (
          policy.action === 'block' &&
          obs.clientIp !== undefined &&
          this.memory.banSync(obs.clientIp, m.detector, policy.ttlMs, now)
        )
          result.findings.push({ kind: 'ban', detector: m.detector, ip: obs.clientIp, ttlMs: policy.ttlMs });
      }
    }
    return result;
  }
}

function banned(ban: Ban, now: number): BanCheck {
  return { state: 'banned', detector: ban.detector, retryAfterMs: Math.max(0, ban.until - now) };
}

/** Guards by configuration: counters survive Kong replacing a plugin instance with an equal config. */
const guards = new Map<string, AbuseGuard>();
const MAX_GUARDS = 32;

/** The guard for `namespace` (a stable text of the abuse settings), created on first use. */
export function guardFor(namespace: string, create: () => AbuseGuard): AbuseGuard {
  let guard = guards.get(namespace);
  if (guard === undefined) {
    guard = create();
    if (guards.size >= MAX_GUARDS) guards.delete(guards.keys().next().value!);
    guards.set(namespace, guard);
  }
  return guard;
}
