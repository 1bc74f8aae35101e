// bulwark-upstream-trust's config: from Kong's (schema-validated, defaulted) config object to a typed form, once per
// instance. Keys are parsed, self-tested and limited to EdDSA/ES256 here; any failure names the field.
import { ConfigError, ConfigReader } from '../lib/config';
import { buildKeyRing, type KeyRing } from '../lib/signing-keys';
import { isPlainSfString, MAX_TOKEN_LIFETIME_SECONDS, SIGNING_ALGORITHMS, type Format, type SigningAlgorithm } from './protocol';
import { MAX_BODY_SIZE_LIMIT } from './schema';

export interface UpstreamTrustConfig {
  format: Format;
  issuer: string;
  /** undefined: the service's name (or id). */
  audience: string | undefined;
  tokenTtl: number;
  keys: KeyRing;
  headerName: string;
  upstreamHost: string | undefined;
  maxBodySize: number;
  oversizedBody: 'reject' | 'sign_without_digest';
  jwksPath: string | undefined;
  jwksMaxAge: number;
}

const HEADER_NAME = /^[A-Za-z0-9-]{1,128}$/;
const NO_SPACE = /^\S{1,2048}$/;
const PATH = /^\/[A-Za-z0-9\-._~/]*$/;

function nonBlank(r: ConfigReader, key: string, value: string | undefined): string | undefined {
  if (value !== undefined && !NO_SPACE.test(value)) throw new ConfigError(r.field(key), 'must be 1-2048 characters without spaces');
  return value;
}

export function parseUpstreamTrustConfig(raw: unknown): UpstreamTrustConfig {
  const root = new ConfigReader(raw);
  const format = root.oneOf<Format>('format', ['jwt', 'http-message-signatures'], 'jwt');
  const issuer = nonBlank(root, 'issuer', root.string('issuer'))!;
  const audience = nonBlank(root, 'audience', root.optionalString('audience'));
  const keys = buildKeyRing(root.secretStringArray('signing_keys'), root.optionalString('active_key_id'), root.field('signing_keys'), root.field('active_key_id'));
  keys.all.forEach((key, i) => {
    if (!(SIGNING_ALGORITHMS as readonly string[]).includes(key.alg)) {
      throw new ConfigError(`${root.field('signing_keys')}[${i}]`, `${key.alg} keys are not accepted: Ed25519 (EdDSA) or EC P-256 (ES256) only`);
    }
    // RFC 9421 keyid is an sf-string; a kid with `"` or `\` would need escapes verifiers get wrong.
    if (!isPlainSfString(key.kid)) throw new ConfigError(`${root.field('signing_keys')}[${i}]`, 'kid must be printable ASCII without " or \\');
  });
  const headerName = root.string('header_name', 'X-Bulwark-Upstream-Token');
  if (!HEADER_NAME.test(headerName)) throw new ConfigError(root.field('header_name'), 'must be a header name of letters, digits and -');
  const jwksPath = root.optionalString('jwks_path');
  if (jwksPath !== undefined && (!PATH.test(jwksPath) || jwksPath.split('/').some((s) => s === '.' || s === '..'))) {
    throw new ConfigError(root.field('jwks_path'), 'must be an absolute path of unreserved characters without "." or ".." segments');
  }
  return {
    format,
    issuer,
    audience,
    tokenTtl: root.integer('token_ttl', 30, 1, MAX_TOKEN_LIFETIME_SECONDS),
    keys,
    headerName,
    upstreamHost: nonBlank(root, 'upstream_host', root.optionalString('upstream_host')),
    maxBodySize: root.integer('max_body_size', 1048576, 0, MAX_BODY_SIZE_LIMIT),
    oversizedBody: root.oneOf('oversized_body', ['reject', 'sign_without_digest'] as const, 'reject'),
    jwksPath,
    jwksMaxAge: root.integer('jwks_max_age', 300, 0, 86400),
  };
}

export function activeAlgorithm(conf: UpstreamTrustConfig): SigningAlgorithm {
  return conf.keys.active.alg as SigningAlgorithm;
}
