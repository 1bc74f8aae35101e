// Parsing a token request (RFC 6749 §3.2, §4.4, §2.3.1), pure: the HTTP envelope, the form body, the
// client credentials. Every failure is an OAuthError the handler turns into a §5.2 response.
import { headerValues, type HeaderMultimap } from '../lib/pdk';
import type { OAuthError } from './oauth-errors';

export type AuthMethod = 'basic' | 'body';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  method: AuthMethod;
}

export interface TokenRequest {
  grantType: string;
  /** The raw `scope` parameter; undefined when absent. */
  scope: string | undefined;
  credentials: ClientCredentials;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: OAuthError };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: OAuthError): Parsed<T> => ({ ok: false, error });

/** Most form parameters looked at; a token request has four or five. */
export const MAX_FORM_PARAMS = 32;
/** Longest client_id/client_secret accepted (longer ones are refused before any hashing). */
export const MAX_CREDENTIAL_LENGTH = 1024;

/**
 * The checks that need only the method and the headers, done before the body is read. Returns the
 * declared body length.
 */
export function checkEnvelope(method: string, headers: HeaderMultimap, maxBodySize: number): Parsed<number> {
  if (method !== 'POST') {
    // RFC 6749 §3.2: the client MUST use POST.
    return fail({
      code: 'invalid_request',
      description: 'The token endpoint accepts POST only',
      status: 405,
      headers: { Allow: 'POST' },
    });
  }
  const types = headerValues(headers, 'content-type');
  if (types.length !== 1 || !isFormContentType(types[0]!)) {
    return fail({ code: 'invalid_request', description: 'The request body must be application/x-www-form-urlencoded' });
  }
  const lengths = headerValues(headers, 'content-length');
  if (lengths.length === 0) {
    // Without a length the size cannot be checked before reading, and reading an oversized spooled body
    // raises a Lua error in Kong (../../docs/kong-protocol.md §1.5): refuse instead.
    return fail({ code: 'invalid_request', description: 'A Content-Length header is required', status: 411 });
  }
  if (lengths.length > 1 || !/^[0-9]{1,10}$/.test(lengths[0]!.trim())) {
    return fail({ code: 'invalid_request', description: 'The Content-Length header is invalid' });
  }
  const length = Number(lengths[0]!.trim());
  if (length > maxBodySize)
    return fail({ code: 'invalid_request', description: 'The request body is too large', status: 413 });
  return ok(length);
}

/** `application/x-www-form-urlencoded` with optional parameters; a charset other than UTF-8 is refused. */
export function isFormContentType(value: string): boolean {
  const [type, ...params] = value.split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/x-www-form-urlencoded') return false;
  for (const p of params) {
    const m = /^charset\s*=\s*"?([^"]*)"?$/.exec(p);
    if (m && m[1] !== 'utf-8' && m[1] !== 'utf8') return false;
  }
  return true;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Decode one form-urlencoded component strictly: '+' is a space, '%XX' must be valid and the result UTF-8. */
export function formDecode(text: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2b) bytes.push(0x20);
    else if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else return undefined; // raw non-ASCII is not form-urlencoded
  }
  try {
    return utf8Strict.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/** Parse a form body into name → values. Duplicate names are kept (the caller refuses them). */
export function parseForm(body: string): Parsed<Map<string, string[]>> {
  const form = new Map<string, string[]>();
  if (body === '') return ok(form);
  const pairs = body.split('&');
  if (pairs.length > MAX_FORM_PARAMS)
    return fail({ code: 'invalid_request', description: 'Too many request parameters' });
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = formDecode(eq < 0 ? pair : pair.slice(0, eq));
    const value = formDecode(eq < 0 ? '' : pair.slice(eq + 1));
    if (name === undefined || value === undefined) {
      return fail({ code: 'invalid_request', description: 'The request body is not valid form-urlencoded UTF-8' });
    }
    const list = form.get(name);
    if (list) list.push(value);
    else form.set(name, [value]);
  }
  return ok(form);
}

