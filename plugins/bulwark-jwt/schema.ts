// The Kong schema of bulwark-jwt's config (the `Schema` export kong-pdk dumps; Kong validates it with its
// metaschema, ../../docs/kong-protocol.md §1.12). Records are `required` so Kong fills their nested defaults. Key
// material fields are `referenceable` (Kong resolves `{vault://env/NAME}` before the plugin sees the
// config; the validators then do not run on the reference). Kong refuses at the Admin API (and decK) what this
// schema says: URL schemes, PEM shapes, private keys among the verification keys, the HS256 secret minimum,
// bounds on every string and array, and the rules inside one issuer (entity_checks). What it cannot say (key
// parsing, HS384/HS512 secret lengths, "some key source", rules across records) is checked at instance start in
// config.ts, and before deployment by scripts/validate-config.ts.
import { array, boolean, configFields, integer, kongSchema, map, record, refine, string } from '../lib/fields';
import { headerName, outboundTimeoutMs, pemCertificate, secret } from '../lib/typedefs';
import { SUPPORTED_ALGORITHMS } from './keys';

const URL_MAX = 2048;
const PEM_MAX = 65536;
const NAME_MAX = 128;
const HTTPS_URL = '^[Hh][Tt][Tt][Pp][Ss]://[^%s]+$';
const HTTP_OR_HTTPS_URL = '^[Hh][Tt][Tt][Pp][Ss]?://[^%s]+$';
export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

const CLAIM_NAME = /^[\x21-\x7e]{1,128}$/;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
/** A name (claim, cookie, query parameter, scope) Kong bounds to 128 characters; `pattern` is checked at start. */
const name = (pattern: RegExp, what: string) =>
  refine(string({ len_max: NAME_MAX }), (v) =>
    pattern.test(v) ? undefined : `invalid ${what} ${JSON.stringify(v.slice(0, 64))}`,
  );

const issuer = record(
  {
    issuer: string({
      required: true,
      len_max: URL_MAX,
      description:
        'The exact "iss" value of tokens from this issuer (for discovery, also the base URL of /.well-known/openid-configuration).',
    }),
    jwks_url: string({
      len_max: URL_MAX,
      match: HTTP_OR_HTTPS_URL,
      description:
        'URL of the issuer JSON Web Key Set, fetched and cached by the gateway. https only unless allow_http_jwks is set.',
    }),
    discovery: boolean({
      default: false,
      description:
        'Find the JWKS through OpenID Connect discovery (<issuer>/.well-known/openid-configuration) instead of jwks_url.',
    }),
    allow_http_jwks: boolean({
      default: false,
      description: 'Allow a plain http:// JWKS or discovery URL (a sidecar on loopback, tests). Off: https only.',
    }),
    ca_certificates: array(pemCertificate({ len_max: PEM_MAX }), {
      len_max: 16,
      default: [],
      description:
        'Extra PEM CA certificates trusted for the https JWKS and discovery fetches (a private PKI), besides the system roots.',
    }),
    keys: array(
      secret({
        len_max: PEM_MAX,
        // Verification needs public keys only: a private key here is a leaked signing key.
        match_none: [
          { pattern: 'PRIVATE KEY', err: 'a private key: give the public key (or certificate) only' },
          { pattern: '"d"%s*:', err: 'a private JWK (it has "d"): give the public key only' },
        ],
      }),
      {
        len_max: 64,
        default: [],
        description:
          'Static verification keys: PEM public keys or certificates, JWKs or JWKS JSON. Public keys only. Vault references allowed.',
      },
    ),
    secrets: array(
      // RFC 7518 §3.2: at least the hash output, 32 bytes for HS256 (HS384/HS512 need more: checked at start).
      string({ len_min: 32, len_max: 4096, referenceable: true }),
      {
        len_max: 16,
        default: [],
        encrypted: true,
        description:
          'Shared secrets for HS256/HS384/HS512 (UTF-8 bytes, at least as long as the hash output). Vault references allowed.',
      },
    ),
    algorithms: array(string({ one_of: SUPPORTED_ALGORITHMS }), {
      len_min: 1,
      len_max: 16,
      default: DEFAULT_ALGORITHMS,
      description: 'Signature algorithms accepted from this issuer. "none" is never accepted; HS* need secrets.',
    }),
    audiences: array(string({ len_max: URL_MAX }), {
      len_max: 64,
      default: [],
      description: 'Accepted "aud" values (a token needs one of them). Required unless audience_required is false.',
    }),
    audience_required: boolean({
      default: true,
      description:
        'Tokens must carry an "aud" claim matching audiences. false: tokens without "aud" pass (with "aud", it is still checked).',
    }),
  },
  {
    entity_checks: [
      // Only https unless allowed; jwks_url and discovery are two ways to the same key set.
      {
        conditional: {
          if_field: 'allow_http_jwks',
          if_match: { eq: false },
          then_field: 'jwks_url',
          then_match: { match: HTTPS_URL },
          then_err: 'jwks_url must be https:// unless allow_http_jwks is set',
        },
      },
      {
        conditional: {
          if_field: 'discovery',
          if_match: { eq: true },
          then_field: 'jwks_url',
          then_match: { eq: null },
          then_err: 'set either jwks_url or discovery, not both',
        },
      },
      {
        conditional: {
          if_field: 'audience_required',
          if_match: { eq: true },
          then_field: 'audiences',
          then_match: { len_min: 1 },
          then_err: 'at least one audience is required (or set audience_required = false)',
        },
      },
    ],
  },
);

