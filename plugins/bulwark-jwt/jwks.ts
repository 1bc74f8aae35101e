// Keys fetched from an issuer: a JWKS URL, or the `jwks_uri` of its OpenID Connect discovery document
// (OpenID Connect Discovery 1.0 §4: `<issuer>/.well-known/openid-configuration`, whose `issuer` must
// equal the configured issuer exactly).
//
// Cache rules (the JWKS requirements):
// - a fetched key set is fresh for `cacheTtlMs`; after that the next request refreshes it in the
//   background and goes on with the cached keys (no request waits for a routine refresh);
// - a token whose `kid` is not in the set waits for one refresh, but fetches (for any reason) start at
//   most once per `cooldownMs`: forged kids cannot make the gateway hammer the IdP; concurrent requests
//   share one fetch;
// - a fetch is bounded by `timeoutMs` (each HTTP exchange, and the wait of any request for it);
// - when refreshes fail, the last keys stay usable until `maxStaleMs` after their last successful
//   fetch; then they are dropped and tokens are rejected (fail closed) until a fetch succeeds;
// - a JWKS is attacker-reachable data too: symmetric keys, private keys, `use: enc` keys, unsupported
//   types and weak RSA keys (e < 3, ROCA, …: lib/rsa-key.ts) are dropped, the other keys stay usable, and
//   at most MAX_JWKS_KEYS keys are read. Each dropped key is reported once (kid and reason) while the
//   JWKS keeps publishing it: `takeRefusals` hands the new ones to the handler, which logs them.
//
// Stores are shared process-wide by URL and settings (see `remoteKeySet`): Kong runs one plugin instance
// per worker and starts new instances on every configuration change; sharing keeps one cache per IdP.
import {
  checkOutboundUrl,
  fetchOutbound,
  type OutboundFetchOptions,
  type OutboundFetchResult,
} from '../lib/outbound-http';
import { describeError } from '../lib/plugin';
import { countJwksRefresh } from '../lib/metrics';
import { importJwk, KeyImportError, keyMismatch, type VerificationKey } from './keys';

export interface JwksSettings {
  cacheTtlMs: number;
  maxStaleMs: number;
  cooldownMs: number;
  timeoutMs: number;
  maxBytes: number;
}

export interface RemoteKeySource {
  issuer: string;
  /** Explicit JWKS URL; when undefined, discovery is used. */
  jwksUrl: string | undefined;
  allowHttp: boolean;
  extraCaCertificates: string[];
}

export type Fetcher = (url: string, options: OutboundFetchOptions) => Promise<OutboundFetchResult>;

export const MAX_JWKS_KEYS = 100;
/** Most keys tried for one token when its kid does not single one out. */
export const MAX_CANDIDATE_KEYS = 3;

/** A JWKS entry that was not imported, and why (for one log line). */
export interface KeyRefusal {
  /** The entry's kid (at most 64 characters), or its position when it has none. */
  kid: string | undefined;
  index: number;
  reason: string;
  jwks: string;
}

export type KeyLookup =
  | { ok: true; keys: VerificationKey[] }
  | { ok: false; reason: 'jwks_unavailable' | 'unknown_kid' | 'no_matching_key'; detail: string };

export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

function parseJson(res: OutboundFetchResult, what: string): unknown {
  if (res.status !== 200) throw new Error(`${what} answered HTTP ${res.status}`);
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new Error(`${what} is not JSON`);
  }
}

/** Select the keys that may verify a token of `alg` with `kid` (kid-less keys are candidates too). */
export function selectKeys(keys: readonly VerificationKey[], kid: string | undefined, alg: string): VerificationKey[] {
  const fitting = keys.filter((k) => keyMismatch(k, alg) === undefined);
  if (kid !== undefined) {
    const exact = fitting.filter((k) => k.kid === kid);
    if (exact.length > 0) return exact.slice(0, MAX_CANDIDATE_KEYS);
    return fitting.filter((k) => k.kid === undefined).slice(0, MAX_CANDIDATE_KEYS);
  }
  return fitting.slice(0, MAX_CANDIDATE_KEYS);
}

