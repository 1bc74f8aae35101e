// The identity bulwark-jwt publishes for a verified token (the contract: plugins/lib/identity.ts, docs/identity.md).
// Pure: the handler adds the consumer it authenticated and publishes with one kong.ctx.shared.set.
//
// Values come from a verified token, but the issuer decides their sizes: anything over the contract's bounds is
// left out (a missing group or scope can only make a later authorization check refuse, never allow).
import { fitClaims, fitString, fitStringList, identityConsumer, type IdentityInput } from '../lib/identity';
import type { KongConsumer } from '../lib/pdk';
import { fingerprintOfTokenHash, uuidFromParts } from '../lib/token-hash';
import { grantedScopes } from './claims';
import type { JwtConfig } from './config';
import type { JsonObject } from './token';
import type { VerifiedEntry } from './verifier';

export const PUBLISHER = 'bulwark-jwt';

/** A claim's values as a list: a space-separated string or an array of strings. */
function claimList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}

/**
 * The stable, non-secret credential id of a token: derived from issuer + subject (the same id bulwark-jwt gives
 * kong.client.authenticate), so every token of one subject is one credential; a token without `sub` is its own.
 */
export function jwtCredentialId(entry: VerifiedEntry): string {
  const sub = entry.claims.sub;
  return typeof sub === 'string' && sub !== ''
    ? uuidFromParts(PUBLISHER, entry.issuer.issuer, sub)
    : uuidFromParts(PUBLISHER, entry.issuer.issuer, `token:${fingerprintOfTokenHash(entry.tokenHash)}`);
}

export function jwtIdentity(conf: JwtConfig, entry: VerifiedEntry, consumer: KongConsumer | undefined): IdentityInput {
  const claims: JsonObject = entry.claims;
  const groups: string[] = [];
  for (const name of conf.identity.groupsClaims) groups.push(...claimList(claims[name]));
  const selected: Record<string, unknown> = {};
  for (const name of conf.identity.claims) if (claims[name] !== undefined) selected[name] = claims[name];
  const input: IdentityInput = {
    authenticated: true,
    authenticatedBy: PUBLISHER,
    method: 'jwt',
    credential: { kind: 'jwt', id: jwtCredentialId(entry) },
    scopes: fitStringList(grantedScopes(claims, conf.scopes.claims)),
    groups: fitStringList(groups),
    claims: fitClaims(selected),
  };
  const subject = fitString(claims.sub);
  if (subject !== undefined) input.subject = subject;
  const issuer = fitString(entry.issuer.issuer);
  if (issuer !== undefined) input.issuer = issuer;
  const c = identityConsumer(consumer);
  if (c !== undefined) input.consumer = c;
  return input;
}
