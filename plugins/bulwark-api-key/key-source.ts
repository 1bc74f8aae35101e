// Finding the API key in a request: the configured header names (default `x-api-key`, `apikey`), optionally
// `Authorization: <scheme> <key>`, optionally query parameters of the same names (off by default: query strings
// end up in access logs, Kong #4366). Every place is read; two DIFFERENT keys in one request are refused (which
// one would be checked is a question a downstream component may answer differently), the same key twice is one key.
import { headerValues, type HeaderMultimap, type QueryMultimap } from '../lib/pdk';

export interface KeySources {
  /** Lower-case header names. */
  headers: readonly string[];
  /** Lower-case scheme (e.g. `apikey`, `bearer`); undefined: Authorization is not read. */
  authorizationScheme?: string;
  /** Query parameter names; empty: the query is not read. */
  queryParams: readonly string[];
}

export type KeyLocation =
  { type: 'header'; name: string } | { type: 'authorization' } | { type: 'query'; name: string };

export type KeyExtraction =
  { kind: 'none' } | { kind: 'found'; key: string; locations: KeyLocation[] } | { kind: 'duplicate'; detail: string };

/** `<scheme> <credentials>` (RFC 9110 §11.4: scheme case-insensitive, one or more spaces). */
function authorizationKey(value: string, scheme: string): string | undefined {
  const v = value.trim();
  const space = v.indexOf(' ');
  if (space <= 0 || v.slice(0, space).toLowerCase() !== scheme) return undefined;
  const rest = v.slice(space + 1).trim();
  return rest === '' ? undefined : rest;
}

export function extractKey(
  headers: HeaderMultimap,
  query: QueryMultimap | undefined,
  sources: KeySources,
): KeyExtraction {
  const found: { key: string; location: KeyLocation }[] = [];
  for (const name of sources.headers) {
    for (const v of headerValues(headers, name)) {
      const key = v.trim();
      if (key !== '') found.push({ key, location: { type: 'header', name } });
    }
  }
  if (sources.authorizationScheme !== undefined) {
    for (const v of headerValues(headers, 'authorization')) {
      const key = authorizationKey(v, sources.authorizationScheme);
      // Another scheme (Basic, Bearer…) is not ours: another authentication plugin may handle it.
      if (key !== undefined) found.push({ key, location: { type: 'authorization' } });
    }
  }
  if (query !== undefined) {
    for (const name of sources.queryParams) {
      for (const v of query[name] ?? []) {
        if (typeof v === 'string' && v !== '') found.push({ key: v, location: { type: 'query', name } });
      }
    }
  }
  if (found.length === 0) return { kind: 'none' };
  const first = found[0]!.key;
  const other = found.find((f) => f.key !== first);
  if (other !== undefined) {
    const where = [...new Set(found.map((f) => describeLocation(f.location)))].join(', ');
    return { kind: 'duplicate', detail: `more than one key in the request (${where})` };
  }
  const locations: KeyLocation[] = [];
  for (const f of found)
    if (!locations.some((l) => describeLocation(l) === describeLocation(f.location))) locations.push(f.location);
  return { kind: 'found', key: first, locations };
}

export function describeLocation(l: KeyLocation): string {
  return l.type === 'authorization' ? 'authorization header' : `${l.type} ${l.name}`;
}
