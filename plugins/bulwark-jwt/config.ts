// bulwark-jwt's config: the fields declared in schema.ts, read (types, bounds, defaults) by lib/fields.ts, → a
// typed policy with the keys imported. Only rules across fields and precomputation are here, at instance start;
// they throw a ConfigError naming the field (the instance then fails to start and Kong answers 500: fail closed).
// Key material is never echoed in an error message.
import { ConfigError } from '../lib/config';
import { readConfig, type Infer } from '../lib/fields';
import { checkOutboundUrl, OutboundFetchError } from '../lib/outbound-http';
import { TtlCache } from '../lib/ttl-cache';
import type { AudiencePolicy, ClaimsPolicy, ScopePolicy } from './claims';
import { remoteKeySet, type JwksSettings, type RemoteKeySet } from './jwks';
import { HMAC_ALGORITHMS, KeyImportError, parseSecret, parseStaticKey, type VerificationKey } from './keys';
import { ConfigFields } from './schema';
import type { VerifiedEntry } from './verifier';

export { DEFAULT_ALGORITHMS } from './schema';

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

/** What the published identity (plugins/lib/identity.ts) takes from a verified token besides sub, iss, scopes. */
export interface IdentityPolicy {
  /** Claims whose values (a space-separated string or an array of strings) are the caller's groups or roles. */
  groupsClaims: string[];
  /** Claims copied into the identity's `claims` (for bulwark-authz conditions, rate-limit jwt-claim, …). */
  claims: string[];
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
  identity: IdentityPolicy;
  /** claim name → upstream header name. */
  forwardClaims: [claim: string, header: string][];
  unavailableStatus: 401 | 503;
  jwks: JwksSettings;
  tokenCacheTtlMs: number;
  /** The verified-token cache of this instance (keyed by token hash). */
  tokenCache: TtlCache<string, VerifiedEntry>;
}

type RawConfig = Infer<typeof ConfigFields>;
type RawIssuer = RawConfig['issuers'][number];

// Headers that must never be overwritten from a token claim.
const RESERVED_UPSTREAM_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'content-type',
  'authorization',
  'cookie',
  'te',
  'upgrade',
  'proxy-authorization',
]);

const unique = (values: string[]): string[] => [...new Set(values)];

function parseIssuer(r: RawIssuer, index: number, jwks: JwksSettings): IssuerPolicy {
  const at = (key: string): string => `issuers[${index}].${key}`;
  const { issuer, algorithms } = r;
  const algSet = new Set(algorithms);

  const staticKeys: VerificationKey[] = [];
  r.keys.forEach((text, i) => {
    try {
      staticKeys.push(...parseStaticKey(text, `issuers[${index}].keys[${i}]`));
    } catch (err) {
      if (err instanceof KeyImportError) throw new ConfigError(`${at('keys')}[${i}]`, err.message);
      throw err;
    }
  });
  const hmac = algorithms.filter((a) => (HMAC_ALGORITHMS as readonly string[]).includes(a));
  r.secrets.forEach((text, i) => {
    const field = `${at('secrets')}[${i}]`;
    const key = parseSecret(text, `issuers[${index}].secrets[${i}]`);
    if (hmac.length === 0)
      throw new ConfigError(field, 'a shared secret needs an HS256/HS384/HS512 entry in algorithms');
    // RFC 7518 §3.2: the secret must be at least as long as the hash output.
    const weakest = Math.max(...hmac.map((a) => (a === 'HS256' ? 32 : a === 'HS384' ? 48 : 64)));
    if (key.size < weakest)
      throw new ConfigError(field, `too short: ${hmac.join('/')} needs at least ${weakest} bytes`);
    staticKeys.push(key);
  });
  if (hmac.length > 0 && !staticKeys.some((k) => k.kty === 'oct')) {
    throw new ConfigError(
      at('algorithms'),
      `${hmac.join(', ')} needs a shared secret in secrets (a JWKS never supplies one)`,
    );
  }

  const allowHttp = r.allow_http_jwks;
  const jwksUrl = r.jwks_url;
  const discovery = r.discovery;
  if (jwksUrl !== undefined && discovery)
    throw new ConfigError(at('discovery'), 'set either jwks_url or discovery, not both');
  for (const [key, url] of [
    ['jwks_url', jwksUrl],
    ['issuer', discovery ? issuer : undefined],
  ] as const) {
    if (url === undefined) continue;
    try {
      checkOutboundUrl(url, allowHttp);
    } catch (err) {
      if (err instanceof OutboundFetchError)
        throw new ConfigError(at(key), `${err.message}${allowHttp ? '' : ' (set allow_http_jwks to allow http)'}`);
      throw err;
    }
  }
  const extraCa = r.ca_certificates;
  extraCa.forEach((pem, i) => {
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new ConfigError(`${at('ca_certificates')}[${i}]`, 'not a PEM certificate');
  });
  const remote =
    jwksUrl !== undefined || discovery
      ? remoteKeySet({ issuer, jwksUrl, allowHttp, extraCaCertificates: extraCa }, jwks)
      : undefined;
  if (remote === undefined && staticKeys.length === 0) {
    throw new ConfigError(at('keys'), 'no keys: configure keys, secrets, jwks_url or discovery');
  }

  const { audiences, audience_required: audienceRequired } = r;
  if (audienceRequired && audiences.length === 0) {
    throw new ConfigError(at('audiences'), 'at least one audience is required (or set audience_required = false)');
  }
  return { index, issuer, algorithms: algSet, audience: { audiences, audienceRequired }, staticKeys, remote };
}

