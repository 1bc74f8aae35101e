// bulwark-rate-limit's config: the fields declared in schema.ts, read by lib/fields.ts, → a typed, precomputed
// form. Only rules across fields and precomputation (counter keys, RPC needs) are here; a ConfigError names the
// field and stops the instance from starting (Kong then answers 500: fail closed).
import { ConfigError } from '../lib/config';
import { readConfig, type Infer } from '../lib/fields';
import { CidrList } from '../lib/ip';
import type { ForwardedHeaderKind } from '../lib/client-ip';
import { redisSettingsKey, type RedisSettings } from '../lib/redis';
import { redisSettings } from '../lib/typedefs';
import type { Algorithm } from './algorithms';
import type { CalendarPeriod } from './calendar';
import type { IdentitySource } from './identity';
import { ConfigFields } from './schema';

export type OutagePolicy = 'fail-closed' | 'local-fallback' | 'fail-open';
export { ALGORITHMS } from './schema';

export interface LimitPolicy {
  name: string;
  limit: number;
  algorithm: Algorithm;
  /** Rolling windows; for calendar quotas the nominal length (a day; 31 days for a month) used by nothing but docs. */
  windowMs: number;
  /** gcra bucket size (= limit unless set). */
  burst: number;
  calendar?: CalendarPeriod;
  /** Distinguishes counters whose semantics differ (changing the window or algorithm starts a fresh counter). */
  keySuffix: string;
}

export interface CostRules {
  default: number;
  byMethod: ReadonlyMap<string, number>;
  byRoute: ReadonlyMap<string, number>;
}

export interface RateLimitConfig {
  limits: LimitPolicy[];
  timeZone: string;
  limitBy: IdentitySource[];
  headerName?: string;
  jwtClaim?: string;
  jwtClaimHeader?: string;
  trustedProxies: CidrList;
  forwardedHeader: ForwardedHeaderKind;
  cost: CostRules;
  namespace: string;
  ietfHeaders: boolean;
  legacyHeaders: boolean;
  hideClientHeaders: boolean;
  errorCode: number;
  errorMessage: string;
  onRedisError: OutagePolicy;
  expectedNodes: number;
  breaker: { failureThreshold: number; openMs: number };
  /** undefined: in-memory counters (redis.mode none). */
  redis?: RedisSettings;
  redisKey?: string;
  keyPrefix: string;
  /** What the handler must fetch over RPC (decided once here). */
  needs: {
    headers: boolean;
    method: boolean;
    route: boolean;
    service: boolean;
    path: boolean;
    consumer: boolean;
    credential: boolean;
    identity: boolean;
  };
}

type RawConfig = Infer<typeof ConfigFields>;

function parseLimits(list: RawConfig['limits'], defaultAlgorithm: Algorithm): LimitPolicy[] {
  const seen = new Set<string>();
  return list.map((r, i) => {
    const at = (key: string): string => `limits[${i}].${key}`;
    const { name, limit } = r;
    if (seen.has(name.toLowerCase()))
      throw new ConfigError(at('name'), `duplicate limit name "${name}" (names are case-insensitive)`);
    seen.add(name.toLowerCase());
    const windowSeconds = r.window_seconds;
    const calendar: CalendarPeriod | undefined = r.calendar;
    if ((windowSeconds === undefined) === (calendar === undefined)) {
      throw new ConfigError(at('window_seconds'), 'set exactly one of window_seconds and calendar');
    }
    const explicitAlgorithm = r.algorithm;
    if (calendar !== undefined && explicitAlgorithm !== undefined && explicitAlgorithm !== 'fixed-window') {
      throw new ConfigError(
        at('algorithm'),
        'a calendar quota counts per period: leave algorithm unset or use fixed-window',
      );
    }
    const algorithm: Algorithm = calendar !== undefined ? 'fixed-window' : (explicitAlgorithm ?? defaultAlgorithm);
    if (r.burst !== undefined && algorithm !== 'gcra')
      throw new ConfigError(at('burst'), 'burst applies to the gcra algorithm only');
    const windowMs =
      windowSeconds !== undefined ? windowSeconds * 1000 : calendar === 'day' ? 86_400_000 : 31 * 86_400_000;
    const burst = r.burst ?? limit;
    const algoTag = algorithm === 'sliding-window' ? 'sw' : algorithm === 'gcra' ? `gcra${burst}` : 'fw';
    const keySuffix = calendar !== undefined ? `${name}:cal-${calendar}` : `${name}:${algoTag}:${windowMs}:${limit}`;
    return { name, limit, algorithm, windowMs, burst, calendar, keySuffix };
  });
}

