// bulwark-audit's `abuse` config record (lib/fields.ts): one record per detector with its thresholds, window, TTL
// and action, plus where counters live (`redis`) and what a banned client gets. Detectors are described in
// detectors.ts and the plugin README; every default is stated there.
import { boolean, integer, record, string } from '../../lib/fields';
import { redis } from '../../lib/typedefs';

const DAY_SECONDS = 86_400;

const action = (dflt: 'monitor' | 'block') =>
  string({
    one_of: ['monitor', 'block'],
    default: dflt,
    description:
      'monitor: a trip is a security event only. block: the client IP of the tripping request is banned for ttl_seconds.',
  });
const windowSeconds = (dflt: number) =>
  integer({ default: dflt, between: [1, DAY_SECONDS], description: 'Length of the sliding window, in seconds.' });
const ttlSeconds = (dflt: number) =>
  integer({
    default: dflt,
    between: [1, 7 * DAY_SECONDS],
    description:
      'How long a trip lasts: the ban of a blocked IP, and the time during which the subject does not trip again.',
  });
const enabled = (dflt: boolean) => boolean({ default: dflt, description: 'Whether this detector counts at all.' });

const countDetector = (
  what: string,
  about: string,
  d: { threshold: number; window: number; ttl: number; action: 'monitor' | 'block' },
) =>
  record(
    {
      enabled: enabled(true),
      action: action(d.action),
      threshold: integer({
        default: d.threshold,
        between: [1, 1_000_000],
        description: `Trips at this many ${what} within the window (sliding count).`,
      }),
      window_seconds: windowSeconds(d.window),
      ttl_seconds: ttlSeconds(d.ttl),
    },
    { required: true, description: about },
  );

const shareFields = (d: { share: number; min: number; window: number; ttl: number; action: 'monitor' | 'block' }) => ({
  enabled: enabled(true),
  action: action(d.action),
  share_percent: integer({
    default: d.share,
    between: [1, 100],
    description: 'Trips when the counted requests reach this percentage of the total within the window...',
  }),
  min_requests: integer({
    default: d.min,
    between: [1, 10_000_000],
    description: '...and the total has reached this many requests (a share of a handful of requests means nothing).',
  }),
  window_seconds: windowSeconds(d.window),
  ttl_seconds: ttlSeconds(d.ttl),
});

const distinctDetector = (
  what: string,
  about: string,
  d: { threshold: number; window: number; ttl: number; action: 'monitor' | 'block' },
) =>
  record(
    {
      enabled: enabled(true),
      action: action(d.action),
      threshold: integer({
        default: d.threshold,
        between: [2, 100_000],
        description: `Trips at this many distinct ${what} (seen in the current and the previous window).`,
      }),
      window_seconds: windowSeconds(d.window),
      ttl_seconds: ttlSeconds(d.ttl),
    },
    { required: true, description: about },
  );

export const DEFAULT_ABUSE_KEY_PREFIX = 'bulwark-abuse';

export const AbuseField = record(
  {
    enabled: boolean({
      default: false,
      description:
        'Abuse detection with temporary bans: the detectors below count in the log phase; the access phase refuses banned clients.',
    }),
    block_status: integer({
      one_of: [403, 429],
      default: 403,
      description: 'Status a banned client gets (403 Forbidden, or 429 Too Many Requests with Retry-After).',
    }),
    ban_cache_ms: integer({
      default: 1000,
      between: [0, 60_000],
      description:
        'How long this node trusts a "not banned" answer from Redis for one IP; a ban set on another node is enforced here within this time. Bans are cached until they end.',
    }),
    on_redis_error: string({
      one_of: ['local', 'fail-closed'],
      default: 'local',
      description:
        "When Redis fails: local (count and ban in this node's memory; bans known here stay enforced) or fail-closed (the access phase answers 503).",
    }),
    max_entries: integer({
      default: 100_000,
      between: [100, 10_000_000],
      description: 'Bound of each in-memory table (counters, distinct sets, bans, cached answers) per configuration.',
    }),
    failed_auth_ip: countDetector(
      'requests refused with 401 from one client IP',
      "Failed authentications (a Bulwark plugin's 401) per client IP, as GitLab's 30 in 3 minutes → 1 hour ban.",
      {
        threshold: 30,
        window: 180,
        ttl: 3600,
        action: 'block',
      },
    ),
    failed_auth_credential: countDetector(
      'requests refused with 401 for one credential prefix (all IPs)',
      'Failed authentications per credential prefix over all IPs: stuffing spread over many addresses; bans each IP that adds to it.',
      {
        threshold: 100,
        window: 180,
        ttl: 3600,
        action: 'block',
      },
    ),
    error_share: record(
      {
        ...shareFields({ share: 50, min: 20, window: 300, ttl: 3600, action: 'monitor' }),
        statuses: string({
          one_of: ['4xx', '403'],
          default: '4xx',
          description:
            "Which responses count as errors: every 4xx (Apigee's Brute Guessor) or only 403 (Robot Abuser).",
        }),
      },
      {
        required: true,
        description: "Share of 4xx (or 403) responses per principal, as Apigee's Brute Guessor and Robot Abuser.",
      },
    ),
    flooder: record(shareFields({ share: 50, min: 1000, window: 60, ttl: 600, action: 'monitor' }), {
      required: true,
      description: "Share of all requests sent by one client IP, as Apigee's Flooder.",
    }),
    bola: distinctDetector(
      'object ids per principal and operation',
      'Distinct object ids per principal and operation (BOLA enumeration: walking /orders/1, /orders/2, ...).',
      {
        threshold: 100,
        window: 300,
        ttl: 3600,
        action: 'monitor',
      },
    ),
    user_agents: distinctDetector(
      'User-Agent values per credential',
      'Distinct User-Agent values per credential (a key shared or stolen).',
      {
        threshold: 10,
        window: 3600,
        ttl: 3600,
        action: 'monitor',
      },
    ),
    redis: redis({
      description:
        'Redis holding the abuse counters and bans (every Kong node agrees). mode none: counted in memory per node.',
      noneMeans: 'no Redis',
      afterTimeout: 'past it the request follows on_redis_error',
      keyPrefix: {
        default: DEFAULT_ABUSE_KEY_PREFIX,
        description: 'Prefix of every key this plugin reads or writes in Redis.',
      },
    }),
  },
  {
    required: true,
    description: 'Abuse detection with temporary bans (plugins/bulwark-audit/abuse/README.md).',
  },
);
