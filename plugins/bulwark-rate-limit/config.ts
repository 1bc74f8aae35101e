// bulwark-rate-limit's config: Kong's (schema-validated, defaulted) config object → a typed, precomputed form.
// Cross-field rules the schema cannot express are checked here; a ConfigError names the field and stops the
// instance from starting (Kong then answers 500: fail closed).
import { ConfigError, ConfigReader, MAX_OUTBOUND_WAIT_MS } from '../lib/config';
import { CidrList } from '../lib/ip';
import type { ForwardedHeaderKind } from '../lib/client-ip';
import { redisSettingsKey, type RedisAddress, type RedisSettings } from '../lib/redis';
import type { Algorithm } from './algorithms';
import { isValidTimeZone, type CalendarPeriod } from './calendar';
import { IDENTITY_SOURCES, type IdentitySource } from './identity';

export type OutagePolicy = 'fail-closed' | 'local-fallback' | 'fail-open';
export const ALGORITHMS: readonly Algorithm[] = ['sliding-window', 'gcra', 'fixed-window'];
const OUTAGE_POLICIES: readonly OutagePolicy[] = ['fail-closed', 'local-fallback', 'fail-open'];

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
    sharedClaims: boolean;
  };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

function parseLimits(root: ConfigReader, rawRoot: unknown, defaultAlgorithm: Algorithm): LimitPolicy[] {
  const list = readRecords(root, 'limits', rawRoot);
  if (list.length === 0) throw new ConfigError(root.field('limits'), 'at least one limit is required');
  const seen = new Set<string>();
  return list.map((r) => {
    const name = r.string('name');
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name)) throw new ConfigError(r.field('name'), 'letters, digits, "_", "." and "-" only (1-32)');
    if (seen.has(name.toLowerCase())) throw new ConfigError(r.field('name'), `duplicate limit name "${name}" (names are case-insensitive)`);
    seen.add(name.toLowerCase());
    const limit = r.integer('limit', 0, 1, 1_000_000_000);
    if (limit === 0) throw new ConfigError(r.field('limit'), 'required field missing');
    const windowSeconds = r.optionalInteger('window_seconds', 1, 31_536_000);
    const calendarRaw = r.optionalString('calendar');
    if ((windowSeconds === undefined) === (calendarRaw === undefined)) {
      throw new ConfigError(r.field('window_seconds'), 'set exactly one of window_seconds and calendar');
    }
    let calendar: CalendarPeriod | undefined;
    if (calendarRaw !== undefined) {
      if (calendarRaw !== 'day' && calendarRaw !== 'month') throw new ConfigError(r.field('calendar'), 'expected one of: day, month');
      calendar = calendarRaw;
    }
    const explicitAlgorithm = r.has('algorithm') ? r.oneOf<Algorithm>('algorithm', ALGORITHMS, defaultAlgorithm) : undefined;
    if (calendar !== undefined && explicitAlgorithm !== undefined && explicitAlgorithm !== 'fixed-window') {
      throw new ConfigError(r.field('algorithm'), 'a calendar quota counts per period: leave algorithm unset or use fixed-window');
    }
    const algorithm: Algorithm = calendar !== undefined ? 'fixed-window' : explicitAlgorithm ?? defaultAlgorithm;
    const burstRaw = r.optionalInteger('burst', 1, 1_000_000_000);
    if (burstRaw !== undefined && algorithm !== 'gcra') throw new ConfigError(r.field('burst'), 'burst applies to the gcra algorithm only');
    const windowMs = windowSeconds !== undefined ? windowSeconds * 1000 : calendar === 'day' ? 86_400_000 : 31 * 86_400_000;
    const burst = burstRaw ?? limit;
    const algoTag = algorithm === 'sliding-window' ? 'sw' : algorithm === 'gcra' ? `gcra${burst}` : 'fw';
    const keySuffix = calendar !== undefined ? `${name}:cal-${calendar}` : `${name}:${algoTag}:${windowMs}:${limit}`;
    return { name, limit, algorithm, windowMs, burst, calendar, keySuffix };
  });
}

/** A raw member of a config record (ConfigReader has no array-of-records or integer-map accessor). */
function member(record: unknown, key: string): unknown {
  return record !== null && typeof record === 'object' && !Array.isArray(record) ? (record as Record<string, unknown>)[key] : undefined;
}

