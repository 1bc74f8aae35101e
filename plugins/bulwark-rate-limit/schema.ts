// The Kong schema of bulwark-rate-limit's config (dumped by the plugin server, validated by Kong's metaschema,
// ../../docs/kong-protocol.md §1.12). Records are `required` so Kong fills their nested defaults. Kong refuses at the
// Admin
// API (and decK) whatever this schema says: field syntax, bounds on every string and array, the time zone name,
// and the rules inside one record (entity_checks: window_seconds XOR calendar, calendar vs algorithm/burst, redis
// mode needs its nodes). What it cannot say is checked in config.ts when the instance starts (and by
// scripts/validate-config.ts before deployment): rules across top-level fields (header_name when limiting by
// header, burst with the plugin-wide algorithm), duplicate limit names, CIDR host bits.
import { TIME_ZONE_NAMES } from './time-zones';

const NAME_PATTERN = '^[%w_%.%-]+$'; // Lua pattern: policy names go into header names and structured-field strings
const HEADER_NAME_PATTERN = '^[%w%-]+$';
const METHOD_PATTERN = '^%u+$';
const PEM_CERTIFICATE = '%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-';
const HOST_PATTERN = '^[%w%.%-_:]+$'; // names and IP addresses (IPv6 without brackets)

const address = (what: string) => ({
  type: 'record',
  fields: [
    { host: { type: 'string', required: true, len_max: 255, match: HOST_PATTERN, description: `Host name or IP address of a ${what}.` } },
    { port: { type: 'integer', required: true, between: [1, 65535], description: `TCP port of the ${what}.` } },
  ],
});

