// bulwark-rate-limit's Schema against Kong's rules (the emulator's metaschema and DAO processing), then the
// plugin's own config parsing (what StartInstance does).
import type { FieldEntry } from '../../../kong/schema/types';
import * as rl from '../../../plugins/bulwark-rate-limit';
import { configFor, describePluginInfo, fieldError, violationFor } from '../../helpers/plugin-info';
import { parseRateLimitConfig } from '../../../plugins/bulwark-rate-limit/config';

const fields = rl.Schema as unknown as FieldEntry[];
const ONE = { limits: [{ name: 'minute', limit: 5, window_seconds: 60 }] };

const configOf = (input: unknown) => configFor(fields, input);
const violation = (input: unknown) => JSON.stringify(violationFor(fields, input));
const start = (input: Record<string, unknown>) => new rl.Plugin(configOf(input));
const startError = (input: Record<string, unknown>) => {
  try {
    start(input);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the instance to refuse its config');
};

describePluginInfo(rl, 'after authentication, just above Kong rate-limiting 910');

describe('defaults', () => {
  it('fills every default; Redis off (in-memory), local-fallback, sliding window, limit by consumer', () => {
    const c = configOf(ONE);
    expect(c).toMatchObject({
      algorithm: 'sliding-window',
      time_zone: 'UTC',
      limit_by: ['consumer'],
      on_redis_error: 'local-fallback',
      expected_nodes: 1,
      ietf_headers: true,
      legacy_headers: false,
      hide_client_headers: false,
      error_code: 429,
      error_message: 'API rate limit exceeded',
      cost: { default: 1, by_method: {}, by_route: {} },
      circuit_breaker: { failure_threshold: 3, open_seconds: 5 },
      redis: {
        mode: 'none',
        port: 6379,
        timeout_ms: 500,
        connect_timeout_ms: 1000,
        key_prefix: 'bulwark-rl',
        ssl: false,
        ssl_verify: true,
      },
    });
    const parsed = parseRateLimitConfig({ ...c, __plugin_id: 'p1' });
    expect(parsed.redis).toBeUndefined();
    expect(parsed.namespace).toBe('p1');
    expect(parsed.limits).toEqual([
      {
        name: 'minute',
        limit: 5,
        algorithm: 'sliding-window',
        windowMs: 60_000,
        burst: 5,
        calendar: undefined,
        keySuffix: 'minute:sw:60000:5',
      },
    ]);
  });
});

describe('Kong schema rejects', () => {
  it.each([
    ['no limits', {}],
    ['empty limits', { limits: [] }],
    ['a limit of 0', { limits: [{ name: 'm', limit: 0, window_seconds: 60 }] }],
    ['a bad limit name', { limits: [{ name: 'per minute', limit: 1, window_seconds: 60 }] }],
    ['an unknown algorithm', { ...ONE, algorithm: 'leaky' }],
    ['an unknown limit_by', { ...ONE, limit_by: ['cookie'] }],
    ['an unknown outage policy', { ...ONE, on_redis_error: 'ignore' }],
    ['an unknown redis mode', { ...ONE, redis: { mode: 'memcached' } }],
    ['a non-upper-case method weight', { ...ONE, cost: { by_method: { post: 2 } } }],
    ['a status below 400', { ...ONE, error_code: 302 }],
  ])('%s', (_name, input) => {
    expect(violation(input)).not.toBe('{}');
  });
  it('accepts a vault reference for the Redis password', () => {
    expect(configOf({ ...ONE, redis: { mode: 'standalone', password: '{vault://env/redis-pass}' } })).toMatchObject({
      redis: { password: '{vault://env/redis-pass}' },
    });
  });
});

// Issue #12: each of these passed Kong's Admin API before (the schema did not say it) and made every request of
// the route answer 500 once the instance refused to start. Kong now refuses them itself, naming the field.
describe('Kong refuses at the Admin API, naming the field (the dumped schema says it)', () => {
  const ONLY_ONE = ["exactly one of these fields must be non-empty: 'window_seconds', 'calendar'"];
  it.each([
    [
      'both window and calendar',
      { limits: [{ name: 'm', limit: 1, window_seconds: 60, calendar: 'day' }] },
      'limits.0.@entity',
      ONLY_ONE,
    ],
    ['neither window nor calendar', { limits: [{ name: 'm', limit: 1 }] }, 'limits.0.@entity', ONLY_ONE],
    [
      'burst with a sliding window',
      { limits: [{ name: 'm', limit: 1, window_seconds: 1, algorithm: 'sliding-window', burst: 3 }] },
      'limits.0.burst',
      'value must be null',
    ],
    [
      'burst on a calendar quota',
      { limits: [{ name: 'm', limit: 1, calendar: 'day', burst: 3 }] },
      'limits.0.@entity',
      ['burst applies to the gcra algorithm only; a calendar quota has no burst'],
    ],
    [
      'a calendar quota with gcra',
      { limits: [{ name: 'm', limit: 1, calendar: 'month', algorithm: 'gcra' }] },
      'limits.0.algorithm',
      'expected one of: fixed-window',
    ],
    [
      'an unknown time zone',
      { ...ONE, time_zone: 'Mars/Base' },
      'time_zone',
      'expected an IANA time zone name such as UTC or Europe/Paris',
    ],
    [
      'a 5 MB header_name',
      { ...ONE, limit_by: ['header'], header_name: 'x'.repeat(5 << 20) },
      'header_name',
      'length must be at most 128',
    ],
    [
      'sentinel without master',
      { ...ONE, redis: { mode: 'sentinel', sentinel_nodes: [{ host: 'h', port: 26379 }] } },
      'redis.sentinel_master',
      'required field missing',
    ],
    [
      'sentinel without nodes',
      { ...ONE, redis: { mode: 'sentinel', sentinel_master: 'm' } },
      'redis.sentinel_nodes',
      'length must be at least 1',
    ],
    [
      'cluster without nodes',
      { ...ONE, redis: { mode: 'cluster' } },
      'redis.cluster_nodes',
      'length must be at least 1',
    ],
    [
      'a CA that is not PEM',
      { ...ONE, redis: { mode: 'standalone', ssl: true, ssl_ca_certificate: 'nope' } },
      'redis.ssl_ca_certificate',
      'expected PEM certificate(s) (-----BEGIN CERTIFICATE-----)',
    ],
    [
      '257 trusted proxies',
      { ...ONE, trusted_proxies: Array(257).fill('10.0.0.0/8') },
      'trusted_proxies',
      'length must be at most 256',
    ],
  ])('%s', (_name, input, path, error) => {
    expect(fieldError(fields, input, path)).toEqual(error);
  });

  it('accepts time zones by their current and their older IANA names', () => {
    for (const tz of [
      'UTC',
      'Europe/Paris',
      'Asia/Kolkata',
      'Asia/Calcutta',
      'America/Argentina/Buenos_Aires',
      'Etc/GMT+5',
    ]) {
      expect(configOf({ ...ONE, time_zone: tz }).time_zone).toBe(tz);
    }
  });
});

describe('instance start rejects what the schema cannot express (naming the field)', () => {
  it.each([
    [
      'duplicate names',
      {
        limits: [
          { name: 'm', limit: 1, window_seconds: 1 },
          { name: 'M', limit: 2, window_seconds: 2 },
        ],
      },
      'limits[1].name',
    ],
    [
      'burst with the plugin-wide sliding window',
      { limits: [{ name: 'm', limit: 1, window_seconds: 1, burst: 3 }] },
      'limits[0].burst',
    ],
    ['header without header_name', { ...ONE, limit_by: ['header'] }, 'header_name'],
    ['jwt-claim without jwt_claim', { ...ONE, limit_by: ['jwt-claim'] }, 'jwt_claim'],
    ['a source twice', { ...ONE, limit_by: ['ip', 'ip'] }, 'limit_by[1]'],
    ['a CIDR with host bits', { ...ONE, trusted_proxies: ['10.0.0.1/8'] }, 'trusted_proxies[0]'],
  ])('%s', (_name, input, field) => {
    expect(startError(input as Record<string, unknown>)).toContain(`${field}:`);
  });
});

describe('parsed config', () => {
  it('gcra burst defaults to the limit; calendar quotas count per period; RPC needs follow limit_by and cost', () => {
    const c = parseRateLimitConfig(
      configOf({
        limits: [
          { name: 's', limit: 10, window_seconds: 1, algorithm: 'gcra' },
          { name: 'month', limit: 100000, calendar: 'month' },
        ],
        limit_by: ['consumer', 'path'],
        cost: { by_method: { POST: 5 } },
        redis: { mode: 'cluster', cluster_nodes: [{ host: '10.0.0.1', port: 7000 }], password: 'secret' },
      }),
    );
    expect(c.limits[0]).toMatchObject({ algorithm: 'gcra', burst: 10 });
    expect(c.limits[1]).toMatchObject({ algorithm: 'fixed-window', calendar: 'month' });
    expect(c.needs).toEqual({
      headers: false,
      method: true,
      route: false,
      service: false,
      path: true,
      consumer: true,
      credential: false,
      identity: false,
    });
    expect(c.redis).toMatchObject({
      mode: 'cluster',
      clusterNodes: [{ host: '10.0.0.1', port: 7000 }],
      password: 'secret',
    });
    expect(c.redisKey).not.toContain('secret');
  });
});
