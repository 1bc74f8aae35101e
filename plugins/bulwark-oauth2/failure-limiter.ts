// Failed-authentication limiting, in memory, pure apart from the clock passed in.
import { createHash } from 'node:crypto';
//
// Counted separately by client_id and by client IP: N failures within `windowMs` (the window starts at the
// first failure) lock that key for `lockoutMs`. While locked, requests with that client_id or from that IP
// get 429 whatever secret they carry, so guessing stops (the secret is not even checked).
//
// Unknown client ids are counted exactly like known ones, so a lockout does not reveal which ids exist;
// the store is bounded (oldest entries are dropped first) so unknown ids cannot exhaust memory.
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
}

export type LockState = { locked: false } | { locked: true; by: 'client' | 'ip'; retryAfterSeconds: number };

/** Entries kept per store; beyond it the oldest are dropped (the bound on memory an attacker can use). */
export const DEFAULT_MAX_ENTRIES = 100_000;

/** Client ids are attacker-chosen (up to 1 KiB): long ones are stored as a SHA-256 to bound memory. */
function clientKey(clientId: string): string {
  return clientId.length <= 64 ? `c:${clientId}` : `c#${createHash('sha256').update(clientId).digest('base64url')}`;
}

export class FailureLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  get size(): number {
    return this.entries.size;
  }

  /** Is this client_id or IP locked now? (Checked before any secret verification.) */
  check(clientId: string | undefined, ip: string | undefined, limits: FailureLimits, now: number): LockState {
    if (!limits.enabled) return { locked: false };
    const byClient = clientId !== undefined && limits.maxPerClient > 0 ? this.lockedFor(clientKey(clientId), now) : 0;
    const byIp = ip !== undefined && limits.maxPerIp > 0 ? this.lockedFor(`i:${ip}`, now) : 0;
    if (byClient === 0 && byIp === 0) return { locked: false };
    const by = byClient >= byIp ? 'client' : 'ip';
    return { locked: true, by, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(byClient, byIp) / 1000)) };
  }

  /** Count one failed authentication; returns the lock state it leads to. */
  recordFailure(clientId: string | undefined, ip: string | undefined, limits: FailureLimits, now: number): LockState {
    if (!limits.enabled) return { locked: false };
    if (clientId !== undefined && limits.maxPerClient > 0) this.bump(clientKey(clientId), limits.maxPerClient, limits, now);
    if (ip !== undefined && limits.maxPerIp > 0) this.bump(`i:${ip}`, limits.maxPerIp, limits, now);
    return this.check(clientId, ip, limits, now);
  }

  /** A successful authentication clears the client's count (not the IP's). */
  recordSuccess(clientId: string): void {
    this.entries.delete(clientKey(clientId));
  }

  private lockedFor(key: string, now: number): number {
    const e = this.entries.get(key);
    if (e === undefined || e.lockedUntil <= now) return 0;
    return e.lockedUntil - now;
  }

  private bump(key: string, max: number, limits: FailureLimits, now: number): void {
    let e = this.entries.get(key);
    if (e !== undefined && e.lockedUntil <= now && now - e.windowStart >= limits.windowMs) {
      this.entries.delete(key);
      e = undefined;
    }
    if (e === undefined) {
      this.evictIfFull(now);
      e = { failures: 0, windowStart: now, lockedUntil: 0 };
      this.entries.set(key, e);
    }
    if (e.lockedUntil > now) return; // already locked: the lock is not extended by further attempts
    e.failures++;
    if (e.failures >= max) {
      e.lockedUntil = now + limits.lockoutMs;
      // The next window starts after the lockout.
      e.failures = 0;
      e.windowStart = e.lockedUntil;
    }
  }

  private evictIfFull(now: number): void {
    if (this.entries.size < this.maxEntries) return;
    // Among the oldest few entries, prefer dropping one that holds no lock; else drop the oldest.
    let scanned = 0;
    for (const [key, e] of this.entries) {
      if (e.lockedUntil <= now) {
        this.entries.delete(key);
        return;
      }
      if (++scanned >= 64) break;
    }
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
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
