// bulwark-upstream-trust's config: the declared fields (schema.ts), then what a declaration cannot say, once per
// instance: keys parsed, self-tested and limited to EdDSA/ES256, kids usable in RFC 9421. Failures name the field.
import { ConfigError } from '../lib/config';
import { readConfig } from '../lib/fields';
import { buildKeyRing, type KeyRing } from '../lib/signing-keys';
import { isPlainSfString, SIGNING_ALGORITHMS, type Format } from './protocol';
import { ConfigFields } from './schema';

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

export function parseUpstreamTrustConfig(raw: unknown): UpstreamTrustConfig {
  const conf = readConfig(ConfigFields, raw);
  const keys = buildKeyRing(conf.signing_keys, conf.active_key_id, 'signing_keys', 'active_key_id');
  keys.all.forEach((key, i) => {
    if (!(SIGNING_ALGORITHMS as readonly string[]).includes(key.alg)) {
      throw new ConfigError(
        `signing_keys[${i}]`,
        `${key.alg} keys are not accepted: Ed25519 (EdDSA) or EC P-256 (ES256) only`,
      );
    }
    // RFC 9421 keyid is an sf-string; a kid with `"` or `\` would need escapes verifiers get wrong.
    if (!isPlainSfString(key.kid))
      throw new ConfigError(`signing_keys[${i}]`, 'kid must be printable ASCII without " or \\');
  });
  return {
    format: conf.format,
    issuer: conf.issuer,
    audience: conf.audience,
    tokenTtl: conf.token_ttl,
    keys,
    headerName: conf.header_name,
    upstreamHost: conf.upstream_host,
    maxBodySize: conf.max_body_size,
    oversizedBody: conf.oversized_body,
    jwksPath: conf.jwks_path,
    jwksMaxAge: conf.jwks_max_age,
  };
}
