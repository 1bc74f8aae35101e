// Request headers a plugin sets as verified facts (a JWT's subject, a consumer id…) must reach the upstream as
// the ONLY value of that name, under every spelling an upstream may read as the same header.
//
// Why: Kong runs nginx with `underscores_in_headers on` (kong/templates/nginx_kong.lua), so `X_Auth_Subject`
// reaches the upstream next to the verified `X-Auth-Subject`; CGI, WSGI, PHP and Rack name both
// `HTTP_X_AUTH_SUBJECT` (RFC 3875 §4.1.18), and which one wins is up to the framework. `set_header` replaces only
// the exact name (case-insensitive), so every other spelling must be cleared.
import type { HeaderMultimap, HeaderValues } from './pdk';

/** The name an upstream folding CGI-style sees: case and `_`/`-` do not matter. */
export function foldHeaderName(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

export interface VerifiedHeaderChanges {
  /** One `kong.service.request.setHeaders` call (replaces every line of each exact name). */
  set: HeaderValues;
  /** Inbound header names (as Kong listed them) to remove, one `clearHeader` each. */
  clear: string[];
}

/**
 * The request changes that make `facts` the only values the upstream sees for those names, and remove every
 * inbound header that folds to a name in `withheld` (a fact this request does not have, e.g. an absent claim).
 * `inbound` must be the complete header list (bounded-reads.ts `readRequestHeaders`).
 */
export function verifiedHeaderChanges(
  inbound: HeaderMultimap,
  facts: HeaderValues,
  withheld: Iterable<string> = [],
): VerifiedHeaderChanges {
  const replaced = new Set(Object.keys(facts).map((n) => n.toLowerCase()));
  const guarded = new Set<string>();
  for (const n of Object.keys(facts)) guarded.add(foldHeaderName(n));
  for (const n of withheld) guarded.add(foldHeaderName(n));
  const clear: string[] = [];
  for (const name of Object.keys(inbound)) {
    const lower = name.toLowerCase();
    if (guarded.has(foldHeaderName(lower)) && !replaced.has(lower) && !clear.includes(lower)) clear.push(lower);
  }
  return { set: { ...facts }, clear };
}