export const ConfigFields = configFields({
  issuers: array(issuer, {
    required: true,
    len_min: 1,
    len_max: 32,
    description:
      'Trusted token issuers, each with its own keys, audiences and algorithm allow-list; a token is checked against the issuer named by its "iss".',
  }),
  token_sources: record(
    {
      bearer: boolean({ default: true, description: 'Read the token from "Authorization: Bearer <token>".' }),
      headers: array(headerName(), {
        len_max: 16,
        default: [],
        description: 'Other request headers that may carry the token (bare, or with a "Bearer " prefix).',
      }),
      cookies: array(name(COOKIE_NAME, 'cookie name'), {
        len_max: 16,
        default: [],
        description: 'Cookies that may carry the token.',
      }),
      query_params: array(name(CLAIM_NAME, 'query parameter name'), {
        len_max: 16,
        default: [],
        description:
          'Query parameters that may carry the token; the parameter is always removed before proxying, and Kong 3.9 then ' +
          're-serialises the whole query WHATWG-style (resty.ada): the upstream sees the other arguments re-encoded ' +
          '(%20 → +, / → %2F, , → %2C).',
      }),
    },
    {
      required: true,
      description:
        'Where the token is looked for. A request carrying tokens in more than one place is refused with 400.',
    },
  ),
  hide_credentials: boolean({
    default: false,
    description:
      'Remove the token (its header or cookie) from the request before it is proxied. Query tokens are always removed.',
  }),
  realm: refine(
    string({
      default: 'bulwark',
      len_max: 128,
      match_none: [{ pattern: '["\\%c]', err: 'must not contain quotes, backslashes or control characters' }],
      description: 'The realm of the WWW-Authenticate: Bearer challenge sent with 401 and 403 responses.',
    }),
    (v) =>
      /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(v)
        ? undefined
        : 'must be 1-128 printable characters without quotes or backslashes',
  ),
  leeway: integer({
    default: 30,
    between: [0, 600],
    description: 'Clock skew tolerated, in seconds, for exp, nbf, iat and max_age.',
  }),
  max_token_bytes: integer({
    default: 8192,
    between: [256, 65536],
    description: 'Longest token accepted, in bytes; longer tokens are rejected before any parsing.',
  }),
  claims: record(
    {
      require_exp: boolean({ default: true, description: 'Tokens must carry an "exp" claim.' }),
      max_age: integer({
        between: [1, 31622400],
        description:
          'Reject tokens issued ("iat") longer ago than this many seconds; tokens then need "iat". Unset: no limit.',
      }),
      typ: string({
        len_max: NAME_MAX,
        description: 'Required "typ" header, e.g. at+jwt (RFC 9068); compared case-insensitively.',
      }),
      required: array(name(CLAIM_NAME, 'claim name'), {
        len_max: 64,
        default: [],
        description: 'Claims every token must carry.',
      }),
      values: map(name(CLAIM_NAME, 'claim name'), array(string({ len_max: 1024 }), { len_min: 1, len_max: 256 }), {
        len_max: 64,
        default: {},
        description:
          'Claim name to accepted values: the claim must equal one of them (or, for an array claim, contain one).',
      }),
    },
    { required: true, description: 'Claim rules applied to every token after its signature is verified.' },
  ),
  scopes: record(
    {
      required: array(name(SCOPE_TOKEN, 'scope'), {
        len_max: 64,
        default: [],
        description: 'Required scopes. Empty: no scope check.',
      }),
      mode: string({
        one_of: ['any', 'all'],
        default: 'all',
        description: 'all: every required scope; any: at least one.',
      }),
      claims: array(name(CLAIM_NAME, 'claim name'), {
        len_max: 8,
        default: ['scope', 'scp'],
        description: 'Claims holding the scopes: a space-separated string (scope) or an array (scp).',
      }),
    },
    { required: true, description: 'Scopes a token must grant; a token without them gets 403 insufficient_scope.' },
  ),
  consumer: record(
    {
      claim: string({
        len_max: NAME_MAX,
        description: 'Claim naming the consumer (e.g. sub, client_id). Unset: no consumer mapping.',
      }),
      by: string({
        one_of: ['username', 'id'],
        default: 'username',
        description: 'Match the claim against the consumer username or id.',
      }),
      required: boolean({
        default: true,
        description:
          'true: a token whose claim names no consumer gets 401. false: it is accepted as an identity without consumer.',
      }),
    },
    {
      required: true,
      description:
        'How a token maps to a Kong consumer (so acl, rate-limiting and other consumer-aware plugins apply).',
    },
  ),
  anonymous: string({
    len_max: 256,
    description:
      'Consumer id or username for requests WITHOUT a token (invalid tokens are always rejected). Unset: 401.',
  }),
  identity: record(
    {
      groups_claims: array(name(CLAIM_NAME, 'claim name'), {
        len_max: 8,
        default: ['groups', 'roles'],
        description: "Claims holding the caller's groups or roles (a space-separated string or an array of strings).",
      }),
      claims: array(name(CLAIM_NAME, 'claim name'), {
        len_max: 32,
        default: [],
        description:
          'Claims copied into the identity (for bulwark-authz conditions and bulwark-rate-limit jwt-claim). Values over 2048 bytes of JSON are left out.',
      }),
    },
    {
      required: true,
      description:
        'What the published caller identity (kong.ctx.shared "bulwark.identity", docs/identity.md) takes from a verified token besides sub, iss and scopes.',
    },
  ),
  forward_claims: map(name(CLAIM_NAME, 'claim name'), headerName(), {
    len_max: 32,
    default: {},
    description: 'Claim name to upstream request header. Inbound headers of those names are removed first.',
  }),
  unavailable_status: integer({
    one_of: [401, 503],
    default: 401,
    description: 'Status when no signing keys can be obtained (JWKS down and none cached): 401 or 503.',
  }),
  jwks: record(
    {
      cache_ttl: integer({
        default: 300,
        between: [1, 86400],
        description: 'Seconds a fetched key set is fresh; then it is refreshed in the background.',
      }),
      max_stale: integer({
        default: 3600,
        between: [0, 604800],
        description:
          'Seconds keys stay usable after their last successful fetch while refreshes fail (an IdP outage); then tokens are rejected.',
      }),
      refresh_cooldown: integer({
        default: 30,
        between: [1, 3600],
        description:
          'Minimum seconds between two fetches (unknown kids, failures): forged kids cannot cause a fetch storm.',
      }),
      timeout: outboundTimeoutMs({
        default: 2000,
        min: 100,
        description:
          "Milliseconds a fetch (and any request waiting for it) may take; at most 10 s, well inside Kong's 60 s wait for a plugin step.",
      }),
      max_bytes: integer({
        default: 262144,
        between: [1024, 10485760],
        description: 'Largest JWKS or discovery response accepted, in bytes.',
      }),
    },
    { required: true, description: 'JWKS and discovery fetching and caching, shared by all issuers of this plugin.' },
  ),
  token_cache: record(
    {
      max_entries: integer({
        default: 10000,
        between: [0, 1000000],
        description: 'Most tokens cached per plugin instance; 0 disables the cache.',
      }),
      ttl: integer({
        default: 300,
        between: [1, 86400],
        description: 'Seconds a verified token stays cached (never past its exp).',
      }),
    },
    {
      required: true,
      description:
        'Cache of verified tokens (keyed by a SHA-256 of the token) that skips signature checks for repeat tokens.',
    },
  ),
});

/** The `Schema` export the plugin server dumps. */
export const Schema = kongSchema(ConfigFields);
