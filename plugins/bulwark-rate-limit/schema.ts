// The Kong schema of bulwark-rate-limit's config (dumped by the plugin server, validated by Kong's metaschema,
// ../../docs/kong-protocol.md §1.12). Records are `required` so Kong fills their nested defaults. Kong refuses at the
// Admin
// API (and decK) whatever this schema says: field syntax, bounds on every string and array, the time zone name,
// and the rules inside one record (entity_checks: window_seconds XOR calendar, calendar vs algorithm/burst, redis
// mode needs its nodes). What it cannot say is checked in config.ts when the instance starts (and by
// scripts/validate-config.ts before deployment): rules across top-level fields (header_name when limiting by
// header, burst with the plugin-wide algorithm), duplicate limit names, CIDR host bits.
import { array, boolean, configFields, integer, kongSchema, map, record, refine, string } from '../lib/fields';
import { forwardedHeader, headerName, redis, safeName, trustedProxies } from '../lib/typedefs';
import { isValidTimeZone } from './calendar';
import { IDENTITY_SOURCES } from './identity';
import { TIME_ZONE_NAMES } from './time-zones';

const METHOD_PATTERN = '^%u+$';
// Policy names go into header names and structured-field strings: typedefs.safeName.

export const ALGORITHMS = ['sliding-window', 'gcra', 'fixed-window'] as const;

const limit = record(
  {
    name: safeName({
      required: true,
      len_max: 32,
      description:
        'Policy name: used in the RateLimit-Policy/RateLimit headers, in X-RateLimit-*-<name> and in the counter key.',
    }),
    limit: integer({
      required: true,
      between: [1, 1000000000],
      description:
        'Units (requests, or weighted cost) admitted per window; for gcra the sustained rate is limit per window.',
    }),
    window_seconds: integer({
      between: [1, 31536000],
      description:
        'Length of the window in seconds (1 = per second, 3600 = per hour). Exactly one of window_seconds and calendar.',
    }),
    calendar: string({
      one_of: ['day', 'month'],
      description:
        'A calendar quota instead of a rolling window: the count resets at local midnight (day) or on the 1st of the month (month) in time_zone.',
    }),
    algorithm: string({
      one_of: ALGORITHMS,
      description:
        'Algorithm of this limit; unset = the plugin-wide algorithm. Calendar quotas always count per period.',
    }),
    burst: integer({
      between: [1, 1000000000],
      description: 'gcra only: units a client may send back to back (bucket size). Unset = limit.',
    }),
  },
  {
    entity_checks: [
      { only_one_of: ['window_seconds', 'calendar'] },
      // A calendar quota counts per period (fixed-window); a burst belongs to gcra only.
      {
        conditional: {
          if_field: 'calendar',
          if_match: { ne: null },
          then_field: 'algorithm',
          then_match: { one_of: ['fixed-window'] },
          then_err: 'a calendar quota counts per period: leave algorithm unset or use fixed-window',
        },
      },
      {
        conditional: {
          if_field: 'calendar',
          if_match: { ne: null },
          then_field: 'burst',
          then_match: { eq: null },
          then_err: 'burst applies to the gcra algorithm only; a calendar quota has no burst',
        },
      },
      {
        conditional: {
          // `required`: a null if_field passes a bare if_match (init.lua validate_field), and an unset algorithm
          // means the plugin-wide one, which this record cannot see (config.ts checks that case).
          if_field: 'algorithm',
          if_match: { one_of: ['sliding-window', 'fixed-window'], required: true },
          then_field: 'burst',
          then_match: { eq: null },
          then_err: 'burst applies to the gcra algorithm only',
        },
      },
    ],
  },
);

const cost = integer({ between: [0, 1000000] });