/** Control characters are never part of a client id or secret. */
const CONTROL = /[\x00-\x1f\x7f]/;

function basicCredentials(values: string[]): Parsed<{ clientId: string; clientSecret: string } | undefined> {
  if (values.length === 0) return ok(undefined);
  const invalid = fail<{ clientId: string; clientSecret: string } | undefined>({
    code: 'invalid_client',
    description: 'Client authentication failed',
    basicChallenge: true,
  });
  if (values.length > 1) return fail({ code: 'invalid_request', description: 'Several Authorization headers' });
  const m = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(values[0]!);
  if (!m) return invalid;
  const decoded = formDecodeBasic(Buffer.from(m[1]!, 'base64'));
  if (decoded === undefined) return invalid;
  const colon = decoded.indexOf(':');
  if (colon < 0) return invalid;
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before being put into the Basic credentials.
  const clientId = formDecode(decoded.slice(0, colon));
  const clientSecret = formDecode(decoded.slice(colon + 1));
  if (clientId === undefined || clientSecret === undefined) return invalid;
  return ok({ clientId, clientSecret });
}

function formDecodeBasic(raw: Buffer): string | undefined {
  try {
    return utf8Strict.decode(raw);
  } catch {
    return undefined;
  }
}

function single(form: Map<string, string[]>, name: string): string | undefined {
  return form.get(name)?.[0];
}

/**
 * The token request from the parsed form and the Authorization header values. Checks, in order:
 * repeated parameters (§3.2), grant_type, the client credentials (one method only, §2.3), lengths.
 */
export function extractTokenRequest(form: Map<string, string[]>, authorization: string[]): Parsed<TokenRequest> {
  for (const [name, values] of form) {
    if (values.length > 1) return fail({ code: 'invalid_request', description: repeatedDescription(name) });
  }
  const grantType = single(form, 'grant_type');
  if (grantType === undefined || grantType === '')
    return fail({ code: 'invalid_request', description: 'The grant_type parameter is missing' });
  if (grantType !== 'client_credentials') {
    return fail({ code: 'unsupported_grant_type', description: 'Only the client_credentials grant is supported' });
  }

  const basic = basicCredentials(authorization);
  if (!basic.ok) return basic;
  const bodyId = single(form, 'client_id');
  const bodySecret = single(form, 'client_secret');
  let credentials: ClientCredentials;
  if (basic.value !== undefined) {
    if (bodyId !== undefined || bodySecret !== undefined) {
      // RFC 6749 §2.3: the client MUST NOT use more than one authentication method in a request.
      return fail({
        code: 'invalid_request',
        description: 'Client credentials were sent both in the Authorization header and in the body',
      });
    }
    credentials = { ...basic.value, method: 'basic' };
  } else if (bodyId !== undefined || bodySecret !== undefined) {
    if (bodyId === undefined || bodyId === '' || bodySecret === undefined || bodySecret === '') {
      return fail({ code: 'invalid_client', description: 'Client authentication failed' });
    }
    credentials = { clientId: bodyId, clientSecret: bodySecret, method: 'body' };
  } else {
    // No credentials at all: tell the client which scheme to use (401 + WWW-Authenticate: Basic).
    return fail({ code: 'invalid_client', description: 'Client authentication is required', basicChallenge: true });
  }
  const badCredential = (s: string) => s === '' || s.length > MAX_CREDENTIAL_LENGTH || CONTROL.test(s);
  if (badCredential(credentials.clientId) || badCredential(credentials.clientSecret)) {
    return fail({
      code: 'invalid_client',
      description: 'Client authentication failed',
      basicChallenge: credentials.method === 'basic',
    });
  }
  return ok({ grantType, scope: single(form, 'scope'), credentials });
}

/** Only well-known parameter names are echoed in a response, never what the client made up. */
function repeatedDescription(name: string): string {
  const known = ['grant_type', 'scope', 'client_id', 'client_secret', 'audience', 'resource'];
  return known.includes(name) ? `The ${name} parameter is repeated` : 'A request parameter is repeated';
}
