// The Kong schema of bulwark-api-key's config (dumped by the plugin server, validated by Kong's metaschema,
// ../../docs/kong-protocol.md §1.12). Every string and collection is bounded. What the schema language cannot say is checked
// in config.ts when the instance starts: the key prefix word rule, duplicate key ids and hashes, hashes made with
// a pepper when none is configured (or the reverse), store redis without a Redis, timestamps that do not parse.
import { redisSchemaField } from '../lib/redis-config';
import { MAX_PREFIX_LENGTH } from './key-format';
import { RECORD_LIMITS } from './key-record';

/** Keys the declarative store holds at most ("tens to a few thousand"; more belong in Redis). */
export const MAX_DECLARATIVE_KEYS = 10_000;

const HEADER_NAME = '^[%w%-]+$';
const TIMESTAMP = '^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%.%d]*Z$';
const TOKEN = '^[%w_%.%-:/]+$'; // scopes and labels: no spaces or control characters

const tokenSet = (what: string) => ({
  type: 'set',
  len_max: what === 'scopes' ? RECORD_LIMITS.scopes : RECORD_LIMITS.labels,
  default: [],
  elements: { type: 'string', len_min: 1, len_max: RECORD_LIMITS.entryLength, match: TOKEN },
  description:
    what === 'scopes'
      ? 'Scopes of the key, published to later plugins through the identity contract (bulwark.identity scopes).'
      : 'Labels (groups, roles, tenants) of the key, published through the identity contract as groups.',
});

const keyEntry = {
  type: 'record',
  fields: [
    {
      id: {
        type: 'string',
        required: true,
        len_max: 64,
        match: '^[%w_%.%-]+$',
        description: 'Stable, non-secret key id (logs, X-Credential-Identifier, the identity contract).',
      },
    },
    {
      hash: {
        type: 'string',
        required: true,
        len_max: 80,
        match: '^[%l%d%-]+:%x+$',
        description:
          'sha256:<hex> or hmac-sha256:<hex> of the full key, as the CLI (scripts/api-key.ts) prints it. Never the key itself.',
      },
    },
    {
      display_prefix: {
        type: 'string',
        len_max: RECORD_LIMITS.displayLength,
        match: '^[%w_]+$',
        description: 'The start of the key (prefix and 4 characters), for people.',
      },
    },
    {
      consumer: {
        type: 'string',
        len_max: RECORD_LIMITS.consumerLength,
        description: 'Kong consumer (id or username) the key authenticates as; unset: no consumer.',
      },
    },
    { scopes: tokenSet('scopes') },
    { labels: tokenSet('labels') },
    {
      not_before: {
        type: 'string',
        len_max: 32,
        match: TIMESTAMP,
        description: 'The key is refused before this time (ISO 8601 UTC, e.g. 2026-01-01T00:00:00Z).',
      },
    },
    {
      expires_at: {
        type: 'string',
        len_max: 32,
        match: TIMESTAMP,
        description: 'The key is refused from this time on (ISO 8601 UTC); rotation sets it to now + grace.',
      },
    },
    {
      disabled: {
        type: 'boolean',
        default: false,
        description: 'A disabled (revoked) key is refused, with its own reason in the log.',
      },
    },
    {
      metadata: {
        type: 'map',
        len_max: RECORD_LIMITS.metadataEntries,
        keys: { type: 'string', len_min: 1, len_max: RECORD_LIMITS.metadataKeyLength },
        values: { type: 'string', len_max: RECORD_LIMITS.metadataValueLength },
        description: 'Free-form string metadata (owner, ticket…), published as identity claims.',
      },
    },
    {
      created_at: {
        type: 'string',
        len_max: 32,
        match: TIMESTAMP,
        description: 'When the key was issued (informational, written by the CLI).',
      },
    },
  ],
};

