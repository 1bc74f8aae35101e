// Failed-authentication limiting, in memory, pure apart from the clock passed in.
import { createHash } from 'node:crypto';
import { ProtectedLru } from '../lib/protected-lru';
//
// Counted separately by client_id and by client IP: N failures within `windowMs` (the window starts at the
// first failure) lock that key for `lockoutMs`. While locked, requests with that client_id or from that IP
// get 429 whatever secret they carry, so guessing stops (the secret is not even checked).
//
// Unknown client ids are counted exactly like known ones, so a lockout does not reveal which ids exist.
//
// Bounded at DEFAULT_MAX_ENTRIES keys (~150 bytes each with its key: ~15 MiB), and a flood of other keys (say
// failures from 100,000 IPv6 addresses) must not reset a key that is locked or close to it. So a key that is
// locked, or has at least half of its allowed failures, is PROTECTED: never evicted before its window and
// lockout are over. A key with fewer failures may be evicted (least recently used first: it then gets at most
// that many extra guesses). When every entry is live and protected, a client_id or IP that is not tracked yet
// is refused as locked (fail closed, retry after 1 s) until entries expire: guessing never goes uncounted.
// Eviction is O(1) (ProtectedLru over lru-cache).
//
// Scope: one store per plugin entity (Kong's `__plugin_id`) per plugin server process. Kong runs one
// plugin instance per nginx worker, all in the one Node process, so the count is per Kong NODE: it survives
// config reloads (new instances, same plugin id) but is not shared between nodes, and restarts reset it.
// A success resets the client_id's count, never the IP's (one valid client must not unlock an IP that is
// guessing other clients' secrets).

export interface FailureLimits {
  enabled: boolean;
  /** 0 = no per-client limit. */
  maxPerClient: number;
  /** 0 = no per-IP limit. */
  maxPerIp: number;
  windowMs: number;
  lockoutMs: number;
}

interface Entry {
  failures: number;
  windowStart: number;
  lockedUntil: number;
  /** When both the count's window and the lockout are over: the entry is then forgotten. */
  expiresAt: number;
}

export type LockState =
  | { locked: false }
  /** `storeFull`: not a lock of this key; refused because the store cannot count it (see above). */
  | { locked: true; by: 'client' | 'ip'; retryAfterSeconds: number; storeFull?: true };

/** Entries kept per store (the bound on memory an attacker can use). */
export const DEFAULT_MAX_ENTRIES = 100_000;

/** Client ids are attacker-chosen (up to 1 KiB): long ones are stored as a SHA-256 to bound memory. */
function clientKey(clientId: string): string {
  return clientId.length <= 64 ? `c:${clientId}` : `c#${createHash('sha256').update(clientId).digest('base64url')}`;
}

export class FailureLimiter {
  private readonly entries: ProtectedLru<Entry>;

  constructor(maxEntries = DEFAULT_MAX_ENTRIES) {
    this.entries = new ProtectedLru<Entry>(maxEntries, (e, now) => e.expiresAt <= now);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Is this client_id or IP locked now? (Checked before any secret verification.) */
  check(clientId: string | undefined, ip: string | undefined, limits: FailureLimits, now: number): LockState {
    if (!limits.enabled) return { locked: false };
    const byClient = clientId !== undefined && limits.maxPerClient > 0 ? this.lockedFor(clientKey(clientId), now) : 0;
    const byIp = ip !== undefined && limits.maxPerIp > 0 ? this.lockedFor(`i:${ip}`, now) : 0;
    if (byClient === 0 && byIp === 0) {
      // A failure must be countable: with no room for a new key, refuse rather than let guesses go uncounted.
      const ipUntracked = ip !== undefined && limits.maxPerIp > 0 && !this.tracked(`i:${ip}`, now);
      const clientUntracked =
        clientId !== undefined && limits.maxPerClient > 0 && !this.tracked(clientKey(clientId), now);
      const needed = Number(ipUntracked) + Number(clientUntracked);
      if (needed > 0 && !this.entries.reserve(needed, now)) {
        return { locked: true, by: ipUntracked ? 'ip' : 'client', retryAfterSeconds: 1, storeFull: true };
      }
      return { locked: false };
    }
    const by = byClient >= byIp ? 'client' : 'ip';
    return { locked: true, by, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(byClient, byIp) / 1000)) };
  }

  /** Count one failed authentication; returns the lock state it leads to. */
  recordFailure(clientId: string | undefined, ip: string | undefined, limits: FailureLimits, now: number): LockState {
    if (!limits.enabled) return { locked: false };
    if (clientId !== undefined && limits.maxPerClient > 0)
      this.bump(clientKey(clientId), limits.maxPerClient, limits, now);
    if (ip !== undefined && limits.maxPerIp > 0) this.bump(`i:${ip}`, limits.maxPerIp, limits, now);
    return this.check(clientId, ip, limits, now);
  }

  /** A successful authentication clears the client's count (not the IP's). */
  recordSuccess(clientId: string): void {
    this.entries.delete(clientKey(clientId));
  }

  private tracked(key: string, now: number): boolean {
    const e = this.entries.peek(key);
    return e !== undefined && e.expiresAt > now;
  }

  private lockedFor(key: string, now: number): number {
    const e = this.entries.peek(key);
    if (e === undefined || e.lockedUntil <= now) return 0;
    return e.lockedUntil - now;
  }

  private bump(key: string, max: number, limits: FailureLimits, now: number): void {
    let e = this.entries.peek(key);
    if (e !== undefined && e.lockedUntil <= now && now - e.windowStart >= limits.windowMs) {
      this.entries.delete(key);
      e = undefined;
    }
    if (e === undefined) e = { failures: 0, windowStart: now, lockedUntil: 0, expiresAt: now + limits.windowMs };
    if (e.lockedUntil <= now) {
      // (Attempts while locked do not extend the lock.)
      e.failures++;
      if (e.failures >= max) {
        e.lockedUntil = now + limits.lockoutMs;
        // The next window starts after the lockout.
        e.failures = 0;
        e.windowStart = e.lockedUntil;
      }
    }
    e.expiresAt = Math.max(e.lockedUntil, e.windowStart + limits.windowMs);
    // No room (every entry live and protected): this failure is not counted, and check() refuses the key.
    this.entries.set(key, e, e.lockedUntil > now || e.failures * 2 >= max, now);
  }
}

const stores = new Map<string, FailureLimiter>();

/**
 * The store of one plugin entity in this process (shared by its per-worker instances and kept across config
 * reloads). Without a plugin id (a test constructing the plugin by hand) each caller gets its own store.
 */
export function limiterFor(pluginId: string | undefined): FailureLimiter {
  if (pluginId === undefined) return new FailureLimiter();
  let store = stores.get(pluginId);
  if (store === undefined) {
    store = new FailureLimiter();
    stores.set(pluginId, store);
  }
  return store;
}
