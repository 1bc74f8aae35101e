// bulwark-upstream-trust's config fields, declared once (lib/fields.ts): the Kong schema the plugin server dumps
// (`Schema`, ../../docs/kong-protocol.md §1.12) and the typed reader. What a field declaration cannot say (key
// material and its algorithm, kid syntax for RFC 9421) is checked in config.ts when the instance starts.
//
// `signing_keys` is an array of referenceable STRINGS (as bulwark-oauth2's): Kong resolves vault references in
// arrays of referenceable strings, not inside records that are array elements.
import { array, configFields, integer, kongSchema, string } from '../lib/fields';
import { HEADER_NAME_PATTERN, secret } from '../lib/typedefs';
import { MAX_TOKEN_LIFETIME_SECONDS } from './protocol';

/** The largest body the plugin reads to digest it: 64 MiB, what bulwark-pluginserver's frame limit allows. */
export const MAX_BODY_SIZE_LIMIT = 64 * 1024 * 1024;

const PATH_PATTERN = '^/[%w%-%._~/]*$';
const PATH = /^\/[A-Za-z0-9\-._~/]*$/;
const NO_SPACE = /^\S+$/;
const noSpace = (v: string) => (NO_SPACE.test(v) ? undefined : 'must not contain spaces');

export const ConfigFields = configFields({
  format: string({
    one_of: ['jwt', 'http-message-signatures'],
    default: 'jwt',
    description:
      'jwt: one header with a signed JWT binding identity and request. http-message-signatures: RFC 9421 Signature-Input/Signature over the request components, the identity in Bulwark-Identity.',
  }),
  issuer: string({
    required: true,
    len_max: 2048,
    match: '^[^%s]+$',
    check: noSpace,
    description: 'The iss of every token: names this gateway. Backends compare it exactly.',
  }),
  audience: string({
    len_max: 2048,
    match: '^[^%s]+$',
    check: noSpace,
    description:
      'The aud of every token: names the backend the request is for. Unset: the name of the Kong service (its id when it has no name).',
  }),
  token_ttl: integer({
    default: 30,
    between: [1, MAX_TOKEN_LIFETIME_SECONDS],
    description:
      'Lifetime of a token in seconds (exp - iat), at most 60: it only has to reach the upstream. Backends reject replays for this long.',
  }),
  signing_keys: array(secret({ len_max: 65536 }), {
    required: true,
    len_min: 1,
    len_max: 16,
    description:
      'Private signing keys: Ed25519 (EdDSA) or EC P-256 (ES256), PEM or private JWK JSON, normally vault references ({vault://env/...}). Public parts are served on jwks_path.',
  }),
  active_key_id: string({
    len_max: 256,
    description:
      'kid of the key that signs. Unset: the first of signing_keys. The others stay in the JWKS (rotation: add, publish, activate, retire).',
  }),
  header_name: string({
    default: 'X-Bulwark-Upstream-Token',
    len_max: 128,
    match: HEADER_NAME_PATTERN,
    check: (v: string) => (/^[A-Za-z0-9-]+$/.test(v) ? undefined : 'must be a header name of letters, digits and -'),
    description:
      'jwt format: the request header carrying the token. Inbound copies of it (every spelling) are always removed.',
  }),
  upstream_host: string({
    len_max: 1024,
    match: '^[^%s]+$',
    check: noSpace,
    description:
      'The Host the upstream receives, as bound in the token. Unset: what Kong sends (the preserved Host header, else the service host, with its port unless it is the default). Set it for upstream entities with targets or host_header.',
  }),
  max_body_size: integer({
    default: 1048576,
    between: [0, MAX_BODY_SIZE_LIMIT],
    description: 'Largest request body (bytes) the plugin reads to digest. A larger body is handled by oversized_body.',
  }),
  oversized_body: string({
    one_of: ['reject', 'sign_without_digest'],
    default: 'reject',
    description:
      'A body over max_body_size: reject (413, fail closed) or sign_without_digest (the token says body_unbound; verifiers refuse it unless told to accept unbound bodies).',
  }),
  jwks_path: string({
    len_max: 1024,
    match: PATH_PATTERN,
    check: (v: string) =>
      PATH.test(v) && !v.split('/').some((s) => s === '.' || s === '..')
        ? undefined
        : 'must be an absolute path of unreserved characters without "." or ".." segments',
    description:
      'Request path (exact) on which this plugin answers GET/HEAD with the public JWKS instead of proxying. Unset: no JWKS here (and one round trip less per request).',
  }),
  jwks_max_age: integer({
    default: 300,
    between: [0, 86400],
    description:
      'Cache-Control max-age (seconds) of the JWKS response. Keep it below the time a retired key stays in signing_keys.',
  }),
});

export const Schema = kongSchema(ConfigFields);
