// bulwark-oauth2's config: from Kong's (schema-validated, defaulted) config object to a typed, precomputed
// form, once per instance. Keys are parsed and self-tested, hash strings parsed, scope rules checked here;
// any failure throws a ConfigError naming the field and the instance does not start (Kong answers 500).
import { ConfigError, ConfigReader } from '../lib/config';
import { CidrList } from '../lib/ip';
import type { ForwardedHeaderKind } from '../lib/client-ip';
import { parseSecretHash, randomSecretHashLike, SecretHashFormatError, type ParsedSecretHash } from '../lib/secret-hash';
import { buildKeyRing, type KeyRing } from './keys';
import type { FailureLimits } from './failure-limiter';
import { isScopeToken } from './scopes';

export interface OAuthClient {
  clientId: string;
  secretHash: ParsedSecretHash;
  allowedScopes: string[];
  /** undefined = all allowed scopes. */
  defaultScopes: string[] | undefined;
  /** undefined = the plugin-level audience. */
  audience: string[] | undefined;
}

export interface OAuth2Config {
  tokenPath: string;
  jwksPath: string;
  jwksMaxAge: number;
  issuer: string;
  audience: string[];
  tokenTtl: number;
  keys: KeyRing;
  clients: Map<string, OAuthClient>;
  /** Checked instead of a real hash for unknown client ids (same cost as the configured ones). */
  dummyHash: ParsedSecretHash | undefined;
  maxBodySize: number;
  limits: FailureLimits;
  trustedProxies: CidrList;
  forwardedHeader: ForwardedHeaderKind;
  /** Kong's plugin entity id (`__plugin_id`), keys the per-node failure store. */
  pluginId: string | undefined;
}

const PATH = /^\/[A-Za-z0-9\-._~/]*$/;
const CLIENT_ID = /^[\x21-\x39\x3b-\x7e]{1,255}$/;
const AUDIENCE = /^[\x21-\x7e]{1,2048}$/;

function parsePath(r: ConfigReader, key: string, fallback: string): string {
  const value = r.string(key, fallback);
  if (!PATH.test(value) || value.includes('//') || value.split('/').some((s) => s === '.' || s === '..')) {
    throw new ConfigError(r.field(key), 'must be an absolute path of unreserved characters without empty, "." or ".." segments');
  }
  // The handler compares request paths without their trailing slash (see handler.ts access).
  return value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value;
}

function parseAudience(values: string[], field: string): string[] {
  values.forEach((v, i) => {
    if (!AUDIENCE.test(v)) throw new ConfigError(`${field}[${i}]`, 'must be 1-2048 printable characters without spaces');
  });
  return [...new Set(values)];
}

function parseScopes(values: string[], field: string): string[] {
  values.forEach((v, i) => {
    if (!isScopeToken(v)) throw new ConfigError(`${field}[${i}]`, 'not a valid scope token (RFC 6749 §3.3)');
  });
  return [...new Set(values)];
}

/** `clients` is an array of records, which ConfigReader has no accessor for: read it from the raw config. */
function rawClients(raw: Record<string, unknown>): unknown[] {
  const value = raw.clients;
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  // An empty Lua table may arrive as {}.
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) return [];
  throw new ConfigError('clients', 'expected an array');
}

function parseClients(raw: Record<string, unknown>): Map<string, OAuthClient> {
  const clients = new Map<string, OAuthClient>();
  rawClients(raw).forEach((raw, i) => {
    const c = new ConfigReader(raw, `clients[${i}]`);
    const clientId = c.string('client_id');
    if (!CLIENT_ID.test(clientId)) throw new ConfigError(c.field('client_id'), 'must be 1-255 printable ASCII characters without space or ":"');
    if (clients.has(clientId)) throw new ConfigError(c.field('client_id'), `client_id ${JSON.stringify(clientId)} is configured twice`);
    let secretHash: ParsedSecretHash;
    try {
      secretHash = parseSecretHash(c.secretString('client_secret_hash'));
    } catch (err) {
      if (err instanceof SecretHashFormatError) throw new ConfigError(c.field('client_secret_hash'), err.message);
      throw err;
    }
    const allowedScopes = parseScopes(c.stringArray('allowed_scopes'), c.field('allowed_scopes'));
    let defaultScopes: string[] | undefined;
    if (c.has('default_scopes')) {
      defaultScopes = parseScopes(c.stringArray('default_scopes'), c.field('default_scopes'));
      defaultScopes.forEach((s, j) => {
        if (!allowedScopes.includes(s)) throw new ConfigError(`${c.field('default_scopes')}[${j}]`, `scope ${JSON.stringify(s)} is not in allowed_scopes`);
      });
    }
    const audience = c.has('audience') ? parseAudience(c.stringArray('audience'), c.field('audience')) : undefined;
    if (audience !== undefined && audience.length === 0) throw new ConfigError(c.field('audience'), 'must not be empty when set');
    clients.set(clientId, { clientId, secretHash, allowedScopes, defaultScopes, audience });
  });
  return clients;
}