export const Schema = [
  {
    limits: {
      type: 'array',
      required: true,
      len_min: 1,
      len_max: 8,
      description:
        'The limits applied to every request; a request is admitted only if every limit admits it, and then it counts against all of them (decided in one Redis round trip).',
      elements: {
        type: 'record',
        fields: [
          {
            name: {
              type: 'string',
              required: true,
              len_max: 32,
              match: NAME_PATTERN,
              description: 'Policy name: used in the RateLimit-Policy/RateLimit headers, in X-RateLimit-*-<name> and in the counter key.',
            },
          },
          {
            limit: {
              type: 'integer',
              required: true,
              between: [1, 1000000000],
              description: 'Units (requests, or weighted cost) admitted per window; for gcra the sustained rate is limit per window.',
            },
          },
          {
            window_seconds: {
              type: 'integer',
              between: [1, 31536000],
              description: 'Length of the window in seconds (1 = per second, 3600 = per hour). Exactly one of window_seconds and calendar.',
            },
          },
          {
            calendar: {
              type: 'string',
              one_of: ['day', 'month'],
              description:
                'A calendar quota instead of a rolling window: the count resets at local midnight (day) or on the 1st of the month (month) in time_zone.',
            },
          },
          {
            algorithm: {
              type: 'string',
              one_of: ['sliding-window', 'gcra', 'fixed-window'],
              description: 'Algorithm of this limit; unset = the plugin-wide algorithm. Calendar quotas always count per period.',
            },
          },
          {
            burst: {
              type: 'integer',
              between: [1, 1000000000],
              description: 'gcra only: units a client may send back to back (bucket size). Unset = limit.',
            },
          },
        ],
        entity_checks: [
          { only_one_of: ['window_seconds', 'calendar'] },
          // A calendar quota counts per period (fixed-window); a burst belongs to gcra only.
          {
            conditional: {
              if_field: 'calendar', if_match: { ne: null },
              then_field: 'algorithm', then_match: { one_of: ['fixed-window'] },
              then_err: 'a calendar quota counts per period: leave algorithm unset or use fixed-window',
            },
          },
          { conditional: { if_field: 'calendar', if_match: { ne: null }, then_field: 'burst', then_match: { eq: null }, then_err: 'burst applies to the gcra algorithm only; a calendar quota has no burst' } },
          {
            conditional: {
              // `required`: a null if_field passes a bare if_match (init.lua validate_field), and an unset algorithm
              // means the plugin-wide one, which this record cannot see (config.ts checks that case).
              if_field: 'algorithm', if_match: { one_of: ['sliding-window', 'fixed-window'], required: true },
              then_field: 'burst', then_match: { eq: null }, then_err: 'burst applies to the gcra algorithm only',
            },
          },
        ],
      },
    },
  },
  {
    algorithm: {
      type: 'string',
      one_of: ['sliding-window', 'gcra', 'fixed-window'],
      default: 'sliding-window',
      description:
        'Default algorithm: sliding-window (smooth, no boundary doubling), gcra (token bucket with burst, exact) or fixed-window (Kong-compatible).',
    },
  },
  {
    time_zone: {
      type: 'string',
      default: 'UTC',
      one_of: [...TIME_ZONE_NAMES],
      err: 'expected an IANA time zone name such as UTC or Europe/Paris',
      description: 'IANA time zone (e.g. Europe/Paris) in which calendar day and month quotas reset.',
    },
  },
  {
    limit_by: {
      type: 'array',
      len_min: 1,
      len_max: 4,
      default: ['consumer'],
      elements: { type: 'string', one_of: ['consumer', 'credential', 'ip', 'header', 'path', 'service', 'route', 'jwt-claim'] },
      description:
        'What identifies a client; several entries make a compound key (e.g. consumer + path). A part that cannot be resolved is replaced by the client IP.',
    },
  },
  {
    header_name: {
      type: 'string',
      len_max: 128,
      match: HEADER_NAME_PATTERN,
      description: 'Request header whose value identifies the client when limit_by contains header.',
    },
  },
  {
    jwt_claim: {
      type: 'string',
      len_max: 128,
      description:
        'Claim (dotted path, e.g. tenant.id) identifying the client when limit_by contains jwt-claim; read from the claims bulwark-jwt leaves in kong.ctx.shared.',
    },
  },
  {
    jwt_claim_header: {
      type: 'string',
      len_max: 128,
      match: HEADER_NAME_PATTERN,
      description:
        'Read the jwt-claim value from this request header instead of kong.ctx.shared (only if the plugin that verified the token sets it and clients cannot).',
    },
  },
  {
    trusted_proxies: {
      type: 'array',
      len_max: 256,
      elements: { type: 'string', len_max: 64, match: '^[%x%.:]+/?%d*$' },
      default: [],
      description:
        'CIDRs of proxies in front of Kong whose forwarding header is believed when resolving the client IP. Empty: the connection peer is the client.',
    },
  },
  {
    forwarded_header: {
      type: 'string',
      one_of: ['x-forwarded-for', 'forwarded'],
      default: 'x-forwarded-for',
      description: 'Header the trusted proxies use to pass the client address: X-Forwarded-For or RFC 7239 Forwarded.',
    },
  },
  {
    cost: {
      type: 'record',
      required: true,
      description: 'Units a request consumes: by route (name or id) first, then by method, else the default.',
      fields: [
        { default: { type: 'integer', default: 1, between: [0, 1000000], description: 'Units consumed by a request no other rule matches.' } },
        {
          by_method: {
            type: 'map',
            len_max: 64,
            keys: { type: 'string', len_max: 32, match: METHOD_PATTERN },
            values: { type: 'integer', between: [0, 1000000] },
            default: {},
            description: 'Units per HTTP method (upper case), e.g. {"POST": 5}.',
          },
        },
        {
          by_route: {
            type: 'map',
            len_max: 1024,
            keys: { type: 'string', len_max: 128 },
            values: { type: 'integer', between: [0, 1000000] },
            default: {},
            description: 'Units per route name or id, e.g. {"search": 10}; wins over by_method.',
          },
        },
      ],
    },
  },
  {
    namespace: {
      type: 'string',
      len_max: 64,
      match: NAME_PATTERN,
      description:
        'Counter namespace. Unset: the plugin entity id, so each plugin config counts on its own. Equal namespaces share counters across configs.',
    },
  },
  { ietf_headers: { type: 'boolean', default: true, description: 'Send the IETF RateLimit-Policy and RateLimit response headers.' } },
  {
    legacy_headers: {
      type: 'boolean',
      default: false,
      description: "Also send Kong's X-RateLimit-Limit-<name>, X-RateLimit-Remaining-<name> and RateLimit-Limit/-Remaining/-Reset.",
    },
  },
  {
    hide_client_headers: {
      type: 'boolean',
      default: false,
      description: 'Send no rate-limit headers at all (Retry-After included), as Kong rate-limiting hide_client_headers.',
    },
  },
  { error_code: { type: 'integer', default: 429, between: [400, 599], description: 'Status of the response to a refused request.' } },
  {
    error_message: {
      type: 'string',
      default: 'API rate limit exceeded',
      len_max: 256,
      description: 'Message of the JSON body {"message": ...} of a refused request.',
    },
  },
  {
    on_redis_error: {
      type: 'string',
      one_of: ['fail-closed', 'local-fallback', 'fail-open'],
      default: 'local-fallback',
      description:
        'When Redis fails: fail-closed (503), local-fallback (limit per node in memory, limit / expected_nodes) or fail-open (admit without limits).',
    },
  },
  {
    expected_nodes: {
      type: 'integer',
      default: 1,
      between: [1, 1000],
      description: 'Number of Kong nodes sharing the limits; with local-fallback each node admits limit / expected_nodes.',
    },
  },
  {
    circuit_breaker: {
      type: 'record',
      required: true,
      description: 'Stops calling a failing Redis so an outage does not cost a timeout per request; one probe request per open period.',
      fields: [
        {
          failure_threshold: {
            type: 'integer',
            default: 3,
            between: [1, 1000],
            description: 'Consecutive Redis failures that open the breaker.',
          },
        },
        {
          open_seconds: {
            type: 'integer',
            default: 5,
            between: [1, 300],
            description: 'Seconds the breaker stays open before one request probes Redis again.',
          },
        },
      ],
    },
  },
  {
    redis: {
      type: 'record',
      required: true,
      description: 'Where counters live. mode none: in-memory on each node (single node, tests, npm run gateway).',
      fields: [
        {
          mode: {
            type: 'string',
            one_of: ['none', 'standalone', 'sentinel', 'cluster'],
            default: 'none',
            description: 'none (in-memory), standalone (host/port), sentinel (sentinel_nodes + sentinel_master) or cluster (cluster_nodes).',
          },
        },
        { host: { type: 'string', default: '127.0.0.1', len_max: 255, match: HOST_PATTERN, description: 'Redis host for standalone mode.' } },
        { port: { type: 'integer', default: 6379, between: [1, 65535], description: 'Redis port for standalone mode.' } },
        { database: { type: 'integer', default: 0, between: [0, 15], description: 'Redis database number (not used in cluster mode).' } },
        {
          username: {
            type: 'string',
            len_max: 256,
            referenceable: true,
            description: 'ACL user name (Redis 6+). Unset: the default user. May be a vault reference.',
          },
        },
        {
          password: {
            type: 'string',
            len_max: 1024,
            referenceable: true,
            encrypted: true,
            description: 'Password of the ACL user (or requirepass). May be a vault reference, e.g. {vault://env/redis-password}.',
          },
        },
        { sentinel_master: { type: 'string', len_max: 255, description: 'Name of the master group the sentinels watch (sentinel mode).' } },
        {
          sentinel_nodes: {
            type: 'array',
            len_max: 16,
            default: [],
            elements: address('Redis Sentinel'),
            description: 'Sentinel addresses (sentinel mode).',
          },
        },
        { sentinel_username: { type: 'string', len_max: 256, referenceable: true, description: 'ACL user for the sentinels, if they require one.' } },
        {
          sentinel_password: {
            type: 'string',
            len_max: 1024,
            referenceable: true,
            encrypted: true,
            description: 'Password for the sentinels, if they require one. May be a vault reference.',
          },
        },
        {
          cluster_nodes: {
            type: 'array',
            len_max: 64,
            default: [],
            elements: address('Redis Cluster node'),
            description: 'Seed nodes of the Redis Cluster (cluster mode); the rest are discovered.',
          },
        },
        { ssl: { type: 'boolean', default: false, description: 'Connect to Redis (and sentinels) over TLS.' } },
        { ssl_verify: { type: 'boolean', default: true, description: "Verify the Redis server's TLS certificate and host name." } },
        { server_name: { type: 'string', len_max: 255, match: HOST_PATTERN, description: 'TLS server name (SNI and verification); unset: the host.' } },
        {
          ssl_ca_certificate: {
            type: 'string',
            len_max: 262144,
            match: PEM_CERTIFICATE,
            err: 'expected PEM certificate(s) (-----BEGIN CERTIFICATE-----)',
            description: 'PEM CA certificate(s) to verify Redis with, instead of the system trust store.',
          },
        },
        {
          connect_timeout_ms: {
            type: 'integer',
            default: 1000,
            between: [10, 10000],
            description: 'Connection timeout to Redis in milliseconds (at most 10 s).',
          },
        },
        {
          timeout_ms: {
            type: 'integer',
            default: 500,
            between: [10, 10000],
            description: 'Longest wait for a Redis decision in milliseconds (at most 10 s, well inside Kong\'s 60 s wait for a plugin step); past it the request follows on_redis_error.',
          },
        },
        {
          key_prefix: {
            type: 'string',
            default: 'bulwark-rl',
            len_max: 64,
            match: NAME_PATTERN,
            description: 'Prefix of every counter key in Redis.',
          },
        },
      ],
      entity_checks: [
        { conditional: { if_field: 'mode', if_match: { eq: 'sentinel' }, then_field: 'sentinel_master', then_match: { required: true } } },
        { conditional: { if_field: 'mode', if_match: { eq: 'sentinel' }, then_field: 'sentinel_nodes', then_match: { len_min: 1 } } },
        { conditional: { if_field: 'mode', if_match: { eq: 'cluster' }, then_field: 'cluster_nodes', then_match: { len_min: 1 } } },
      ],
    },
  },
];
