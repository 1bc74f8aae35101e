// The Kong schema of bulwark-oauth2's config (../../docs/kong-protocol.md §1.12). Records are `required` so Kong fills
// their nested defaults. What a Kong schema cannot check (key material, hash strings, scope subsets,
// duplicate client ids) is checked in config.ts when the instance starts.
//
// `signing_keys` is an array of STRINGS with referenceable elements rather than an array of records: Kong
// resolves vault references in referenceable string fields, in arrays/sets of referenceable strings and in
// nested records, but not inside records that are elements of an array.

import { array, boolean, configFields, integer, kongSchema, record, refine, set, string } from '../lib/fields';
import { forwardedHeader, secret, trustedProxies } from '../lib/typedefs';
import { isScopeToken } from './scopes';

// Lua patterns (Kong `match`), not regexes.
const PATH_PATTERN = '^/[%w%-%._~/]*$';
// RFC 6749 §A.4 scope-token: %x21 / %x23-5B / %x5D-7E (printable ASCII except space, '"' and '\').
const SCOPE_PATTERN = '^[!#-Z%[%]^-~]+$';
// RFC 6749 §A.1 client-id is VSCHAR; narrower here: no space and no ':' (Basic auth splits at the first ':').
const CLIENT_ID_PATTERN = '^[!-9;-~]+$';

// The same rules at instance start, for configs that did not pass Kong.
const PATH = /^\/[A-Za-z0-9\-._~/]*$/;
const CLIENT_ID = /^[\x21-\x39\x3b-\x7e]{1,255}$/;
const AUDIENCE = /^[\x21-\x7e]{1,2048}$/;

const path = (fallback: string, description: string) =>
  refine(string({ default: fallback, len_max: 1024, match: PATH_PATTERN, description }), (v) =>
    !PATH.test(v) || v.includes('//') || v.split('/').some((s) => s === '.' || s === '..')
      ? 'must be an absolute path of unreserved characters without empty, "." or ".." segments'
      : undefined,
  );
const audienceValue = () =>
  refine(string({ len_max: 2048, match: '^[^%s]+$' }), (v) =>
    AUDIENCE.test(v) ? undefined : 'must be 1-2048 printable characters without spaces',
  );
const scope = () =>
  refine(string({ len_max: 256, match: SCOPE_PATTERN }), (v) =>
    isScopeToken(v) ? undefined : 'not a valid scope token (RFC 6749 §3.3)',
  );

/** RFC 8414 §2: an issuer is an https URL with no query or fragment (http tolerated for tests and internal use). */
function issuerProblem(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  const httpish = url.protocol === 'https:' || url.protocol === 'http:';
  if (!httpish || url.search !== '' || url.hash !== '' || url.username !== '') {
    return 'must be an http(s) URL without query, fragment or user info';
  }
  return undefined;
}

const client = record({
  client_id: refine(
    string({
      required: true,
      len_max: 255,
      match: CLIENT_ID_PATTERN,
      description:
        'The client identifier (printable ASCII, no space or colon). It becomes the sub and client_id claims.',
    }),
    (v) => (CLIENT_ID.test(v) ? undefined : 'must be 1-255 printable ASCII characters without space or ":"'),
  ),
  client_secret_hash: string({
    required: true,
    len_max: 1024,
    match: '^%$[%w%-]+%$[^%$]+%$[^%$]+%$[^%$]+$',
    description:
      'Hash of the client secret, never the secret itself: $scrypt$N=..,r=..,p=..$salt$hash or $pbkdf2-sha256$i=..$salt$hash (node dist/js/scripts/oauth2-client-secret.js).',
  }),
  allowed_scopes: set(scope(), {
    default: [],
    len_max: 256,
    description: 'Scopes this client may obtain. A request for any other scope gets invalid_scope.',
  }),
  default_scopes: set(scope(), {
    len_max: 256,
    description: 'Scopes granted when the request names none (a subset of allowed_scopes). Unset: all allowed_scopes.',
  }),
  audience: array(audienceValue(), {
    len_max: 64,
    description:
      "The aud claim for this client's tokens, replacing the plugin-level audience. Unset: the plugin-level audience.",
  }),
});