/** The most expensive configured hash, so that unknown ids never answer faster than any known one. */
function dummyFor(clients: Map<string, OAuthClient>): ParsedSecretHash | undefined {
  let costliest: ParsedSecretHash | undefined;
  let best = -1;
  for (const { secretHash: h } of clients.values()) {
    // Estimated milliseconds, from one measurement on the development machine (scrypt N=16384,r=8,p=1 ≈ 57 ms,
    // PBKDF2-SHA256 600 000 iterations ≈ 172 ms); only the ordering matters. Mixed algorithms or parameters
    // still let timing separate groups of clients: use the same parameters for every client.
    const cost = h.algorithm === 'scrypt' ? (h.N * h.r * h.p) / 2300 : h.iterations / 3500;
    if (cost > best) {
      best = cost;
      costliest = h;
    }
  }
  return costliest === undefined ? undefined : randomSecretHashLike(costliest);
}

export function parseOAuth2Config(raw: unknown): OAuth2Config {
  const root = new ConfigReader(raw);
  const tokenPath = parsePath(root, 'token_path', '/oauth2/token');
  const jwksPath = parsePath(root, 'jwks_path', '/oauth2/jwks');
  if (tokenPath === jwksPath) throw new ConfigError(root.field('jwks_path'), 'must differ from token_path');

  const issuer = root.string('issuer');
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    throw new ConfigError(root.field('issuer'), 'must be an absolute http(s) URL');
  }
  if ((issuerUrl.protocol !== 'https:' && issuerUrl.protocol !== 'http:') || issuerUrl.search !== '' || issuerUrl.hash !== '' || issuerUrl.username !== '') {
    // RFC 8414 §2: an issuer is an https URL with no query or fragment (http tolerated for tests and internal use).
    throw new ConfigError(root.field('issuer'), 'must be an http(s) URL without query, fragment or user info');
  }

  const audience = parseAudience(root.stringArray('audience'), root.field('audience'));
  if (audience.length === 0) throw new ConfigError(root.field('audience'), 'at least one audience is required (RFC 9068 aud)');

  const activeKeyId = root.optionalString('active_key_id');
  const keys = buildKeyRing(root.secretStringArray('signing_keys'), activeKeyId, root.field('signing_keys'), root.field('active_key_id'));

  const clients = parseClients(raw as Record<string, unknown>);
  const fl = root.record('failure_limit');
  const limits: FailureLimits = {
    enabled: fl.boolean('enabled', true),
    maxPerClient: fl.integer('max_failures_per_client', 5, 0, 10000),
    maxPerIp: fl.integer('max_failures_per_ip', 20, 0, 100000),
    windowMs: fl.integer('window_seconds', 60, 1, 86400) * 1000,
    lockoutMs: fl.integer('lockout_seconds', 300, 1, 86400) * 1000,
  };

  const pluginId = (raw as Record<string, unknown>).__plugin_id;
  return {
    tokenPath,
    jwksPath,
    jwksMaxAge: root.integer('jwks_max_age', 300, 0, 86400),
    issuer,
    audience,
    tokenTtl: root.integer('token_ttl', 300, 10, 86400),
    keys,
    clients,
    dummyHash: dummyFor(clients),
    maxBodySize: root.integer('max_body_size', 4096, 256, 8192),
    limits,
    trustedProxies: CidrList.parse(root.stringArray('trusted_proxies'), root.field('trusted_proxies')),
    forwardedHeader: root.oneOf<ForwardedHeaderKind>('forwarded_header', ['x-forwarded-for', 'forwarded'], 'x-forwarded-for'),
    pluginId: typeof pluginId === 'string' && pluginId !== '' ? pluginId : undefined,
  };
}