function parseIssuers(list: RawIssuer[], jwks: JwksSettings): Map<string, IssuerPolicy> {
  const out = new Map<string, IssuerPolicy>();
  list.forEach((entry, i) => {
    const policy = parseIssuer(entry, i, jwks);
    if (out.has(policy.issuer)) throw new ConfigError(`issuers[${i}].issuer`, 'issuer configured twice');
    out.set(policy.issuer, policy);
  });
  return out;
}

export function parseJwtConfig(raw: unknown): JwtConfig {
  const conf = readConfig(ConfigFields, raw);

  const j = conf.jwks;
  const jwks: JwksSettings = {
    cacheTtlMs: j.cache_ttl * 1000,
    maxStaleMs: j.max_stale * 1000,
    cooldownMs: j.refresh_cooldown * 1000,
    timeoutMs: j.timeout,
    maxBytes: j.max_bytes,
  };
  if (jwks.maxStaleMs < jwks.cacheTtlMs) throw new ConfigError('jwks.max_stale', 'must be at least cache_ttl');

  const s = conf.token_sources;
  const sources: TokenSources = {
    bearer: s.bearer,
    headers: unique(s.headers).map((h) => h.toLowerCase()),
    cookies: unique(s.cookies),
    queryParams: unique(s.query_params),
  };
  if (sources.headers.includes('authorization'))
    throw new ConfigError('token_sources.headers', 'Authorization is read by bearer');
  if (!sources.bearer && sources.headers.length + sources.cookies.length + sources.queryParams.length === 0) {
    throw new ConfigError('token_sources', 'no token source enabled');
  }

  const c = conf.claims;
  const claims: ClaimsPolicy = {
    leewaySec: conf.leeway,
    requireExp: c.require_exp,
    maxAgeSec: c.max_age,
    requiredTyp: c.typ,
    requiredClaims: unique(c.required),
    claimValues: c.values,
  };

  const sc = conf.scopes;
  const scopes: ScopePolicy = { required: unique(sc.required), mode: sc.mode, claims: unique(sc.claims) };
  if (scopes.claims.length === 0) scopes.claims = ['scope', 'scp'];

  const consumer: ConsumerPolicy = {
    claim: conf.consumer.claim,
    by: conf.consumer.by,
    required: conf.consumer.required,
  };

  const forwardClaims: [string, string][] = [];
  const seenHeaders = new Set<string>();
  for (const [claim, header] of Object.entries(conf.forward_claims)) {
    const field = `forward_claims.${claim}`;
    const lower = header.toLowerCase();
    if (RESERVED_UPSTREAM_HEADERS.has(lower) || sources.headers.includes(lower))
      throw new ConfigError(field, `header ${header} cannot carry a claim`);
    if (seenHeaders.has(lower)) throw new ConfigError(field, `header ${header} used twice`);
    seenHeaders.add(lower);
    forwardClaims.push([claim, header]);
  }

  return {
    issuers: parseIssuers(conf.issuers, jwks),
    sources,
    hideCredentials: conf.hide_credentials,
    realm: conf.realm,
    maxTokenBytes: conf.max_token_bytes,
    claims,
    scopes,
    consumer,
    anonymous: conf.anonymous,
    identity: { groupsClaims: unique(conf.identity.groups_claims), claims: unique(conf.identity.claims) },
    forwardClaims,
    unavailableStatus: conf.unavailable_status,
    jwks,
    tokenCacheTtlMs: conf.token_cache.ttl * 1000,
    tokenCache: new TtlCache<string, VerifiedEntry>({ maxEntries: conf.token_cache.max_entries }),
  };
}
