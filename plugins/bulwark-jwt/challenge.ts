// RFC 6750 §3 error responses: the WWW-Authenticate challenge and the Kong-style JSON body.
// Attribute values are fixed strings from this plugin (realm from config, checked at start; descriptions
// from verifier.ts; scopes from config), never token content, so nothing needs escaping beyond what the
// config checks guarantee (no quotes, no backslashes, printable ASCII).
import type { HeaderValues } from '../lib/pdk';

export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface Challenge {
  realm: string;
  error?: BearerError;
  description?: string;
  scope?: string;
}

export function bearerChallenge(c: Challenge): string {
  let out = `Bearer realm="${c.realm}"`;
  if (c.error !== undefined) out += `, error="${c.error}"`;
  if (c.description !== undefined) out += `, error_description="${c.description}"`;
  if (c.scope !== undefined) out += `, scope="${c.scope}"`;
  return out;
}

export function challengeHeaders(c: Challenge): HeaderValues {
  return { 'WWW-Authenticate': bearerChallenge(c) };
}