export class RemoteKeySet {
  private keys: VerificationKey[] | undefined;
  private kids = new Set<string>();
  private identities = new Set<VerificationKey>();
  private fetchedAt = 0;
  private lastAttemptAt: number | undefined;
  private inflight: Promise<void> | undefined;
  private jwksUrl: string | undefined;
  /** Why the last fetch failed (for the log line of a request rejected for want of keys). */
  lastError: string | undefined;
  /** Fetch attempts made (tests and diagnostics). */
  fetchCount = 0;
  /** Refusals not yet handed out by takeRefusals. */
  private unreported: KeyRefusal[] = [];
  /** Refusals of the last fetch that got a key list (reported once while the JWKS keeps them). */
  private refused = new Set<string>();

  constructor(
    readonly source: RemoteKeySource,
    readonly settings: JwksSettings,
    private readonly fetcher: Fetcher = fetchOutbound,
    private readonly now: () => number = Date.now,
  ) {
    this.jwksUrl = source.jwksUrl;
  }

  /** True while `key` belongs to the current key set (a verified-token cache entry stays valid). */
  contains(key: VerificationKey): boolean {
    return this.identities.has(key) && this.usable(this.now());
  }

  private usable(now: number): boolean {
    return this.keys !== undefined && now - this.fetchedAt <= this.settings.maxStaleMs;
  }

  private mayFetch(now: number): boolean {
    return (
      this.inflight !== undefined ||
      this.lastAttemptAt === undefined ||
      now - this.lastAttemptAt >= this.settings.cooldownMs
    );
  }

  /** Keys for a token; may wait (bounded by timeoutMs) for a fetch when none are usable or the kid is new. */
  async lookup(kid: string | undefined, alg: string): Promise<KeyLookup> {
    let now = this.now();
    if (!this.usable(now)) {
      if (this.keys !== undefined) this.drop();
      if (this.mayFetch(now)) await this.refreshBounded();
      now = this.now();
      if (!this.usable(now)) {
        return {
          ok: false,
          reason: 'jwks_unavailable',
          detail: `no usable keys from ${this.describeSource()}: ${this.lastError ?? 'not fetched yet (cool-down)'}`,
        };
      }
    } else if (now - this.fetchedAt >= this.settings.cacheTtlMs && this.mayFetch(now)) {
      void this.refresh(); // background: the cached keys serve this request
    }
    let keys = selectKeys(this.keys!, kid, alg);
    if (keys.length === 0 && kid !== undefined && !this.kids.has(kid) && this.mayFetch(this.now())) {
      await this.refreshBounded();
      if (this.usable(this.now())) keys = selectKeys(this.keys!, kid, alg);
    }
    if (keys.length > 0) return { ok: true, keys };
    if (kid !== undefined && !this.kids.has(kid))
      return {
        ok: false,
        reason: 'unknown_kid',
        detail: `kid ${JSON.stringify(kid.slice(0, 64))} not in the JWKS of ${this.describeSource()}`,
      };
    return {
      ok: false,
      reason: 'no_matching_key',
      detail: `no key in the JWKS of ${this.describeSource()} fits ${alg}`,
    };
  }

  /** The keys dropped by fetches since the last call, each reported once while the JWKS keeps publishing it. */
  takeRefusals(): KeyRefusal[] {
    if (this.unreported.length === 0) return [];
    const out = this.unreported;
    this.unreported = [];
    return out;
  }

  private noteRefusals(refusals: KeyRefusal[]): void {
    const current = new Set<string>();
    for (const r of refusals) {
      const id = JSON.stringify(r.kid !== undefined ? ['kid', r.kid, r.reason] : ['index', r.index, r.reason]);
      current.add(id);
      if (!this.refused.has(id)) this.unreported.push(r);
    }
    this.refused = current;
    if (this.unreported.length > MAX_JWKS_KEYS) this.unreported.splice(0, this.unreported.length - MAX_JWKS_KEYS);
  }

  private describeSource(): string {
    return this.jwksUrl ?? discoveryUrl(this.source.issuer);
  }

  private drop(): void {
    this.keys = undefined;
    this.kids = new Set();
    this.identities = new Set();
  }

