// The identity contract: the one verified view of the caller that Bulwark's authenticating plugins publish and every
// later plugin (rate-limit, authz, audit, upstream-trust, docs) reads.
//
// Where it lives: `kong.ctx.shared["bulwark.identity"]`, a plain table, set once by the plugin that authenticated the
// request (one RPC) and read once per request by a plugin that needs it (one RPC). kong.ctx.shared is per request
// and lives only inside Kong, so a client can never write it (unlike a header).
//
// Who writes: bulwark-transport (mTLS, priority highest), bulwark-jwt, bulwark-api-key. (bulwark-oauth2 answers its
// own endpoints and never lets an authenticated request continue; its tokens become identities through bulwark-jwt.)
// When several authenticate one request, the last to run (lowest priority) replaces the record: it saw
// the strongest evidence last. An anonymous identity never replaces an authenticated one (as Kong's auth plugins:
// `anonymous` applies only when no other plugin authenticated the request).
//
// Who reads: anything below the authenticating plugins in priority. A reader treats a missing, malformed or
// over-large record as "no identity" (unauthenticated), never as an error that lets the request through.
//
// Values cross msgpack → Lua → msgpack: an empty Lua table comes back as an empty map OR an empty array, and Lua
// tables have no undefined. `parseIdentity` normalises both, and bounds every field, so readers get a typed object.
import type { Kong, SharedValue } from './pdk';

export const IDENTITY_SHARED_KEY = 'bulwark.identity';

/** The contract version, bumped on incompatible changes; a reader refuses records of another version. */
export const IDENTITY_VERSION = 1;

export type CredentialKind = 'jwt' | 'api-key' | 'mtls' | 'oauth2-client';
export const CREDENTIAL_KINDS: readonly CredentialKind[] = ['jwt', 'api-key', 'mtls', 'oauth2-client'];

/** Bounds every record is held to, on write and on read (they also bound the RPC payload). */
export const IDENTITY_LIMITS = {
  stringLength: 512,
  listEntries: 256,
  claims: 64,
  claimValueLength: 2048,
} as const;

export interface IdentityConsumer {
  id: string;
  username?: string;
}

export interface IdentityCredential {
  kind: CredentialKind;
  /** Stable, non-secret id: a key id, a token's issuer+subject UUID, a certificate fingerprint, a client_id. */
  id: string;
}

export interface BulwarkIdentity {
  v: typeof IDENTITY_VERSION;
  /** False for the `anonymous` consumer of an auth plugin: the request carried no accepted credential. */
  authenticated: boolean;
  /** The plugin that published the record (e.g. `bulwark-jwt`). */
  authenticatedBy: string;
  /** How the caller proved who they are; `anonymous` when `authenticated` is false. */
  method: CredentialKind | 'anonymous';
  consumer?: IdentityConsumer;
  credential?: IdentityCredential;
  /** The principal: a token's `sub`, a certificate subject, an API key's id, an OAuth client_id. */
  subject?: string;
  /** The token issuer, for JWT/OAuth identities. */
  issuer?: string;
  scopes: string[];
  /** Groups or roles, from claims or key labels. */
  groups: string[];
  /** Selected claims (operator-chosen), JSON values only. */
  claims: Record<string, SharedValue>;
}

export type IdentityInput = Omit<BulwarkIdentity, 'v' | 'scopes' | 'groups' | 'claims'> &
  Partial<Pick<BulwarkIdentity, 'scopes' | 'groups' | 'claims'>>;

/** A record ready for `kong.ctx.shared.set`; throws when a bound is exceeded (a plugin bug, not caller input). */
export function identityRecord(input: IdentityInput): BulwarkIdentity {
  const record: BulwarkIdentity = {
    v: IDENTITY_VERSION,
    authenticated: input.authenticated,
    authenticatedBy: input.authenticatedBy,
    method: input.method,
    scopes: [...(input.scopes ?? [])],
    groups: [...(input.groups ?? [])],
    claims: { ...(input.claims ?? {}) },
  };
  if (input.consumer) record.consumer = { ...input.consumer };
  if (input.credential) record.credential = { ...input.credential };
  if (input.subject !== undefined) record.subject = input.subject;
  if (input.issuer !== undefined) record.issuer = input.issuer;
  const parsed = parseIdentity(record);
  if (parsed === undefined) throw new Error('identity record out of bounds or malformed');
  return parsed;
}

/**
 * Publish the caller's identity (one RPC). Call it from access, after the authentication decision. The caller
 * decides whether an anonymous record may be written (see the rule at the top: it must not replace an
 * authenticated one; the plugins already read `kong.client.getCredential()` for that).
 */
export async function publishIdentity(kong: Pick<Kong, 'ctx'>, input: IdentityInput): Promise<BulwarkIdentity> {
  const record = identityRecord(input);
  await kong.ctx.shared.set(IDENTITY_SHARED_KEY, record as unknown as SharedValue);
  return record;
}

/** The caller's identity (one RPC); undefined when no plugin published one or the record is unusable. */
export async function readIdentity(kong: Pick<Kong, 'ctx'>): Promise<BulwarkIdentity | undefined> {
  return parseIdentity(await kong.ctx.shared.get(IDENTITY_SHARED_KEY));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An empty Lua table may come back as [] or {}: both read as "no entries". */
function isEmptyTable(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).length === 0);
}

function boundedString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= IDENTITY_LIMITS.stringLength;
}

