// The Kong schema of bulwark-api-key's config, declared once with lib/fields.ts (dumped by the plugin server,
// validated by Kong's metaschema, ../../docs/kong-protocol.md §1.12). Every string and collection is bounded. What
// the schema language cannot say is checked in config.ts when the instance starts: duplicate key ids and hashes,
// hashes made with a pepper when none is configured (or the reverse), store redis without a Redis, timestamps that
// do not parse (key-record.ts parseKeyRecord, the one parser of a key record, in the config and in Redis).
import { array, boolean, configFields, integer, kongSchema, map, record, refine, set, string } from '../lib/fields';
import { forwardedHeader, HEADER_NAME_PATTERN, redis, secret, trustedProxies } from '../lib/typedefs';
import { isValidPrefix, MAX_PREFIX_LENGTH } from './key-format';
import { RECORD_LIMITS } from './key-record';

/** Keys the declarative store holds at most ("tens to a few thousand"; more belong in Redis). */
export const MAX_DECLARATIVE_KEYS = 10_000;

/** A pepper shorter than this is refused (HMAC-SHA-256 wants a key of at least its output size). */
export const MIN_PEPPER_LENGTH = 32;

const TIMESTAMP = '^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%.%d]*Z$';
const TOKEN = '^[%w_%.%-:/]+$'; // scopes and labels: no spaces or control characters

const token = string({ len_min: 1, len_max: RECORD_LIMITS.entryLength, match: TOKEN });

const timestamp = (description: string) => string({ len_max: 32, match: TIMESTAMP, description });

const keyEntry = record({
  id: string({
    required: true,
    len_max: 64,
    match: '^[%w_%.%-]+$',
    description: 'Stable, non-secret key id (logs, X-Credential-Identifier, the identity contract).',
  }),
  hash: string({
    required: true,
    len_max: 80,
    match: '^[%l%d%-]+:%x+$',
    description:
      'sha256:<hex> or hmac-sha256:<hex> of the full key, as the CLI (scripts/api-key.ts) prints it. Never the key itself.',
  }),
  display_prefix: string({
    len_max: RECORD_LIMITS.displayLength,
    match: '^[%w_]+$',
    description: 'The start of the key (prefix and 4 characters), for people.',
  }),
  consumer: string({
    len_max: RECORD_LIMITS.consumerLength,
    description: 'Kong consumer (id or username) the key authenticates as; unset: no consumer.',
  }),
  scopes: set(token, {
    len_max: RECORD_LIMITS.scopes,
    default: [],
    description:
      'Scopes of the key, published to later plugins through the identity contract (bulwark.identity scopes).',
  }),
  labels: set(token, {
    len_max: RECORD_LIMITS.labels,
    default: [],
    description: 'Labels (groups, roles, tenants) of the key, published through the identity contract as groups.',
  }),
  not_before: timestamp('The key is refused before this time (ISO 8601 UTC, e.g. 2026-01-01T00:00:00Z).'),
  expires_at: timestamp('The key is refused from this time on (ISO 8601 UTC); rotation sets it to now + grace.'),
  disabled: boolean({
    default: false,
    description: 'A disabled (revoked) key is refused, with its own reason in the log.',
  }),
  metadata: map(
    string({ len_min: 1, len_max: RECORD_LIMITS.metadataKeyLength }),
    string({ len_max: RECORD_LIMITS.metadataValueLength }),
    {
      len_max: RECORD_LIMITS.metadataEntries,
      description: 'Free-form string metadata (owner, ticket…), published as identity claims.',
    },
  ),
  created_at: timestamp('When the key was issued (informational, written by the CLI).'),
});

const headerName = (len_max: number) => string({ len_min: 1, len_max, match: HEADER_NAME_PATTERN });

