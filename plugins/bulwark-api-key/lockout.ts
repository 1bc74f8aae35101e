// Brute-force lockout per client IP: `maxFailures` invalid keys within `windowMs` (the window starts at the first
// failure) lock that IP for `lockoutMs`. While locked, the IP's INVALID keys are answered 429 with Retry-After, and
// are not counted further (a lock is not extended by the attempts it refuses).
//
// A valid key is never locked out: the handler comes here only after a key was refused, so a valid key from a
// locked IP (a shared NAT, a corporate proxy, an attacker on the same network) still works. Only unknown keys and
// keys failing the format/checksum count; disabled, expired and not-yet-valid keys are real keys (a client that
// missed a rotation) and do not lock its neighbours out.
//
// Counted in Redis when the plugin has a Redis (every Kong node agrees: one EVALSHA per counted failure, none for
// a valid key), otherwise in memory per plugin-server process (ProtectedLru: an IP that is locked or has half its
// failures is never evicted by a flood of other IPs; a table full of those refuses new IPs as locked, fail closed).
// A lock Redis reported is mirrored in memory until it ends, so further garbage from a locked IP costs no round trip.
// When Redis fails, the failure is counted in memory instead (the request is refused either way).
import { createHash } from 'node:crypto';
import { ProtectedLru } from '../lib/protected-lru';
import { sharedRedisRegistry, whenReady, type RedisClient, type RedisRegistry, type RedisSettings } from '../lib/redis';
import { TtlCache } from '../lib/ttl-cache';

export interface LockoutPolicy {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
}

export interface LockState {
  /** Milliseconds the IP stays locked; 0 when not locked. */
  lockedMs: number;
  /** This failure started the lock (log it once). */
  newlyLocked: boolean;
  /** Where the count lives: redis, memory, or memory because Redis failed. */
  counter: 'redis' | 'memory' | 'memory-fallback';
  /** The memory table had no room to count this IP (refused as locked, retry after 1 s). */
  tableFull?: boolean;
  redisError?: string;
}

interface Entry {
  failures: number;
  windowStart: number;
  lockedUntil: number;
  expiresAt: number;
}

export const DEFAULT_MAX_ENTRIES = 100_000;

export class MemoryLockout {
  private readonly entries: ProtectedLru<Entry>;

  constructor(maxEntries = DEFAULT_MAX_ENTRIES) {
    this.entries = new ProtectedLru<Entry>(maxEntries, (e, now) => e.expiresAt <= now);
  }

  get size(): number {
    return this.entries.size;
  }

  recordFailure(key: string, p: LockoutPolicy, now: number): Omit<LockState, 'counter'> {
    let e = this.entries.peek(key);
    if (e !== undefined && e.lockedUntil > now) return { lockedMs: e.lockedUntil - now, newlyLocked: false };
    if (e !== undefined && now - e.windowStart >= p.windowMs) e = undefined;
    e = e === undefined ? { failures: 0, windowStart: now, lockedUntil: 0, expiresAt: 0 } : { ...e };
    e.failures++;
    let newlyLocked = false;
    if (e.failures >= p.maxFailures) {
      e.lockedUntil = now + p.lockoutMs;
      e.failures = 0;
      e.windowStart = e.lockedUntil;
      newlyLocked = true;
    }
    e.expiresAt = Math.max(e.lockedUntil, e.windowStart + p.windowMs);
    const stored = this.entries.set(key, e, e.lockedUntil > now || e.failures * 2 >= p.maxFailures, now);
    if (!stored) return { lockedMs: 1000, newlyLocked: false, tableFull: true };
    return { lockedMs: newlyLocked ? p.lockoutMs : 0, newlyLocked };
  }
}

// One round trip: refuse (and report) a live lock; otherwise count, and lock at the threshold. The two keys share a
// hash tag so the script runs on one Cluster node.
export const LOCKOUT_SCRIPT = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then return {ttl, 0} end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return {tonumber(ARGV[3]), 1}
end
return {0, 0}
`;
export const LOCKOUT_SCRIPT_SHA = createHash('sha1').update(LOCKOUT_SCRIPT).digest('hex');

export function lockoutKeys(prefix: string, ip: string): [string, string] {
  return [`${prefix}:{lockout:${ip}}:lock`, `${prefix}:{lockout:${ip}}:fail`];
}

async function runScript(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.evalsha(LOCKOUT_SCRIPT_SHA, keys.length, ...keys, ...args);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT'))
      return client.eval(LOCKOUT_SCRIPT, keys.length, ...keys, ...args);
    throw err;
  }
}

export interface LockoutDeps {
  memory: MemoryLockout;
  /** Locks Redis reported, by namespaced IP, until they end. */
  knownLocks: TtlCache<string, number>;
  registry: RedisRegistry;
}

export const defaultLockoutDeps: LockoutDeps = {
  memory: new MemoryLockout(),
  knownLocks: new TtlCache({ maxEntries: 100_000 }),
  registry: sharedRedisRegistry,
};

export interface LockoutTarget {
  /** Separates plugin configs that count separately (the Redis key prefix, or the plugin id in memory). */
  namespace: string;
  redis?: { settings: RedisSettings; settingsKey: string; keyPrefix: string };
}

/** Count one refused key from `ip`; the lock state that follows. */
export async function recordFailure(
  target: LockoutTarget,
  ip: string,
  p: LockoutPolicy,
  now: number,
  deps: LockoutDeps = defaultLockoutDeps,
): Promise<LockState> {
  const key = `${target.namespace}|${ip}`;
  if (target.redis === undefined) return { ...deps.memory.recordFailure(key, p, now), counter: 'memory' };
  const until = deps.knownLocks.get(key);
  if (until !== undefined && until > now) return { lockedMs: until - now, newlyLocked: false, counter: 'redis' };
  const { settings, settingsKey, keyPrefix } = target.redis;
  try {
    const client = deps.registry.acquire(settings, settingsKey).client;
    const keys = lockoutKeys(keyPrefix, ip);
    const args = [String(p.maxFailures), String(p.windowMs), String(p.lockoutMs)];
    const reply = await whenReady(client, settings.commandTimeoutMs, 'api key lockout', () =>
      runScript(client, keys, args),
    );
    if (!Array.isArray(reply) || typeof reply[0] !== 'number' || typeof reply[1] !== 'number')
      throw new Error('unexpected lockout script reply');
    const lockedMs = reply[0];
    if (lockedMs > 0) deps.knownLocks.set(key, now + lockedMs, now + lockedMs);
    return { lockedMs, newlyLocked: reply[1] === 1, counter: 'redis' };
  } catch (err) {
    return {
      ...deps.memory.recordFailure(key, p, now),
      counter: 'memory-fallback',
      redisError: err instanceof Error ? err.message : String(err),
    };
  }
}