/** Reads an array of records (Kong sends `[]` or, for an empty table, sometimes `{}`). */
function readRecords(parent: ConfigReader, key: string, rawParent: unknown): ConfigReader[] {
  const value = member(rawParent, key);
  if (value === undefined || value === null) return [];
  if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return [];
  if (!Array.isArray(value)) throw new ConfigError(parent.field(key), 'expected an array');
  return value.map((v, i) => new ConfigReader(v, `${parent.field(key)}[${i}]`));
}

function parseAddresses(parent: ConfigReader, key: string, rawParent: unknown): RedisAddress[] {
  return readRecords(parent, key, rawParent).map((r) => {
    const host = r.string('host');
    if (!/^[A-Za-z0-9._:-]{1,255}$/.test(host)) throw new ConfigError(r.field('host'), 'invalid host');
    return { host, port: r.integer('port', 0, 1, 65535) };
  });
}

function parseRedis(root: ConfigReader, rawRoot: unknown): RedisSettings | undefined {
  const r = root.record('redis');
  const rawRedis = member(rawRoot, 'redis');
  const mode = r.oneOf('mode', ['none', 'standalone', 'sentinel', 'cluster'] as const, 'none');
  if (mode === 'none') return undefined;
  const caText = r.optionalString('ssl_ca_certificate');
  if (caText !== undefined && !PEM_CERT.test(caText)) throw new ConfigError(r.field('ssl_ca_certificate'), 'expected PEM certificate(s)');
  const settings: RedisSettings = {
    mode,
    host: r.string('host', '127.0.0.1'),
    port: r.integer('port', 6379, 1, 65535),
    database: r.integer('database', 0, 0, 15),
    username: r.optionalSecretString('username'),
    password: r.optionalSecretString('password'),
    sentinelMaster: r.optionalString('sentinel_master'),
    sentinels: parseAddresses(r, 'sentinel_nodes', rawRedis),
    sentinelUsername: r.optionalSecretString('sentinel_username'),
    sentinelPassword: r.optionalSecretString('sentinel_password'),
    clusterNodes: parseAddresses(r, 'cluster_nodes', rawRedis),
    tls: {
      enabled: r.boolean('ssl', false),
      verify: r.boolean('ssl_verify', true),
      serverName: r.optionalString('server_name'),
      ca: caText,
    },
    connectTimeoutMs: r.integer('connect_timeout_ms', 1000, 10, MAX_OUTBOUND_WAIT_MS),
    commandTimeoutMs: r.integer('timeout_ms', 500, 10, MAX_OUTBOUND_WAIT_MS),
  };
  if (mode === 'sentinel') {
    if (settings.sentinelMaster === undefined) throw new ConfigError(r.field('sentinel_master'), 'required in sentinel mode');
    if (settings.sentinels.length === 0) throw new ConfigError(r.field('sentinel_nodes'), 'at least one sentinel is required in sentinel mode');
  }
  if (mode === 'cluster' && settings.clusterNodes.length === 0) {
    throw new ConfigError(r.field('cluster_nodes'), 'at least one node is required in cluster mode');
  }
  return settings;
}

function parseCost(root: ConfigReader, rawRoot: unknown): CostRules {
  const c = root.record('cost');
  const rawCost = member(rawRoot, 'cost');
  const byMethod = new Map<string, number>();
  const byRoute = new Map<string, number>();
  const ints = (key: string, into: Map<string, number>, check?: (k: string) => boolean) => {
    const obj = member(rawCost, key);
    if (obj === undefined || obj === null) return;
    if (typeof obj !== 'object' || Array.isArray(obj)) {
      if (Array.isArray(obj) && obj.length === 0) return;
      throw new ConfigError(c.field(key), 'expected a map');
    }
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1_000_000) throw new ConfigError(`${c.field(key)}.${k}`, 'expected an integer 0-1000000');
      if (check && !check(k)) throw new ConfigError(`${c.field(key)}.${k}`, 'expected an upper-case HTTP method');
      into.set(k, v);
    }
  };
  ints('by_method', byMethod, (k) => /^[A-Z]+$/.test(k));
  ints('by_route', byRoute);
  return { default: c.integer('default', 1, 0, 1_000_000), byMethod, byRoute };
}

