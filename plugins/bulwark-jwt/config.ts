// bulwark-jwt's config: Kong's (schema-validated, defaulted) config object → a typed policy with the keys
// imported. Checks the schema cannot express are made here, at instance start, and throw a ConfigError
// naming the field (the instance then fails to start and Kong answers 500: fail closed). Key material is
// never echoed in an error message.
import { ConfigError, ConfigReader, MAX_OUTBOUND_WAIT_MS } from '../lib/config';
import { checkOutboundUrl, OutboundFetchError } from '../lib/outbound-http';
import { TtlCache } from '../lib/ttl-cache';
import type { AudiencePolicy, ClaimsPolicy, ScopePolicy } from './claims';
import { remoteKeySet, type JwksSettings, type RemoteKeySet } from './jwks';
import { HMAC_ALGORITHMS, KeyImportError, parseSecret, parseStaticKey, SUPPORTED_ALGORITHMS, type VerificationKey } from './keys';
import type { VerifiedEntry } from './verifier';

export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

export interface IssuerPolicy {
  /** Position in config.issuers (for logs). */
  index: number;
  issuer: string;
  algorithms: Set<string>;
  audience: AudiencePolicy;
  staticKeys: VerificationKey[];
  /** JWKS (explicit URL or discovery); undefined when only static keys are configured. */
  remote: RemoteKeySet | undefined;
}

export interface TokenSources {
  bearer: boolean;
  headers: string[];
  cookies: string[];
  queryParams: string[];
}

export interface ConsumerPolicy {
  claim: string | undefined;
  by: 'username' | 'id';
  required: boolean;
}

export interface JwtConfig {
  issuers: Map<string, IssuerPolicy>;
  sources: TokenSources;
  hideCredentials: boolean;
  realm: string;
  maxTokenBytes: number;
  claims: ClaimsPolicy;
  scopes: ScopePolicy;
  consumer: ConsumerPolicy;
  anonymous: string | undefined;
  /** claim name → upstream header name. */
  forwardClaims: [claim: string, header: string][];
  unavailableStatus: 401 | 503;
  jwks: JwksSettings;
  tokenCacheTtlMs: number;
  /** The verified-token cache of this instance (keyed by token hash). */
  tokenCache: TtlCache<string, VerifiedEntry>;
}

const HEADER_NAME = /^[A-Za-z0-9-]{1,128}$/;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;
const CLAIM_NAME = /^[\x21-\x7e]{1,128}$/;
// Headers that must never be overwritten from a token claim.
const RESERVED_UPSTREAM_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'content-type', 'authorization', 'cookie', 'te', 'upgrade', 'proxy-authorization']);

function names(reader: ConfigReader, key: string, pattern: RegExp, what: string): string[] {
  const out: string[] = [];
  reader.stringArray(key).forEach((v, i) => {
    if (!pattern.test(v)) throw new ConfigError(`${reader.field(key)}[${i}]`, `invalid ${what} ${JSON.stringify(v.slice(0, 64))}`);
    if (!out.includes(v)) out.push(v);
  });
  return out;
}

