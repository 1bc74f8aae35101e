// Credential redaction in what Kong's log plugins serialize (file-log, http-log, tcp-log, …, and bulwark-audit's own
// read of the entry), with kong.log.set_serialize_value (kong/pdk/log.lua): the value becomes "REDACTED", the key is
// kept (the OpenTelemetry convention for URL query credentials, `apikey=REDACTED`). It must run before the log phase:
// Kong's log plugins serialize in their own log handlers, and Kong saves an external plugin's serialized entry when
// the log phase starts (kong/runloop/plugin_servers/plugin.lua). Pure planning here; handler.ts makes the calls.
import type { HeaderMultimap } from '../lib/pdk';
import type { RedactionNames } from './config';

export const REDACTED = 'REDACTED';

/**
 * Every credential location Bulwark knows: bulwark-api-key's default header and query names, bearer tokens
 * (Authorization, which Kong already redacts, and `access_token` in the query, RFC 6750 §2.3), OAuth 2.0 client
 * secrets and assertions (RFC 6749 §2.3.1, RFC 7523), and the signature parameters of pre-signed URLs.
 */
export const BUILTIN_REDACTION: RedactionNames = {
  headers: ['authorization', 'proxy-authorization', 'x-api-key', 'apikey', 'api-key', 'x-auth-token', 'cookie'],
  query: [
    'apikey',
    'api_key',
    'api-key',
    'access_token',
    'id_token',
    'refresh_token',
    'client_secret',
    'client_assertion',
    'password',
    'token',
    'sig',
    'signature',
    'x-amz-signature',
    'x-goog-signature',
  ],
  cookies: [],
};

export interface CompiledRedaction {
  headers: ReadonlySet<string>;
  /** lower-case */
  query: ReadonlySet<string>;
  cookies: ReadonlySet<string>;
}

export function compileRedaction(extra: RedactionNames): CompiledRedaction {
  const lower = (a: string[], b: string[]) => new Set([...a, ...b].map((n) => n.toLowerCase()));
  return {
    headers: lower(BUILTIN_REDACTION.headers, extra.headers),
    query: lower(BUILTIN_REDACTION.query, extra.query),
    cookies: lower(BUILTIN_REDACTION.cookies, extra.cookies),
  };
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/**
 * The query string with every credential parameter's value replaced (`apikey=REDACTED`), and the names replaced;
 * `changed` is false when nothing needed redacting. Linear in the query length.
 */
export function redactQuery(
  raw: string,
  names: ReadonlySet<string>,
): { query: string; changed: boolean; names: string[] } {
  let changed = false;
  const found: string[] = [];
  const parts = raw.split('&').map((piece) => {
    const eq = piece.indexOf('=');
    const rawName = eq === -1 ? piece : piece.slice(0, eq);
    const name = decodeName(rawName);
    if (!names.has(name)) return piece;
    changed = true;
    found.push(name);
    return `${rawName}=${REDACTED}`;
  });
  return { query: parts.join('&'), changed, names: found };
}

/** A URL or URI with its query redacted (unchanged when it has none). */
export function redactUri(uri: string, names: ReadonlySet<string>): string {
  const q = uri.indexOf('?');
  if (q === -1) return uri;
  return `${uri.slice(0, q)}?${redactQuery(uri.slice(q + 1), names).query}`;
}

/** `a=1; session=xyz` → `a=1; session=REDACTED` for the named cookies; all values when `names` is empty is NOT done. */
export function redactCookieHeader(value: string, names: ReadonlySet<string>): string {
  return value
    .split(';')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      return names.has(pair.slice(0, eq).trim().toLowerCase()) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
    })
    .join(';');
}

export interface SerializeEdit {
  key: string;
  value: string | string[];
  mode: 'replace';
}

/**
 * The set_serialize_value calls for one request, all in mode "replace" (nothing is added to an entry that lacks the
 * field). `pathWithQuery` is the request URI as the client sent it (kong.request.get_path_with_query).
 * The cookie header: named cookies are redacted when names are configured; without names the whole header is
 * (Bulwark cannot know which cookie of an application is a session).
 */
export function redactionEdits(
  headers: HeaderMultimap,
  pathWithQuery: string,
  url: { scheme: string; host: string; port: number } | undefined,
  r: CompiledRedaction,
): SerializeEdit[] {
  const edits: SerializeEdit[] = [];
  for (const [rawName, values] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (name === 'authorization' || name === 'proxy-authorization') continue; // Kong's own default redaction
    if (!r.headers.has(name)) continue;
    if (name === 'cookie') {
      const redacted = values.map((v) => (r.cookies.size > 0 ? redactCookieHeader(v, r.cookies) : REDACTED));
      edits.push({
        key: `request.headers.${name}`,
        value: redacted.length === 1 ? (redacted[0] as string) : redacted,
        mode: 'replace',
      });
    } else edits.push({ key: `request.headers.${name}`, value: REDACTED, mode: 'replace' });
  }
  const q = pathWithQuery.indexOf('?');
  if (q !== -1) {
    const { query, changed, names } = redactQuery(pathWithQuery.slice(q + 1), r.query);
    if (changed) {
      // get_query keys are as sent; the names that matched case-insensitively are replaced as Kong keyed them.
      for (const piece of pathWithQuery.slice(q + 1).split('&')) {
        const eq = piece.indexOf('=');
        const rawName = eq === -1 ? piece : piece.slice(0, eq);
        let key: string;
        try {
          key = decodeURIComponent(rawName.replace(/\+/g, ' '));
        } catch {
          key = rawName;
        }
        if (names.includes(key.toLowerCase()) && !key.includes('.'))
          edits.push({ key: `request.querystring.${key}`, value: REDACTED, mode: 'replace' });
      }
      const uri = `${pathWithQuery.slice(0, q)}?${query}`;
      edits.push({ key: 'request.uri', value: uri, mode: 'replace' });
      if (url)
        edits.push({ key: 'request.url', value: `${url.scheme}://${url.host}:${url.port}${uri}`, mode: 'replace' });
      // upstream_uri carries the query too, but its path is only known after later plugins ran: replaced whole.
      edits.push({ key: 'upstream_uri', value: REDACTED, mode: 'replace' });
    }
  }
  return dedupe(edits);
}

function dedupe(edits: SerializeEdit[]): SerializeEdit[] {
  const seen = new Set<string>();
  return edits.filter((e) => (seen.has(e.key) ? false : (seen.add(e.key), true)));
}