export function parseRateLimitConfig(raw: unknown): RateLimitConfig {
  const conf = readConfig(ConfigFields, raw);
  const algorithm = conf.algorithm;
  const limits = parseLimits(conf.limits, algorithm);

  const limitBy: IdentitySource[] = [];
  conf.limit_by.forEach((s, i) => {
    if (limitBy.includes(s)) throw new ConfigError(`limit_by[${i}]`, `"${s}" given twice`);
    limitBy.push(s);
  });

  const headerName = conf.header_name;
  if (limitBy.includes('header') && headerName === undefined)
    throw new ConfigError('header_name', 'required when limit_by contains header');
  const jwtClaim = conf.jwt_claim;
  if (limitBy.includes('jwt-claim') && jwtClaim === undefined)
    throw new ConfigError('jwt_claim', 'required when limit_by contains jwt-claim');
  const jwtClaimHeader = conf.jwt_claim_header;

  const trustedProxies = CidrList.parse(conf.trusted_proxies, 'trusted_proxies');
  const cost: CostRules = {
    default: conf.cost.default,
    byMethod: new Map(Object.entries(conf.cost.by_method)),
    byRoute: new Map(Object.entries(conf.cost.by_route)),
  };

  const pluginId = (raw as Record<string, unknown>).__plugin_id;
  const namespace = conf.namespace ?? (typeof pluginId === 'string' && pluginId !== '' ? pluginId : 'default');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(namespace))
    throw new ConfigError('namespace', 'letters, digits, "_", "." and "-" only');

  const redis = redisSettings(conf.redis);

  return {
    limits,
    timeZone: conf.time_zone,
    limitBy,
    headerName: headerName?.toLowerCase(),
    jwtClaim,
    jwtClaimHeader: jwtClaimHeader?.toLowerCase(),
    trustedProxies,
    forwardedHeader: conf.forwarded_header,
    cost,
    namespace,
    ietfHeaders: conf.ietf_headers,
    legacyHeaders: conf.legacy_headers,
    hideClientHeaders: conf.hide_client_headers,
    errorCode: conf.error_code,
    errorMessage: conf.error_message,
    onRedisError: conf.on_redis_error,
    expectedNodes: conf.expected_nodes,
    breaker: {
      failureThreshold: conf.circuit_breaker.failure_threshold,
      openMs: conf.circuit_breaker.open_seconds * 1000,
    },
    redis,
    redisKey: redis ? redisSettingsKey(redis) : undefined,
    keyPrefix: conf.redis.key_prefix,
    needs: {
      // Headers: to walk trusted proxies' forwarding header, or to read an identity header.
      headers:
        !trustedProxies.isEmpty ||
        limitBy.includes('header') ||
        (limitBy.includes('jwt-claim') && jwtClaimHeader !== undefined),
      method: cost.byMethod.size > 0,
      route: cost.byRoute.size > 0 || limitBy.includes('route'),
      service: limitBy.includes('service'),
      path: limitBy.includes('path'),
      consumer: limitBy.includes('consumer'),
      credential: limitBy.includes('credential'),
      /** The caller's identity record (kong.ctx.shared, docs/identity.md): credential, or jwt-claim from it. */
      identity: limitBy.includes('credential') || (limitBy.includes('jwt-claim') && jwtClaimHeader === undefined),
    },
  };
}