export const Schema = [
  {
    key_prefixes: {
      type: 'set',
      required: true,
      len_min: 1,
      len_max: 8,
      default: ['bwk_live'],
      elements: { type: 'string', len_min: 2, len_max: MAX_PREFIX_LENGTH, match: '^%l[%l%d_]*[%l%d]$' },
      description:
        'Key prefixes this route accepts (one per environment, e.g. bwk_live): lower-case words joined by "_". A key of another prefix is refused without a lookup.',
    },
  },
  {
    store: {
      type: 'string',
      one_of: ['declarative', 'redis'],
      default: 'declarative',
      description:
        'declarative: the keys listed in `keys` (decK, GitOps). redis: records the CLI writes to `redis` (dynamic issuance at scale).',
    },
  },
  {
    keys: {
      type: 'array',
      len_max: MAX_DECLARATIVE_KEYS,
      default: [],
      elements: keyEntry,
      description:
        'The declarative store: hashed keys with their attributes (scripts/api-key.ts issue --store declarative prints an entry).',
    },
  },
  {
    pepper: {
      type: 'string',
      len_max: 1024,
      referenceable: true,
      encrypted: true,
      description:
        'Secret for HMAC-SHA-256 key hashes (at least 32 characters), best a vault reference {vault://env/...}; unset: plain SHA-256.',
    },
  },
  {
    key_names: {
      type: 'array',
      len_max: 8,
      default: ['x-api-key', 'apikey'],
      elements: { type: 'string', len_min: 1, len_max: 64, match: HEADER_NAME },
      description: 'Request headers (and, with key_in_query, query parameters) that may carry the key.',
    },
  },
  {
    authorization_scheme: {
      type: 'string',
      len_max: 32,
      match: HEADER_NAME,
      description:
        'Also read `Authorization: <scheme> <key>` with this scheme (e.g. ApiKey or Bearer); unset: Authorization is left alone.',
    },
  },
  {
    key_in_query: {
      type: 'boolean',
      default: false,
      description: 'Also read query parameters named in key_names (off: query strings end up in access logs).',
    },
  },
  {
    hide_credentials: {
      type: 'boolean',
      default: true,
      description:
        'Remove the key (every spelling of its header, the Authorization header, the query parameter) before proxying.',
    },
  },
  {
    anonymous: {
      type: 'string',
      len_max: 128,
      description: 'Consumer (id or username) used when authentication fails, as Kong key-auth; unset: refuse.',
    },
  },
  {
    run_on_preflight: {
      type: 'boolean',
      default: true,
      description: 'Authenticate OPTIONS preflight requests too (false: let them through, as Kong key-auth).',
    },
  },
  {
    realm: {
      type: 'string',
      default: 'kong',
      len_max: 64,
      match: '^[%w%.%-_ ]+$',
      description: 'Realm of the `WWW-Authenticate: Key realm="..."` challenge on 401.',
    },
  },
  {
    required_scopes: {
      type: 'set',
      len_max: 32,
      default: [],
      elements: { type: 'string', len_min: 1, len_max: RECORD_LIMITS.entryLength, match: TOKEN },
      description: 'Scopes a key must have, all of them, on this route; a valid key without them gets 403.',
    },
  },
  {
    cache: {
      type: 'record',
      required: true,
      description: 'In-memory caches in front of the Redis store (the declarative store is memory already).',
      fields: [
        {
          ttl_seconds: {
            type: 'integer',
            default: 10,
            between: [1, 3600],
            description: 'A found key is reused this long: a revoked key stops working within it.',
          },
        },
        {
          negative_ttl_seconds: {
            type: 'integer',
            default: 10,
            between: [0, 3600],
            description: 'An unknown (checksum-valid) key is refused this long without asking Redis again.',
          },
        },
        {
          stale_seconds: {
            type: 'integer',
            default: 300,
            between: [0, 86400],
            description:
              'With on_store_error serve-cached: how long past ttl a cached key still works while Redis is down.',
          },
        },
        {
          max_entries: {
            type: 'integer',
            default: 10000,
            between: [100, 1000000],
            description: 'Entries kept in each cache (positive, negative) per plugin-server process.',
          },
        },
      ],
    },
  },
  {
    on_store_error: {
      type: 'string',
      one_of: ['fail-closed', 'serve-cached'],
      default: 'fail-closed',
      description:
        'Redis unreachable: fail-closed (503) or serve-cached (keys verified within ttl + stale_seconds keep working, others 503). Never fail-open.',
    },
  },
  {
    lockout: {
      type: 'record',
      required: true,
      description:
        'Brute-force protection per client IP: repeated invalid keys lock the IP out (its invalid keys get 429); a valid key always works.',
      fields: [
        { enabled: { type: 'boolean', default: true, description: 'Count invalid keys per client IP and lock out.' } },
        {
          max_failures: {
            type: 'integer',
            default: 10,
            between: [1, 10000],
            description: 'Invalid keys within window_seconds that lock the IP.',
          },
        },
        {
          window_seconds: {
            type: 'integer',
            default: 60,
            between: [1, 86400],
            description: 'Window in which failures are counted (starts at the first failure).',
          },
        },
        {
          lockout_seconds: {
            type: 'integer',
            default: 300,
            between: [1, 86400],
            description: 'How long a locked IP has its invalid keys refused with 429.',
          },
        },
      ],
    },
  },
  {
    trusted_proxies: {
      type: 'array',
      len_max: 64,
      default: [],
      elements: { type: 'string', len_max: 64 },
      description:
        'CIDRs of proxies whose X-Forwarded-For / Forwarded is believed when finding the client IP for the lockout.',
    },
  },
  {
    forwarded_header: {
      type: 'string',
      one_of: ['x-forwarded-for', 'forwarded'],
      default: 'x-forwarded-for',
      description: 'Header the trusted proxies write the client chain to.',
    },
  },
  {
    redis: redisSchemaField(
      'Redis of the redis store and of the lockout counters (mode none: declarative store, lockout counted in memory per node).',
      'bulwark-ak',
    ),
  },
];
