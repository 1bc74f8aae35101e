// Finding the bearer token in a request (RFC 6750 §2): the Authorization header (`Bearer` scheme) by
// default, optionally configured headers, cookies and query parameters. A request that carries a token
// in more than one place, or one header twice, is refused (RFC 6750 §2: "Clients MUST NOT use more than
// one method to transmit the token in each request"; two tokens are also two chances to confuse a
// downstream component about which one was checked).
import { headerValues, type HeaderMultimap, type QueryMultimap } from '../lib/pdk';
import type { TokenSources } from './config';

export type TokenLocation =
  | { type: 'bearer' }
  | { type: 'header'; name: string }
  | { type: 'cookie'; name: string }
  | { type: 'query'; name: string };

export type Extraction =
  { kind: 'none' } | { kind: 'found'; token: string; location: TokenLocation } | { kind: 'invalid'; detail: string };

const BEARER = /^Bearer[ ]+(\S+)[ ]*$/i;

/** Cookies of a request (all Cookie headers), in order, as [name, value]. */
export function parseCookies(headers: HeaderMultimap): [string, string][] {
  const out: [string, string][] = [];
  for (const line of headerValues(headers, 'cookie')) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      const name = part.slice(0, eq).trim();
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      out.push([name, value]);
    }
  }
  return out;
}

/** The Cookie header without the named cookies, or undefined when nothing is left. */
export function cookieHeaderWithout(headers: HeaderMultimap, removed: string): string | undefined {
  const kept = parseCookies(headers).filter(([name]) => name !== removed);
  return kept.length === 0 ? undefined : kept.map(([n, v]) => `${n}=${v}`).join('; ');
}

export function extractToken(
  headers: HeaderMultimap,
  query: QueryMultimap | undefined,
  sources: TokenSources,
): Extraction {
  const found: { token: string; location: TokenLocation }[] = [];

  if (sources.bearer) {
    const auth = headerValues(headers, 'authorization');
    if (auth.length > 1) return { kind: 'invalid', detail: 'more than one Authorization header' };
    if (auth.length === 1) {
      const m = BEARER.exec(auth[0]!);
      if (m !== null) found.push({ token: m[1]!, location: { type: 'bearer' } });
      else if (/^Bearer\b/i.test(auth[0]!.trim())) return { kind: 'invalid', detail: 'malformed Bearer credentials' };
      // Another scheme (Basic, …) is not ours: another authentication plugin may handle it.
    }
  }
  for (const name of sources.headers) {
    const values = headerValues(headers, name);
    if (values.length > 1) return { kind: 'invalid', detail: `more than one ${name} header` };
    if (values.length === 1 && values[0]!.trim() !== '') {
      const v = values[0]!.trim();
      const m = BEARER.exec(v);
      found.push({ token: m !== null ? m[1]! : v, location: { type: 'header', name } });
    }
  }
  if (sources.cookies.length > 0) {
    const cookies = parseCookies(headers);
    for (const name of sources.cookies) {
      const values = cookies.filter(([n]) => n === name).map(([, v]) => v);
      if (values.length > 1) return { kind: 'invalid', detail: `cookie ${name} sent more than once` };
      if (values.length === 1 && values[0] !== '')
        found.push({ token: values[0]!, location: { type: 'cookie', name } });
    }
  }
  if (query !== undefined) {
    for (const name of sources.queryParams) {
      const values = (query[name] ?? []).filter((v): v is string => typeof v === 'string' && v !== '');
      if (values.length > 1) return { kind: 'invalid', detail: `query parameter ${name} given more than once` };
      if (values.length === 1) found.push({ token: values[0]!, location: { type: 'query', name } });
    }
  }
  if (found.length > 1)
    return {
      kind: 'invalid',
      detail: `token sent in more than one place (${found.map((f) => describeLocation(f.location)).join(', ')})`,
    };
  if (found.length === 0) return { kind: 'none' };
  return { kind: 'found', ...found[0]! };
}

export function describeLocation(l: TokenLocation): string {
  return l.type === 'bearer' ? 'authorization header' : `${l.type} ${l.name}`;
}