export function parseRateLimitConfig(raw: unknown): RateLimitConfig {
  const root = new ConfigReader(raw);
  const algorithm = root.oneOf<Algorithm>('algorithm', ALGORITHMS, 'sliding-window');
  const limits = parseLimits(root, raw, algorithm);

  const timeZone = root.string('time_zone', 'UTC');
  if (!isValidTimeZone(timeZone)) throw new ConfigError(root.field('time_zone'), `unknown time zone "${timeZone}"`);

  const limitBy: IdentitySource[] = [];
  root.stringArray('limit_by', ['consumer']).forEach((s, i) => {
    if (!(IDENTITY_SOURCES as readonly string[]).includes(s)) {
      throw new ConfigError(`${root.field('limit_by')}[${i}]`, `expected one of: ${IDENTITY_SOURCES.join(', ')}`);
    }
    if (limitBy.includes(s as IdentitySource)) throw new ConfigError(`${root.field('limit_by')}[${i}]`, `"${s}" given twice`);
    limitBy.push(s as IdentitySource);
  });
  if (limitBy.length === 0) throw new ConfigError(root.field('limit_by'), 'at least one source is required');

  const headerName = root.optionalString('header_name');
  if (limitBy.includes('header') && headerName === undefined) throw new ConfigError(root.field('header_name'), 'required when limit_by contains header');
  const jwtClaim = root.optionalString('jwt_claim');
  if (limitBy.includes('jwt-claim') && jwtClaim === undefined) throw new ConfigError(root.field('jwt_claim'), 'required when limit_by contains jwt-claim');
  if (jwtClaim !== undefined && !/^[^.\s]+(\.[^.\s]+)*$/.test(jwtClaim)) throw new ConfigError(root.field('jwt_claim'), 'expected a claim name or dotted path');
  const jwtClaimHeader = root.optionalString('jwt_claim_header');

  const trustedProxies = CidrList.parse(root.stringArray('trusted_proxies'), root.field('trusted_proxies'));
  const forwardedHeader = root.oneOf<ForwardedHeaderKind>('forwarded_header', ['x-forwarded-for', 'forwarded'], 'x-forwarded-for');
  const cost = parseCost(root, raw);

  const explicitNamespace = root.optionalString('namespace');
  const pluginId = root.optionalString('__plugin_id');
  const namespace = explicitNamespace ?? pluginId ?? 'default';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(namespace)) throw new ConfigError(root.field('namespace'), 'letters, digits, "_", "." and "-" only');

  const errorCode = root.integer('error_code', 429, 400, 599);
  const errorMessage = root.string('error_message', 'API rate limit exceeded');

  const b = root.record('circuit_breaker');
  const redis = parseRedis(root, raw);
  const keyPrefix = root.record('redis').string('key_prefix', 'bulwark-rl');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(keyPrefix)) throw new ConfigError(root.record('redis').field('key_prefix'), 'letters, digits, "_", "." and "-" only');

  return {
    limits,
    timeZone,
    limitBy,
    headerName: headerName?.toLowerCase(),
    jwtClaim,
    jwtClaimHeader: jwtClaimHeader?.toLowerCase(),
    trustedProxies,
    forwardedHeader,
    cost,
    namespace,
    ietfHeaders: root.boolean('ietf_headers', true),
    legacyHeaders: root.boolean('legacy_headers', false),
    hideClientHeaders: root.boolean('hide_client_headers', false),
    errorCode,
    errorMessage,
    onRedisError: root.oneOf<OutagePolicy>('on_redis_error', OUTAGE_POLICIES, 'local-fallback'),
    expectedNodes: root.integer('expected_nodes', 1, 1, 1000),
    breaker: { failureThreshold: b.integer('failure_threshold', 3, 1, 1000), openMs: b.integer('open_seconds', 5, 1, 300) * 1000 },
    redis,
    redisKey: redis ? redisSettingsKey(redis) : undefined,
    keyPrefix,
    needs: {
      // Headers: to walk trusted proxies' forwarding header, or to read an identity header.
      headers: !trustedProxies.isEmpty || limitBy.includes('header') || (limitBy.includes('jwt-claim') && jwtClaimHeader !== undefined),
      method: cost.byMethod.size > 0,
      route: cost.byRoute.size > 0 || limitBy.includes('route'),
      service: limitBy.includes('service'),
      path: limitBy.includes('path'),
      consumer: limitBy.includes('consumer'),
      credential: limitBy.includes('credential'),
      sharedClaims: limitBy.includes('jwt-claim') && jwtClaimHeader === undefined,
    },
  };
}
