// What the gateway signs and the backend checks: the wire format of bulwark-upstream-trust, shared by the plugin
// (signing, in Kong) and the verifier kit (checking, in the backend). Pure: node:crypto only, no Kong, no jose.
//
// Two formats, one binding:
// - `jwt` (default): one header (`X-Bulwark-Upstream-Token`) carrying a JWT of `typ` `bulwark-upstream+jwt`, signed
//   EdDSA (Ed25519) or ES256, with iss/aud/iat/exp/jti, the identity, and the request binding claims:
//   `htm` (method), `htu` (request target: path + `?query`, exactly as Kong sends it), `hth` (the Host header Kong
//   sends), `cdg` (RFC 9530 Content-Digest of the body, absent when there is none).
// - `http-message-signatures` (RFC 9421): `Signature-Input`/`Signature` (label `bulwark`) over `@method`,
//   `@authority`, `@path`, `@query`, `content-digest` (when there is a body) and `bulwark-identity` (base64url JSON
//   of iss, aud and the identity), with `created`, `expires`, `keyid`, `alg`, `nonce` (replay id) and `tag`.
import { createHash, timingSafeEqual } from 'node:crypto';

export const TOKEN_TYPE = 'bulwark-upstream+jwt';
export const DEFAULT_TOKEN_HEADER = 'X-Bulwark-Upstream-Token';
export const IDENTITY_HEADER = 'Bulwark-Identity';
export const SIGNATURE_LABEL = 'bulwark';
export const SIGNATURE_TAG = 'bulwark-upstream-trust';
/** The longest a gateway token may live (exp - iat): it only has to cross one hop. */
export const MAX_TOKEN_LIFETIME_SECONDS = 60;

export type SigningAlgorithm = 'EdDSA' | 'ES256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256'];
/** RFC 9421 §6.2.2 registered algorithm names for the same keys. */
export const HTTPSIG_ALGORITHM: Record<SigningAlgorithm, string> = { EdDSA: 'ed25519', ES256: 'ecdsa-p256-sha256' };

export type Format = 'jwt' | 'http-message-signatures';

/** The claims of a gateway token (JWT format); the identity as the identity contract defines it, or null. */
export interface GatewayClaims {
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  sub?: string;
  htm: string;
  htu: string;
  hth: string;
  cdg?: string;
  identity: Record<string, unknown> | null;
}

/** RFC 9530 `Content-Digest` value of a body: `sha-256=:<base64>:`. */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

/**
 * The sha-256 digest bytes in a Content-Digest value, or undefined when it has none or does not parse. Only what
 * the gateway writes is accepted (one sha-256 member), so the parse is a single anchored, linear regex.
 */
export function sha256FromContentDigest(value: string): Buffer | undefined {
  const m = /^sha-256=:([A-Za-z0-9+/]{43}=):$/.exec(value.trim());
  return m ? Buffer.from(m[1]!, 'base64') : undefined;
}

/** Whether `value` (a Content-Digest) is the sha-256 of `body`, in constant time. */
export function digestMatches(value: string, body: Uint8Array): boolean {
  const expected = sha256FromContentDigest(value);
  if (expected === undefined) return false;
  return timingSafeEqual(expected, createHash('sha256').update(body).digest());
}

/** A request target split at its first `?`: an empty query and no query are the same (Kong drops neither, but
 * `/a?` and `/a` differ only in a separator no backend framework reports). */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/** The `htu` of a token: path, plus `?query` when the query is not empty. */
export function canonicalTarget(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}

/** The `hth` claim / `@authority` component: the Host header as sent, lower-cased and trimmed. */
export function canonicalHost(host: string): string {
  return host.trim().toLowerCase();
}

/** The Host Kong sends for a service when preserve_host is off (kong/runloop/balancer/init.lua set_host_header). */
export function serviceHostHeader(host: string, port: number | undefined, scheme: string | undefined): string {
  if (port === undefined) return host;
  const defaultPort =
    (port === 80 && (scheme === 'http' || scheme === 'grpc')) ||
    (port === 443 && (scheme === 'https' || scheme === 'grpcs'));
  return defaultPort ? host : `${host}:${port}`;
}

// ---- RFC 9421 HTTP Message Signatures

export interface SignatureParams {
  created: number;
  expires: number;
  keyid: string;
  alg: string;
  nonce: string;
  tag: string;
}

