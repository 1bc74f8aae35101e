// Who a request is counted against. Pure: the handler gathers the inputs over RPC, this decides the key.
//
// consumer, credential and jwt-claim come from the caller's identity (plugins/lib/identity.ts, docs/identity.md),
// published by the Bulwark plugin that authenticated the request. `jwt_claim` names a claim by dotted path
// (`tenant.id`) in the identity's selected claims (bulwark-jwt `identity.claims`); `sub` and `iss` fall back to the
// identity's subject and issuer. A claim whose value is a string, a finite number or a boolean identifies the
// client; anything else (absent, object, array, over 256 characters) counts as unresolved.
// Alternatively `jwt_claim_header` names a request header carrying the claim value, for a token verified by a
// plugin that publishes no Bulwark identity but forwards claims as headers (it must overwrite any client-sent
// value, or clients choose their own bucket).
import { createHash } from 'node:crypto';
import type { BulwarkIdentity } from '../lib/identity';

export type IdentitySource = 'consumer' | 'credential' | 'ip' | 'header' | 'path' | 'service' | 'route' | 'jwt-claim';

export const IDENTITY_SOURCES: readonly IdentitySource[] = [
  'consumer',
  'credential',
  'ip',
  'header',
  'path',
  'service',
  'route',
  'jwt-claim',
];

const MAX_VALUE_LENGTH = 256;

/** What the handler could find out about the request; undefined = not available. */
export interface IdentityInputs {
  consumerId?: string;
  credentialId?: string;
  headerValue?: string;
  path?: string;
  serviceId?: string;
  routeId?: string;
  jwtClaim?: string;
}

export interface ResolvedIdentity {
  /** `source:value` parts, e.g. ["consumer:8d1…", "path:/orders"]. */
  parts: string[];
  /** Sources that fell back to the client IP. */
  fellBack: IdentitySource[];
}

function usable(v: string | undefined): v is string {
  return v !== undefined && v.length > 0 && v.length <= MAX_VALUE_LENGTH;
}

/**
 * The identity parts. `clientIp` is asked for only when needed (an `ip` part or a fallback). A part that cannot be
 * resolved becomes the client IP, so an anonymous request never shares one bucket with all other anonymous requests
 * (and never escapes limiting). A missing client IP (the peer address unknown) reads as `unknown`.
 */
export function resolveIdentity(
  sources: readonly IdentitySource[],
  inputs: IdentityInputs,
  clientIp: () => string | undefined,
): ResolvedIdentity {
  const parts: string[] = [];
  const fellBack: IdentitySource[] = [];
  const ipPart = () => `ip:${clientIp() ?? 'unknown'}`;
  for (const source of sources) {
    let value: string | undefined;
    switch (source) {
      case 'consumer':
        value = inputs.consumerId;
        break;
      case 'credential':
        value = inputs.credentialId;
        break;
      case 'header':
        value = inputs.headerValue;
        break;
      case 'path':
        value = inputs.path;
        break;
      case 'service':
        value = inputs.serviceId;
        break;
      case 'route':
        value = inputs.routeId;
        break;
      case 'jwt-claim':
        value = inputs.jwtClaim;
        break;
      case 'ip':
        parts.push(ipPart());
        continue;
    }
    if (usable(value)) {
      parts.push(`${source}:${value}`);
    } else {
      fellBack.push(source);
      const ip = ipPart();
      if (!parts.includes(ip)) parts.push(ip);
    }
  }
  return { parts, fellBack };
}

/** A short, fixed-length digest of the identity for the counter key (no client data in Redis key names). */
export function identityDigest(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 22);
}

/** A claim of the caller's identity by dotted path; `sub` / `iss` fall back to the identity's subject / issuer. */
export function identityClaimValue(identity: BulwarkIdentity | undefined, path: string): string | undefined {
  if (identity === undefined || !identity.authenticated) return undefined;
  const value = claimValue(identity.claims, path);
  if (value !== undefined) return value;
  if (path === 'sub') return identity.subject;
  if (path === 'iss') return identity.issuer;
  return undefined;
}

/** The identity's credential as one key part: kind and id (two kinds never share a bucket). */
export function identityCredential(identity: BulwarkIdentity): string | undefined {
  return identity.credential === undefined ? undefined : `${identity.credential.kind}:${identity.credential.id}`;
}

/** A claim by dotted path, as a string; undefined unless it is a string, finite number or boolean. */
export function claimValue(claims: Record<string, unknown> | undefined, path: string): string | undefined {
  let cur: unknown = claims;
  for (const segment of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, segment)) return undefined;
    cur = (cur as Record<string, unknown>)[segment];
  }
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'number' && Number.isFinite(cur)) return String(cur);
  if (typeof cur === 'boolean') return String(cur);
  return undefined;
}

/**
 * Redis key of one limit's counter. Everything between `{` and `}` is the Cluster hash tag: namespace + identity,
 * so the keys of all limits of one request fall in ONE slot (the script touches them together), while different
 * clients spread over the cluster.
 */
export function counterKey(prefix: string, namespace: string, digest: string, limitSuffix: string): string {
  return `${prefix}:{${namespace}:${digest}}:${limitSuffix}`;
}