export const ConfigFields = configFields({
  token_path: path(
    '/oauth2/token',
    'Request path of the token endpoint (exact match). Other paths of the route pass through untouched.',
  ),
  jwks_path: path(
    '/oauth2/jwks',
    'Request path on which the public JSON Web Key Set of the signing keys is served (GET/HEAD, exact match).',
  ),
  jwks_max_age: integer({
    default: 300,
    between: [0, 86400],
    description:
      'Cache-Control max-age (seconds) of the JWKS response. Keep it below the time a retired key stays in signing_keys.',
  }),
  issuer: refine(
    string({
      required: true,
      len_max: 2048,
      match: '^https?://[^%s]+$',
      description:
        'The iss claim of issued tokens: the URL identifying this authorization server (validators compare it exactly).',
    }),
    issuerProblem,
  ),
  audience: array(audienceValue(), {
    required: true,
    len_min: 1,
    len_max: 64,
    description:
      'The aud claim of issued tokens (RFC 9068): identifiers of the resource servers the tokens are meant for. A client may override it.',
  }),
  token_ttl: integer({
    default: 300,
    between: [10, 86400],
    description:
      'Lifetime of an access token in seconds (exp = iat + token_ttl). Short-lived tokens limit the damage of a leaked one.',
  }),
  signing_keys: array(secret({ len_max: 65536 }), {
    required: true,
    len_min: 1,
    len_max: 16,
    description:
      'Private signing keys: PEM (PKCS#8, PKCS#1 RSA or SEC1 EC) or private JWK JSON; RSA >= 2048 bits, EC P-256/P-384, Ed25519. Vault references ({vault://env/...}) allowed. Public parts go to the JWKS.',
  }),
  active_key_id: string({
    len_max: 256,
    description:
      'kid of the key that signs new tokens. Unset: the first of signing_keys. The others stay in the JWKS (rotation: add the new key, publish, then make it active).',
  }),
  clients: array(client, {
    default: [],
    len_max: 10000,
    description: 'The OAuth clients allowed to obtain tokens with the client_credentials grant.',
  }),
  max_body_size: integer({
    default: 4096,
    between: [256, 8192],
    description:
      'Largest token request body in bytes (checked on Content-Length before reading; larger gets 413). At most 8 KiB, so Kong never spools it to disk.',
  }),
  failure_limit: record(
    {
      enabled: boolean({
        default: true,
        description:
          'Refuse further attempts with 429 once a client_id or a client IP has too many failures in the window.',
      }),
      max_failures_per_client: integer({
        default: 5,
        between: [0, 10000],
        description:
          'Failed authentications of one client_id within window_seconds that lock it for lockout_seconds. 0: no per-client limit.',
      }),
      max_failures_per_ip: integer({
        default: 20,
        between: [0, 100000],
        description:
          'Failed authentications from one client IP within window_seconds that lock that IP for lockout_seconds. 0: no per-IP limit.',
      }),
      window_seconds: integer({
        default: 60,
        between: [1, 86400],
        description: 'Length of the window in which failures are counted (it starts at the first failure).',
      }),
      lockout_seconds: integer({
        default: 300,
        between: [1, 86400],
        description: 'How long a locked client_id or IP is refused (429 with Retry-After), whatever secret it sends.',
      }),
    },
    {
      required: true,
      description:
        'Limits failed client authentications, counted in memory per plugin-server worker process (per worker, so per Kong node too), by client_id and by client IP.',
    },
  ),
  trusted_proxies: trustedProxies(
    'CIDRs of the proxies in front of Kong whose forwarding header gives the client IP for failure_limit. Empty: the connection peer is the client.',
  ),
  forwarded_header: forwardedHeader(
    'Which header trusted proxies use to pass the client address: X-Forwarded-For or RFC 7239 Forwarded.',
  ),
});

/** The `Schema` export the plugin server dumps. */
export const Schema = kongSchema(ConfigFields);