  /** Wait for a refresh, but never longer than timeoutMs. */
  private async refreshBounded(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.settings.timeoutMs);
    });
    try {
      await Promise.race([this.refresh(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Fetch the key set once (joins a fetch in flight). Never rejects: failures land in lastError. */
  refresh(): Promise<void> {
    if (this.inflight !== undefined) return this.inflight;
    this.lastAttemptAt = this.now();
    this.fetchCount++;
    this.inflight = this.fetchKeys()
      .then((keys) => {
        this.install(keys);
        countJwksRefresh('ok');
      })
      .catch((err: unknown) => {
        this.lastError = describeError(err);
        countJwksRefresh('error');
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  private fetchOptions(): OutboundFetchOptions {
    return {
      timeoutMs: this.settings.timeoutMs,
      maxBytes: this.settings.maxBytes,
      allowHttp: this.source.allowHttp,
      extraCaCertificates: this.source.extraCaCertificates,
      headers: { accept: 'application/json, application/jwk-set+json' },
    };
  }

  private async fetchKeys(): Promise<VerificationKey[]> {
    if (this.source.jwksUrl === undefined) {
      // Discovery on every refresh: an IdP may move its jwks_uri; one more small fetch per TTL.
      const doc = parseJson(
        await this.fetcher(discoveryUrl(this.source.issuer), this.fetchOptions()),
        'discovery document',
      );
      if (doc === null || typeof doc !== 'object') throw new Error('discovery document is not a JSON object');
      const { issuer, jwks_uri: jwksUri } = doc as { issuer?: unknown; jwks_uri?: unknown };
      if (issuer !== this.source.issuer)
        throw new Error(
          `discovery document issuer ${JSON.stringify(issuer)} is not ${JSON.stringify(this.source.issuer)}`,
        );
      if (typeof jwksUri !== 'string') throw new Error('discovery document has no jwks_uri');
      checkOutboundUrl(jwksUri, this.source.allowHttp);
      this.jwksUrl = jwksUri;
    }
    const body = parseJson(await this.fetcher(this.jwksUrl!, this.fetchOptions()), 'JWKS');
    const list = body !== null && typeof body === 'object' ? (body as { keys?: unknown }).keys : undefined;
    if (!Array.isArray(list)) throw new Error('JWKS has no "keys" array');
    const keys: VerificationKey[] = [];
    const refusals: KeyRefusal[] = [];
    for (const [i, jwk] of list.slice(0, MAX_JWKS_KEYS).entries()) {
      const rawKid = jwk !== null && typeof jwk === 'object' ? (jwk as { kid?: unknown }).kid : undefined;
      const kid = typeof rawKid === 'string' ? rawKid.slice(0, 64) : undefined;
      try {
        keys.push(importJwk(jwk, kid !== undefined ? `jwks kid=${kid}` : `jwks keys[${i}]`, false));
      } catch (err) {
        // Dropped: enc keys, symmetric or private keys, unsupported types, weak RSA keys. Other keys stay usable.
        refusals.push({
          kid,
          index: i,
          reason: err instanceof KeyImportError ? err.message : describeError(err),
          jwks: this.jwksUrl!,
        });
      }
    }
    this.noteRefusals(refusals);
    if (keys.length === 0) throw new Error('JWKS has no usable signature verification key');
    return keys;
  }

  private install(fresh: VerificationKey[]): void {
    // Keep the existing entry for a key that is still published: its imported CryptoKey and the
    // verified-token cache entries that point at it stay valid across refreshes.
    const previous = new Map<string, VerificationKey>();
    for (const k of this.keys ?? []) previous.set(`${k.kid ?? ''}|${k.alg ?? ''}|${k.identity}`, k);
    const keys = fresh.map((k) => previous.get(`${k.kid ?? ''}|${k.alg ?? ''}|${k.identity}`) ?? k);
    this.keys = keys;
    this.kids = new Set(keys.map((k) => k.kid).filter((k): k is string => k !== undefined));
    this.identities = new Set(keys);
    this.fetchedAt = this.now();
    this.lastError = undefined;
  }
}

// ---- process-wide registry

const MAX_STORES = 64;
const stores = new Map<string, RemoteKeySet>();

/** The shared store for this source and settings (least recently created dropped beyond MAX_STORES). */
export function remoteKeySet(source: RemoteKeySource, settings: JwksSettings): RemoteKeySet {
  const key = JSON.stringify([
    source.issuer,
    source.jwksUrl ?? null,
    source.allowHttp,
    source.extraCaCertificates,
    settings,
  ]);
  let store = stores.get(key);
  if (store === undefined) {
    store = new RemoteKeySet(source, settings);
    if (stores.size >= MAX_STORES) stores.delete(stores.keys().next().value!);
    stores.set(key, store);
  }
  return store;
}

/** For tests: forget every shared store. */
export function resetRemoteKeySets(): void {
  stores.clear();
}