/** Components covered, in order; `content-digest` only when the request has a body. */
export function coveredComponents(hasBody: boolean): string[] {
  const c = ['@method', '@authority', '@path', '@query'];
  if (hasBody) c.push('content-digest');
  c.push(IDENTITY_HEADER.toLowerCase());
  return c;
}

/** A kid or nonce that can be an sf-string without escapes (RFC 8941 §3.3.3 minus `"` and `\`). */
export function isPlainSfString(value: string): boolean {
  return /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,256}$/.test(value);
}

/** The `@signature-params` value: the inner list and its parameters (RFC 9421 §2.3). */
export function serializeSignatureParams(components: readonly string[], p: SignatureParams): string {
  const list = components.map((c) => `"${c}"`).join(' ');
  return `(${list});created=${p.created};expires=${p.expires};keyid="${p.keyid}";alg="${p.alg}";nonce="${p.nonce}";tag="${p.tag}"`;
}

export interface MessageComponents {
  method: string;
  authority: string;
  path: string;
  query: string;
  contentDigest?: string;
  identity: string;
}

/** The signature base (RFC 9421 §2.5): one line per covered component, then `@signature-params`. */
export function signatureBase(components: readonly string[], values: MessageComponents, params: string): string {
  const lines = components.map((name) => {
    let value: string | undefined;
    if (name === '@method') value = values.method;
    else if (name === '@authority') value = values.authority;
    else if (name === '@path') value = values.path === '' ? '/' : values.path;
    else if (name === '@query') value = `?${values.query}`;
    else if (name === 'content-digest') value = values.contentDigest;
    else if (name === IDENTITY_HEADER.toLowerCase()) value = values.identity;
    if (value === undefined) throw new Error(`component ${name} has no value`);
    return `"${name}": ${value}`;
  });
  lines.push(`"@signature-params": ${params}`);
  return lines.join('\n');
}

/** The `bulwark-identity` header value: base64url of the JSON {iss, aud, identity[, body_unbound]}. */
export function encodeIdentityHeader(
  iss: string,
  aud: string,
  identity: Record<string, unknown> | null,
  bodyUnbound = false,
): string {
  const value: Record<string, unknown> = { iss, aud, identity };
  if (bodyUnbound) value.body_unbound = true;
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export interface ParsedSignatureInput {
  components: string[];
  params: Partial<SignatureParams>;
  /** The exact `@signature-params` text (the member value as received). */
  raw: string;
}

/**
 * The `bulwark` member of a Signature-Input dictionary. A strict subset of RFC 8941: members separated by `,`,
 * an inner list of sf-strings, parameters of integers or sf-strings without escapes. Anything else: undefined.
 */
export function parseSignatureInput(header: string, label = SIGNATURE_LABEL): ParsedSignatureInput | undefined {
  if (header.length > 4096) return undefined;
  for (const member of splitDictionary(header)) {
    const eq = member.indexOf('=');
    if (eq < 0 || member.slice(0, eq) !== label) continue;
    const raw = member.slice(eq + 1);
    const m =
      /^\(((?:"[a-z0-9@\-_.]+"(?: "[a-z0-9@\-_.]+")*)?)\)((?:;[a-z][a-z0-9_\-.*]*=(?:-?\d{1,15}|"[\x20\x21\x23-\x5b\x5d-\x7e]*"))*)$/.exec(
        raw,
      );
    if (!m) return undefined;
    const components = m[1] === '' ? [] : m[1]!.split(' ').map((s) => s.slice(1, -1));
    const params: Record<string, string | number> = {};
    for (const p of m[2]!.split(';').slice(1)) {
      const i = p.indexOf('=');
      const key = p.slice(0, i);
      const value = p.slice(i + 1);
      if (key in params) return undefined;
      params[key] = value.startsWith('"') ? value.slice(1, -1) : Number(value);
    }
    return { components, params: params as Partial<SignatureParams>, raw };
  }
  return undefined;
}

/** The byte sequence of the `bulwark` member of a Signature dictionary (`bulwark=:<base64>:`). */
export function parseSignature(header: string, label = SIGNATURE_LABEL): Buffer | undefined {
  if (header.length > 4096) return undefined;
  for (const member of splitDictionary(header)) {
    const m = /^([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]*={0,2}):$/.exec(member);
    if (m && m[1] === label) return Buffer.from(m[2]!, 'base64');
  }
  return undefined;
}

/** Top-level dictionary members (split at commas outside sf-strings), trimmed. */
function splitDictionary(header: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const ch = header[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(header.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(header.slice(start).trim());
  return out;
}