export const ConfigFields = configFields({
  limits: array(limit, {
    required: true,
    len_min: 1,
    len_max: 8,
    description:
      'The limits applied to every request; a request is admitted only if every limit admits it, and then it counts against all of them (decided in one Redis round trip).',
  }),
  algorithm: string({
    one_of: ALGORITHMS,
    default: 'sliding-window',
    description:
      'Default algorithm: sliding-window (smooth, no boundary doubling), gcra (token bucket with burst, exact) or fixed-window (Kong-compatible).',
  }),
  time_zone: refine(
    string({
      default: 'UTC',
      one_of: TIME_ZONE_NAMES,
      err: 'expected an IANA time zone name such as UTC or Europe/Paris',
      description: 'IANA time zone (e.g. Europe/Paris) in which calendar day and month quotas reset.',
    }),
    (v) => (isValidTimeZone(v) ? undefined : `unknown time zone "${v}"`),
  ),
  limit_by: array(string({ one_of: IDENTITY_SOURCES }), {
    len_min: 1,
    len_max: 4,
    default: ['consumer'],
    description:
      'What identifies a client; several entries make a compound key (e.g. consumer + path). A part that cannot be resolved is replaced by the client IP.',
  }),
  header_name: headerName('Request header whose value identifies the client when limit_by contains header.'),
  jwt_claim: refine(
    string({
      len_max: 128,
      description:
        'Claim (dotted path, e.g. tenant.id) identifying the client when limit_by contains jwt-claim; read from the caller identity (kong.ctx.shared "bulwark.identity": bulwark-jwt identity.claims, sub, iss).',
    }),
    (v) => (/^[^.\s]+(\.[^.\s]+)*$/.test(v) ? undefined : 'expected a claim name or dotted path'),
  ),
  jwt_claim_header: headerName(
    'Read the jwt-claim value from this request header instead of the caller identity, for a token verified by a non-Bulwark plugin (only if that plugin sets the header and clients cannot).',
  ),
  trusted_proxies: trustedProxies(
    'CIDRs of proxies in front of Kong whose forwarding header is believed when resolving the client IP. Empty: the connection peer is the client.',
  ),
  forwarded_header: forwardedHeader(
    'Header the trusted proxies use to pass the client address: X-Forwarded-For or RFC 7239 Forwarded.',
  ),
  cost: record(
    {
      default: integer({
        default: 1,
        between: [0, 1000000],
        description: 'Units consumed by a request no other rule matches.',
      }),
      by_method: map(
        refine(string({ len_max: 32, match: METHOD_PATTERN }), (v) =>
          /^[A-Z]+$/.test(v) ? undefined : 'expected an upper-case HTTP method',
        ),
        cost,
        { len_max: 64, default: {}, description: 'Units per HTTP method (upper case), e.g. {"POST": 5}.' },
      ),
      by_route: map(string({ len_max: 128 }), cost, {
        len_max: 1024,
        default: {},
        description: 'Units per route name or id, e.g. {"search": 10}; wins over by_method.',
      }),
    },
    {
      required: true,
      description: 'Units a request consumes: by route (name or id) first, then by method, else the default.',
    },
  ),
  namespace: safeName({
    len_max: 64,
    description:
      'Counter namespace. Unset: the plugin entity id, so each plugin config counts on its own. Equal namespaces share counters across configs.',
  }),
  ietf_headers: boolean({
    default: true,
    description: 'Send the IETF RateLimit-Policy and RateLimit response headers.',
  }),
  legacy_headers: boolean({
    default: false,
    description:
      "Also send Kong's X-RateLimit-Limit-<name>, X-RateLimit-Remaining-<name> and RateLimit-Limit/-Remaining/-Reset.",
  }),
  hide_client_headers: boolean({
    default: false,
    description: 'Send no rate-limit headers at all (Retry-After included), as Kong rate-limiting hide_client_headers.',
  }),
  error_code: integer({
    default: 429,
    between: [400, 599],
    description: 'Status of the response to a refused request.',
  }),
  error_message: string({
    default: 'API rate limit exceeded',
    len_max: 256,
    description: 'Message of the JSON body {"message": ...} of a refused request.',
  }),
  on_redis_error: string({
    one_of: ['fail-closed', 'local-fallback', 'fail-open'],
    default: 'local-fallback',
    description:
      'When Redis fails: fail-closed (503), local-fallback (in memory, limit / expected_nodes per plugin-server worker: N workers admit N times that per node) or fail-open (admit without limits).',
  }),
  expected_nodes: integer({
    default: 1,
    between: [1, 1000],
    description:
      'Number of Kong nodes sharing the limits; with local-fallback each node admits limit / expected_nodes.',
  }),
  circuit_breaker: record(
    {
      failure_threshold: integer({
        default: 3,
        between: [1, 1000],
        description: 'Consecutive Redis failures that open the breaker.',
      }),
      open_seconds: integer({
        default: 5,
        between: [1, 300],
        description: 'Seconds the breaker stays open before one request probes Redis again.',
      }),
    },
    {
      required: true,
      description:
        'Stops calling a failing Redis so an outage does not cost a timeout per request; one probe request per open period.',
    },
  ),
  redis: redis({
    description:
      'Where counters live. mode none: in memory in each plugin-server worker, so the limit is per worker (bulwark-pluginserver --workers N admits up to N × limit per node; tests, npm run gateway); a Redis mode gives one limit across every worker and node.',
    noneMeans: 'in-memory',
    afterTimeout: 'past it the request follows on_redis_error',
    keyPrefix: { default: 'bulwark-rl', description: 'Prefix of every counter key in Redis.' },
  }),
});

/** The `Schema` export the plugin server dumps. */
export const Schema = kongSchema(ConfigFields);
