// bulwark-oauth2's config: the fields declared in schema.ts, read by lib/fields.ts, → a typed, precomputed form,
// once per instance. Keys are parsed and self-tested, hash strings parsed, rules across fields checked here;
// any failure throws a ConfigError naming the field and the instance does not start (Kong answers 500).
import { checkSecret, ConfigError } from '../lib/config';
import { readConfig, type Infer } from '../lib/fields';
import { CidrList } from '../lib/ip';
import type { ForwardedHeaderKind } from '../lib/client-ip';
import {
  parseSecretHash,
  randomSecretHashLike,
  SecretHashFormatError,
  type ParsedSecretHash,
} from '../lib/secret-hash';
import { FINGERPRINT_LABELS, secretFingerprint } from '../lib/credential-fingerprint';
import { buildKeyRing, type KeyRing } from './keys';
import type { FailureLimits } from './failure-limiter';
import { ConfigFields } from './schema';

export interface OAuthClient {
  clientId: string;
  secretHash: ParsedSecretHash;
  /**
   * The client credential's fingerprint in security events (lib/credential-fingerprint.ts): of the stored hash,
   * never of the secret (which a person may have chosen). Stable per secret; a rotated secret gets a new one.
   */
  credentialFingerprint: string;
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

type RawClient = Infer<typeof ConfigFields>['clients'][number];

/** The handler compares request paths without their trailing slash (see handler.ts access). */
const withoutTrailingSlash = (path: string): string =>
  path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;

function parseClients(list: RawClient[]): Map<string, OAuthClient> {
  const clients = new Map<string, OAuthClient>();
  list.forEach((c, i) => {
    const at = (key: string): string => `clients[${i}].${key}`;
    const clientId = c.client_id;
    if (clients.has(clientId))
      throw new ConfigError(at('client_id'), `client_id ${JSON.stringify(clientId)} is configured twice`);
    let secretHash: ParsedSecretHash;
    try {
      secretHash = parseSecretHash(checkSecret(c.client_secret_hash, at('client_secret_hash')));
    } catch (err) {
      if (err instanceof SecretHashFormatError) throw new ConfigError(at('client_secret_hash'), err.message);
      throw err;
    }
    const allowedScopes = [...new Set(c.allowed_scopes)];
    const defaultScopes = c.default_scopes === undefined ? undefined : [...new Set(c.default_scopes)];
    defaultScopes?.forEach((s, j) => {
      if (!allowedScopes.includes(s))
        throw new ConfigError(`${at('default_scopes')}[${j}]`, `scope ${JSON.stringify(s)} is not in allowed_scopes`);
    });
    const audience = c.audience === undefined ? undefined : [...new Set(c.audience)];
    if (audience !== undefined && audience.length === 0)
      throw new ConfigError(at('audience'), 'must not be empty when set');
    const credentialFingerprint = secretFingerprint(FINGERPRINT_LABELS.oauth2Client, c.client_secret_hash);
    clients.set(clientId, { clientId, secretHash, credentialFingerprint, allowedScopes, defaultScopes, audience });
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
  const conf = readConfig(ConfigFields, raw);
  const tokenPath = withoutTrailingSlash(conf.token_path);
  const jwksPath = withoutTrailingSlash(conf.jwks_path);
  if (tokenPath === jwksPath) throw new ConfigError('jwks_path', 'must differ from token_path');

  const keys = buildKeyRing(conf.signing_keys, conf.active_key_id, 'signing_keys', 'active_key_id');
  const clients = parseClients(conf.clients);
  const fl = conf.failure_limit;
  const limits: FailureLimits = {
    enabled: fl.enabled,
    maxPerClient: fl.max_failures_per_client,
    maxPerIp: fl.max_failures_per_ip,
    windowMs: fl.window_seconds * 1000,
    lockoutMs: fl.lockout_seconds * 1000,
  };

  const pluginId = (raw as Record<string, unknown>).__plugin_id;
  return {
    tokenPath,
    jwksPath,
    jwksMaxAge: conf.jwks_max_age,
    issuer: conf.issuer,
    audience: [...new Set(conf.audience)],
    tokenTtl: conf.token_ttl,
    keys,
    clients,
    dummyHash: dummyFor(clients),
    maxBodySize: conf.max_body_size,
    limits,
    trustedProxies: CidrList.parse(conf.trusted_proxies, 'trusted_proxies'),
    forwardedHeader: conf.forwarded_header,
    pluginId: typeof pluginId === 'string' && pluginId !== '' ? pluginId : undefined,
  };
}
