// Scope decisions (RFC 6749 §3.3), pure.
//
// - A requested scope is a space-separated list of scope-tokens (%x21 / %x23-5B / %x5D-7E).
// - Every requested scope must be allowed for the client: otherwise invalid_scope. (RFC 6749 lets a server
//   silently grant less; refusing tells the client at once that it asked for something it will not get.)
// - No scope requested (parameter absent or empty): the client's default scopes, else all its allowed ones.
// - The granted list keeps the request's order without duplicates.

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

export type ScopeDecision =
  { ok: true; granted: string[] } | { ok: false; error: 'invalid_scope' | 'invalid_request'; description: string };

export interface ClientScopes {
  allowed: readonly string[];
  /** undefined = all allowed scopes. */
  defaults: readonly string[] | undefined;
}

/** Longest scope parameter looked at; a longer one is an invalid request, not work to do. */
export const MAX_SCOPE_PARAM_LENGTH = 2048;

export function decideScopes(requested: string | undefined, client: ClientScopes): ScopeDecision {
  if (requested === undefined || requested === '') {
    return { ok: true, granted: [...(client.defaults ?? client.allowed)] };
  }
  if (requested.length > MAX_SCOPE_PARAM_LENGTH)
    return { ok: false, error: 'invalid_request', description: 'The scope parameter is too long' };
  // RFC 6749 §3.3: scope-tokens separated by single spaces; extra spaces are tolerated, other whitespace is not.
  const tokens = requested.split(' ').filter((t) => t !== '');
  if (tokens.length === 0) return { ok: true, granted: [...(client.defaults ?? client.allowed)] };
  const granted: string[] = [];
  for (const token of tokens) {
    if (!isScopeToken(token))
      return { ok: false, error: 'invalid_scope', description: 'The scope parameter is malformed' };
    if (!client.allowed.includes(token))
      return { ok: false, error: 'invalid_scope', description: 'The requested scope is not allowed for this client' };
    if (!granted.includes(token)) granted.push(token);
  }
  return { ok: true, granted };
}