function stringList(v: unknown): string[] | undefined {
  if (v === undefined || v === null || isEmptyTable(v)) return [];
  if (!Array.isArray(v) || v.length > IDENTITY_LIMITS.listEntries) return undefined;
  return v.every(boundedString) ? [...v] : undefined;
}

function claimsMap(v: unknown): Record<string, SharedValue> | undefined {
  if (v === undefined || v === null || isEmptyTable(v)) return {};
  if (!isRecord(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length > IDENTITY_LIMITS.claims) return undefined;
  const out: Record<string, SharedValue> = Object.create(null) as Record<string, SharedValue>;
  for (const key of keys) {
    if (!boundedString(key)) return undefined;
    const value = v[key];
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch {
      return undefined;
    }
    if (text === undefined || text.length > IDENTITY_LIMITS.claimValueLength) return undefined;
    out[key] = value as SharedValue;
  }
  return out;
}

/** Pure: the typed identity from a kong.ctx.shared value, or undefined when absent, malformed or out of bounds. */
export function parseIdentity(value: unknown): BulwarkIdentity | undefined {
  if (!isRecord(value) || value.v !== IDENTITY_VERSION) return undefined;
  const { authenticated, authenticatedBy, method } = value;
  if (typeof authenticated !== 'boolean' || !boundedString(authenticatedBy)) return undefined;
  if (authenticated ? !CREDENTIAL_KINDS.includes(method as CredentialKind) : method !== 'anonymous') return undefined;
  const scopes = stringList(value.scopes);
  const groups = stringList(value.groups);
  const claims = claimsMap(value.claims);
  if (scopes === undefined || groups === undefined || claims === undefined) return undefined;
  const identity: BulwarkIdentity = {
    v: IDENTITY_VERSION,
    authenticated,
    authenticatedBy,
    method: method as BulwarkIdentity['method'],
    scopes,
    groups,
    claims,
  };
  if (value.consumer !== undefined && value.consumer !== null) {
    const c = value.consumer;
    if (!isRecord(c) || !boundedString(c.id)) return undefined;
    if (c.username !== undefined && c.username !== null && !boundedString(c.username)) return undefined;
    identity.consumer = { id: c.id };
    if (typeof c.username === 'string') identity.consumer.username = c.username;
  }
  if (value.credential !== undefined && value.credential !== null) {
    const c = value.credential;
    if (!isRecord(c) || !CREDENTIAL_KINDS.includes(c.kind as CredentialKind) || !boundedString(c.id)) return undefined;
    identity.credential = { kind: c.kind as CredentialKind, id: c.id };
  }
  for (const key of ['subject', 'issuer'] as const) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    if (!boundedString(v)) return undefined;
    identity[key] = v;
  }
  return identity;
}

/** Whether a newly authenticated plugin's record may replace `existing` (anonymous never replaces authenticated). */
export function mayReplaceIdentity(
  existing: BulwarkIdentity | undefined,
  next: Pick<BulwarkIdentity, 'authenticated'>,
): boolean {
  return existing === undefined || next.authenticated || !existing.authenticated;
}

/**
 * The anonymous rule in one place for every authenticating plugin: publish `input` (an anonymous record) only
 * when no plugin before this one published an authenticated identity. Costs one read, plus one write when it
 * writes. Added to the contract because bulwark-jwt, bulwark-transport and bulwark-api-key all need exactly this.
 */
export async function publishAnonymousIdentity(
  kong: Pick<Kong, 'ctx'>,
  input: Omit<IdentityInput, 'authenticated' | 'method' | 'credential'>,
): Promise<BulwarkIdentity | undefined> {
  const existing = await readIdentity(kong);
  if (!mayReplaceIdentity(existing, { authenticated: false })) return undefined;
  return publishIdentity(kong, { ...input, authenticated: false, method: 'anonymous' });
}

/** Keep the strings of a list that fit the contract's bounds (a token's claims are data, not a plugin bug). */
export function fitStringList(values: Iterable<unknown>): string[] {
  const out = new Set<string>();
  for (const v of values) {
    if (out.size >= IDENTITY_LIMITS.listEntries) break;
    if (boundedString(v)) out.add(v);
  }
  return [...out];
}

/** A string that fits the contract's bounds, or undefined. */
export function fitString(v: unknown): string | undefined {
  return boundedString(v) ? v : undefined;
}

/** The claims that fit the contract's bounds (JSON values no longer than claimValueLength); the rest dropped. */
export function fitClaims(claims: Record<string, unknown>): Record<string, SharedValue> {
  const out: Record<string, SharedValue> = Object.create(null) as Record<string, SharedValue>;
  let n = 0;
  for (const [key, value] of Object.entries(claims)) {
    if (n >= IDENTITY_LIMITS.claims || !boundedString(key) || value === undefined) continue;
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch {
      continue;
    }
    if (text === undefined || text.length > IDENTITY_LIMITS.claimValueLength) continue;
    out[key] = value as SharedValue;
    n++;
  }
  return out;
}

/** A Kong consumer entity as the identity's consumer (id and username when they fit the bounds). */
export function identityConsumer(
  consumer: { id: string; username?: string | null } | undefined | null,
): IdentityConsumer | undefined {
  if (consumer === undefined || consumer === null || !boundedString(consumer.id)) return undefined;
  return boundedString(consumer.username) ? { id: consumer.id, username: consumer.username } : { id: consumer.id };
}