export const ConfigFields = configFields({
  key_prefixes: set(
    refine(string({ len_min: 2, len_max: MAX_PREFIX_LENGTH, match: '^%l[%l%d_]*[%l%d]$' }), (p) =>
      isValidPrefix(p) ? undefined : 'lower-case letters and digits in words joined by single "_" (2-24)',
    ),
    {
      required: true,
      len_min: 1,
      len_max: 8,
      default: ['bwk_live'],
      description:
        'Key prefixes this route accepts (one per environment, e.g. bwk_live): lower-case words joined by "_". A key of another prefix is refused without a lookup.',
    },
  ),
  store: string({
    one_of: ['declarative', 'redis'],
    default: 'declarative',
    description:
      'declarative: the keys listed in `keys` (decK, GitOps). redis: records the CLI writes to `redis` (dynamic issuance at scale).',
  }),
  keys: array(keyEntry, {
    len_max: MAX_DECLARATIVE_KEYS,
    default: [],
    description:
      'The declarative store: hashed keys with their attributes (scripts/api-key.ts issue --store declarative prints an entry).',
  }),
  pepper: refine(
    secret({
      len_max: 1024,
      encrypted: true,
      description:
        'Secret for HMAC-SHA-256 key hashes (at least 32 characters), best a vault reference {vault://env/...}; unset: plain SHA-256.',
    }),
    (p) => (p.length < MIN_PEPPER_LENGTH ? `at least ${MIN_PEPPER_LENGTH} characters` : undefined),
  ),
  key_names: array(headerName(64), {
    len_max: 8,
    default: ['x-api-key', 'apikey'],
    description: 'Request headers (and, with key_in_query, query parameters) that may carry the key.',
  }),
  authorization_scheme: string({
    len_max: 32,
    match: HEADER_NAME_PATTERN,
    description:
      'Also read `Authorization: <scheme> <key>` with this scheme (e.g. ApiKey or Bearer); unset: Authorization is left alone.',
  }),
  key_in_query: boolean({
    default: false,
    description: 'Also read query parameters named in key_names (off: query strings end up in access logs).',
  }),
  hide_credentials: boolean({
    default: true,
    description:
      'Remove the key (every spelling of its header, the Authorization header, the query parameter) before proxying.',
  }),
  anonymous: refine(
    string({
      len_max: 128,
      description: 'Consumer (id or username) used when authentication fails, as Kong key-auth; unset: refuse.',
    }),
    (a) => (a.trim() === '' ? 'empty consumer' : undefined),
  ),
  run_on_preflight: boolean({
    default: true,
    description: 'Authenticate OPTIONS preflight requests too (false: let them through, as Kong key-auth).',
  }),
  realm: refine(
    string({
      default: 'kong',
      len_max: 64,
      match: '^[%w%.%-_ ]+$',
      description: 'Realm of the `WWW-Authenticate: Key realm="..."` challenge on 401.',
    }),
    (r) => (/^[A-Za-z0-9._\- ]+$/.test(r) ? undefined : 'letters, digits, space, ".", "_" and "-" only'),
  ),
  required_scopes: set(token, {
    len_max: 32,
    default: [],
    description: 'Scopes a key must have, all of them, on this route; a valid key without them gets 403.',
  }),
  cache: record(
    {
      ttl_seconds: integer({
        default: 10,
        between: [1, 3600],
        description: 'A found key is reused this long: a revoked key stops working within it.',
      }),
      negative_ttl_seconds: integer({
        default: 10,
        between: [0, 3600],
        description: 'An unknown (checksum-valid) key is refused this long without asking Redis again.',
      }),
      stale_seconds: integer({
        default: 300,
        between: [0, 86400],
        description:
          'With on_store_error serve-cached: how long past ttl a cached key still works while Redis is down.',
      }),
      max_entries: integer({
        default: 10000,
        between: [100, 1000000],
        description: 'Entries kept in each cache (positive, negative) per plugin-server process.',
      }),
    },
    {
      required: true,
      description: 'In-memory caches in front of the Redis store (the declarative store is memory already).',
    },
  ),
  on_store_error: string({
    one_of: ['fail-closed', 'serve-cached'],
    default: 'fail-closed',
    description:
      'Redis unreachable: fail-closed (503) or serve-cached (keys verified within ttl + stale_seconds keep working, others 503). Never fail-open.',
  }),
  lockout: record(
    {
      enabled: boolean({ default: true, description: 'Count invalid keys per client IP and lock out.' }),
      max_failures: integer({
        default: 10,
        between: [1, 10000],
        description: 'Invalid keys within window_seconds that lock the IP.',
      }),
      window_seconds: integer({
        default: 60,
        between: [1, 86400],
        description: 'Window in which failures are counted (starts at the first failure).',
      }),
      lockout_seconds: integer({
        default: 300,
        between: [1, 86400],
        description: 'How long a locked IP has its invalid keys refused with 429.',
      }),
    },
    {
      required: true,
      description:
        'Brute-force protection per client IP: repeated invalid keys lock the IP out (its invalid keys get 429); a valid key always works.',
    },
  ),
  trusted_proxies: trustedProxies(
    'CIDRs of proxies whose X-Forwarded-For / Forwarded is believed when finding the client IP for the lockout.',
  ),
  forwarded_header: forwardedHeader('Header the trusted proxies write the client chain to.'),
  redis: redis({
    description:
      'Redis of the redis store and of the lockout counters (mode none: declarative store, lockout counted in memory per plugin-server worker, so per worker and per node).',
    noneMeans: 'no Redis',
    keyPrefix: { default: 'bulwark-ak', description: 'Prefix of every key this plugin reads or writes in Redis.' },
  }),
});

/** The `Schema` export the plugin server dumps. */
export const Schema = kongSchema(ConfigFields);