function parseIssuer(r: ConfigReader, index: number, jwks: JwksSettings): IssuerPolicy {
  const issuer = r.string('issuer');
  const algorithms = r.stringArray('algorithms', DEFAULT_ALGORITHMS);
  if (algorithms.length === 0) throw new ConfigError(r.field('algorithms'), 'at least one algorithm is required');
  algorithms.forEach((alg, i) => {
    if (!SUPPORTED_ALGORITHMS.includes(alg)) throw new ConfigError(`${r.field('algorithms')}[${i}]`, `unsupported algorithm ${JSON.stringify(alg)}`);
  });
  const algSet = new Set(algorithms);

  const staticKeys: VerificationKey[] = [];
  r.secretStringArray('keys').forEach((text, i) => {
    const field = `${r.field('keys')}[${i}]`;
    try {
      staticKeys.push(...parseStaticKey(text, `issuers[${index}].keys[${i}]`));
    } catch (err) {
      if (err instanceof KeyImportError) throw new ConfigError(field, err.message);
      throw err;
    }
  });
  const hmac = algorithms.filter((a) => (HMAC_ALGORITHMS as readonly string[]).includes(a));
  r.secretStringArray('secrets').forEach((text, i) => {
    const field = `${r.field('secrets')}[${i}]`;
    const key = parseSecret(text, `issuers[${index}].secrets[${i}]`);
    if (hmac.length === 0) throw new ConfigError(field, 'a shared secret needs an HS256/HS384/HS512 entry in algorithms');
    // RFC 7518 §3.2: the secret must be at least as long as the hash output.
    const weakest = Math.max(...hmac.map((a) => (a === 'HS256' ? 32 : a === 'HS384' ? 48 : 64)));
    if (key.size < weakest) throw new ConfigError(field, `too short: ${hmac.join('/')} needs at least ${weakest} bytes`);
    staticKeys.push(key);
  });
  if (hmac.length > 0 && !staticKeys.some((k) => k.kty === 'oct')) {
    throw new ConfigError(r.field('algorithms'), `${hmac.join(', ')} needs a shared secret in secrets (a JWKS never supplies one)`);
  }

  const allowHttp = r.boolean('allow_http_jwks', false);
  const jwksUrl = r.optionalString('jwks_url');
  const discovery = r.boolean('discovery', false);
  if (jwksUrl !== undefined && discovery) throw new ConfigError(r.field('discovery'), 'set either jwks_url or discovery, not both');
  for (const [key, url] of [['jwks_url', jwksUrl], ['issuer', discovery ? issuer : undefined]] as const) {
    if (url === undefined) continue;
    try {
      checkOutboundUrl(url, allowHttp);
    } catch (err) {
      if (err instanceof OutboundFetchError) throw new ConfigError(r.field(key), `${err.message}${allowHttp ? '' : ' (set allow_http_jwks to allow http)'}`);
      throw err;
    }
  }
  const extraCa = r.stringArray('ca_certificates');
  extraCa.forEach((pem, i) => {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${r.field('ca_certificates')}[${i}]`, 'not a PEM certificate');
  });
  const remote = jwksUrl !== undefined || discovery ? remoteKeySet({ issuer, jwksUrl, allowHttp, extraCaCertificates: extraCa }, jwks) : undefined;
  if (remote === undefined && staticKeys.length === 0) {
    throw new ConfigError(r.field('keys'), 'no keys: configure keys, secrets, jwks_url or discovery');
  }

  const audiences = r.stringArray('audiences');
  const audienceRequired = r.boolean('audience_required', true);
  if (audienceRequired && audiences.length === 0) {
    throw new ConfigError(r.field('audiences'), 'at least one audience is required (or set audience_required = false)');
  }
  return { index, issuer, algorithms: algSet, audience: { audiences, audienceRequired }, staticKeys, remote };
}

/** A config value the typed ConfigReader has no accessor for (arrays of records, maps of arrays). */
function rawValue(raw: unknown, key: string): unknown {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>)[key] : undefined;
}

function parseIssuers(raw: unknown, root: ConfigReader, jwks: JwksSettings): Map<string, IssuerPolicy> {
  const value = rawValue(raw, 'issuers');
  if (value !== undefined && value !== null && !Array.isArray(value)) throw new ConfigError(root.field('issuers'), 'expected an array');
  const list = (value ?? []) as unknown[];
  if (list.length === 0) throw new ConfigError(root.field('issuers'), 'at least one issuer is required');
  const out = new Map<string, IssuerPolicy>();
  list.forEach((entry, i) => {
    const policy = parseIssuer(new ConfigReader(entry, `issuers[${i}]`), i, jwks);
    if (out.has(policy.issuer)) throw new ConfigError(`issuers[${i}].issuer`, 'issuer configured twice');
    out.set(policy.issuer, policy);
  });
  return out;
}

export function parseJwtConfig(raw: unknown): JwtConfig {
  const root = new ConfigReader(raw);

  const j = root.record('jwks');
  const jwks: JwksSettings = {
    cacheTtlMs: j.integer('cache_ttl', 300, 1, 86400) * 1000,
    maxStaleMs: j.integer('max_stale', 3600, 0, 7 * 86400) * 1000,
    cooldownMs: j.integer('refresh_cooldown', 30, 1, 3600) * 1000,
    timeoutMs: j.integer('timeout', 2000, 100, MAX_OUTBOUND_WAIT_MS),
    maxBytes: j.integer('max_bytes', 262144, 1024, 10485760),
  };
  if (jwks.maxStaleMs < jwks.cacheTtlMs) throw new ConfigError(j.field('max_stale'), 'must be at least cache_ttl');

  const s = root.record('token_sources');
  const sources: TokenSources = {
    bearer: s.boolean('bearer', true),
    headers: names(s, 'headers', HEADER_NAME, 'header name').map((h) => h.toLowerCase()),
    cookies: names(s, 'cookies', COOKIE_NAME, 'cookie name'),
    queryParams: names(s, 'query_params', CLAIM_NAME, 'query parameter name'),
  };
  if (sources.headers.includes('authorization')) throw new ConfigError(s.field('headers'), 'Authorization is read by bearer');
  if (!sources.bearer && sources.headers.length + sources.cookies.length + sources.queryParams.length === 0) {
    throw new ConfigError(root.field('token_sources'), 'no token source enabled');
  }

  const c = root.record('claims');
  const claimValues: Record<string, string[]> = {};
  const rawValues = rawValue(rawValue(raw, 'claims'), 'values');
  if (rawValues !== undefined && rawValues !== null && !(Array.isArray(rawValues) && rawValues.length === 0)) {
    if (typeof rawValues !== 'object' || Array.isArray(rawValues)) throw new ConfigError(c.field('values'), 'expected a map');
    for (const [name, accepted] of Object.entries(rawValues as Record<string, unknown>)) {
      const field = `${c.field('values')}.${name}`;
      if (!CLAIM_NAME.test(name)) throw new ConfigError(field, 'invalid claim name');
      if (!Array.isArray(accepted) || accepted.length === 0 || !accepted.every((v) => typeof v === 'string')) {
        throw new ConfigError(field, 'expected a non-empty array of strings');
      }
      claimValues[name] = accepted as string[];
    }
  }
  const claims: ClaimsPolicy = {
    leewaySec: root.integer('leeway', 30, 0, 600),
    requireExp: c.boolean('require_exp', true),
    maxAgeSec: c.optionalInteger('max_age', 1, 366 * 86400),
    requiredTyp: c.optionalString('typ'),
    requiredClaims: names(c, 'required', CLAIM_NAME, 'claim name'),
    claimValues,
  };

  const sc = root.record('scopes');
  const scopes: ScopePolicy = {
    required: names(sc, 'required', /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/, 'scope'),
    mode: sc.oneOf('mode', ['any', 'all'], 'all'),
    claims: names(sc, 'claims', CLAIM_NAME, 'claim name'),
  };
  if (scopes.claims.length === 0) scopes.claims = ['scope', 'scp'];

  const cs = root.record('consumer');
  const consumer: ConsumerPolicy = {
    claim: cs.optionalString('claim'),
    by: cs.oneOf('by', ['username', 'id'], 'username'),
    required: cs.boolean('required', true),
  };

  const forwardClaims: [string, string][] = [];
  const seenHeaders = new Set<string>();
  for (const [claim, header] of Object.entries(root.stringMap('forward_claims'))) {
    const field = `${root.field('forward_claims')}.${claim}`;
    if (!CLAIM_NAME.test(claim)) throw new ConfigError(field, 'invalid claim name');
    if (!HEADER_NAME.test(header)) throw new ConfigError(field, `invalid header name ${JSON.stringify(header.slice(0, 64))}`);
    const lower = header.toLowerCase();
    if (RESERVED_UPSTREAM_HEADERS.has(lower) || sources.headers.includes(lower)) throw new ConfigError(field, `header ${header} cannot carry a claim`);
    if (seenHeaders.has(lower)) throw new ConfigError(field, `header ${header} used twice`);
    seenHeaders.add(lower);
    forwardClaims.push([claim, header]);
  }

  const realm = root.string('realm', 'bulwark');
  if (!/^[\x20\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(realm)) throw new ConfigError(root.field('realm'), 'must be 1-128 printable characters without quotes or backslashes');

  const tc = root.record('token_cache');
  const maxEntries = tc.integer('max_entries', 10000, 0, 1000000);

  return {
    issuers: parseIssuers(raw, root, jwks),
    sources,
    hideCredentials: root.boolean('hide_credentials', false),
    realm,
    maxTokenBytes: root.integer('max_token_bytes', 8192, 256, 65536),
    claims,
    scopes,
    consumer,
    anonymous: root.optionalString('anonymous'),
    forwardClaims,
    unavailableStatus: parseUnavailableStatus(root),
    jwks,
    tokenCacheTtlMs: tc.integer('ttl', 300, 1, 86400) * 1000,
    tokenCache: new TtlCache<string, VerifiedEntry>({ maxEntries }),
  };
}

function parseUnavailableStatus(root: ConfigReader): 401 | 503 {
  const status = root.integer('unavailable_status', 401);
  if (status !== 401 && status !== 503) throw new ConfigError(root.field('unavailable_status'), 'expected one of: 401, 503');
  return status;
}
