// The abuse detectors' exact trip points, with an injected clock and the in-memory store.
import { abuseSettings } from '../../../../plugins/bulwark-audit/abuse/config';
import {
  objectOfPath,
  observationFromEvents,
  type Observation,
  type SecurityEvent,
} from '../../../../plugins/bulwark-audit/abuse/detectors';
import { AbuseGuard } from '../../../../plugins/bulwark-audit/abuse/guard';
import { AbuseField } from '../../../../plugins/bulwark-audit/abuse/schema';
import { slidingCount } from '../../../../plugins/bulwark-audit/abuse/window';
import { RedisRegistry } from '../../../../plugins/lib/redis';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A guard over the given abuse config (defaults filled as Kong fills them) and a clock the test moves. */
function guardWith(raw: Record<string, unknown> = {}) {
  const parsed = abuseSettings(AbuseField.read({ enabled: true, ...raw }, 'abuse'));
  const clock = { t: 1_000 * HOUR }; // on a bucket boundary of every default window
  const guard = new AbuseGuard(parsed.settings, new RedisRegistry(), () => clock.t);
  return { guard, clock, settings: parsed.settings };
}

const failed = (ip: string, prefix = 'bwk_live'): Observation => ({
  clientIp: ip,
  failedCredentials: [`bulwark-api-key/${prefix}`],
  status: 401,
});
const ok = (ip: string, principal?: string, status = 200): Observation => ({
  clientIp: ip,
  failedCredentials: [],
  status,
  ...(principal ? { principal } : {}),
});

describe('failed authentications per client IP (GitLab: 30 in 3 minutes → 1 hour ban)', () => {
  test('the defaults: the 30th failure within 3 minutes bans the IP for exactly one hour, other IPs untouched', async () => {
    const { guard, clock } = guardWith();
    const seen: string[] = [];
    for (let i = 1; i <= 29; i++) {
      clock.t += 1000;
      const r = await guard.observe(failed('198.51.100.7'));
      seen.push(...r.findings.map((f) => `${i}:${f.kind}:${f.detector}`));
    }
    // With the defaults, the 20th 401 also trips error_share (monitor: 20 of 20 responses were 4xx), nothing bans.
    expect(seen).toEqual(['20:trip:error_share']);
    expect(await guard.checkBan('198.51.100.7')).toEqual({ state: 'clear' });
    clock.t += 1000;
    const r = await guard.observe(failed('198.51.100.7'));
    expect(r.findings).toEqual([
      expect.objectContaining({ kind: 'trip', detector: 'failed_auth_ip', subject: '198.51.100.7', action: 'block' }),
      { kind: 'ban', detector: 'failed_auth_ip', ip: '198.51.100.7', ttlMs: HOUR },
    ]);
    expect(await guard.checkBan('198.51.100.7')).toEqual({
      state: 'banned',
      detector: 'failed_auth_ip',
      retryAfterMs: HOUR,
    });
    expect(await guard.checkBan('198.51.100.8')).toEqual({ state: 'clear' });
    clock.t += HOUR - 1;
    expect(await guard.checkBan('198.51.100.7')).toMatchObject({ state: 'banned', retryAfterMs: 1 });
    clock.t += 1;
    expect(await guard.checkBan('198.51.100.7')).toEqual({ state: 'clear' });
  });

  test('the window slides: failures of the previous window count in proportion to what is left of it', async () => {
    const { guard, clock } = guardWith({ failed_auth_ip: { threshold: 10, window_seconds: 100 } });
    // 8 failures in one window, then half a window later: the estimate is current + 8 × 0.5.
    for (let i = 0; i < 8; i++) await guard.observe(failed('203.0.113.1'));
    clock.t += 150_000;
    expect(slidingCount(5, 8, clock.t, 100_000)).toBe(9);
    for (let i = 1; i <= 5; i++) expect((await guard.observe(failed('203.0.113.1'))).findings).toEqual([]);
    // current 5 + 4 = 9 < 10: not yet; the 6th trips.
    const r = await guard.observe(failed('203.0.113.1'));
    expect(r.findings.map((f) => f.kind)).toEqual(['trip', 'ban']);
  });

  test('failures older than two windows are forgotten; successes never count', async () => {
    const { guard, clock } = guardWith({ failed_auth_ip: { threshold: 3, window_seconds: 10 } });
    await guard.observe(failed('203.0.113.2'));
    await guard.observe(failed('203.0.113.2'));
    clock.t += 20_000;
    for (let i = 0; i < 50; i++) await guard.observe(ok('203.0.113.2'));
    expect((await guard.observe(failed('203.0.113.2'))).findings).toEqual([]);
  });

  test('monitor: a trip is reported once per TTL, nobody is banned', async () => {
    const { guard } = guardWith({ failed_auth_ip: { threshold: 3, action: 'monitor' } });
    const kinds: string[][] = [];
    for (let i = 0; i < 6; i++) kinds.push((await guard.observe(failed('203.0.113.3'))).findings.map((f) => f.kind));
    expect(kinds).toEqual([[], [], ['trip'], [], [], []]);
    expect(await guard.checkBan('203.0.113.3')).toEqual({ state: 'clear' });
  });
});

describe('failed authentications per credential prefix (stuffing spread over a few IPs)', () => {
  test('the count over all IPs trips at the threshold; then every further failing IP is banned, a succeeding one is not', async () => {
    const { guard, clock } = guardWith({
      failed_auth_ip: { threshold: 30 },
      failed_auth_credential: { threshold: 40, window_seconds: 180 },
    });
    const ips = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5'];
    let tripAt = 0;
    for (let n = 1; n <= 40; n++) {
      clock.t += 100;
      const r = await guard.observe(failed(ips[n % 5]!));
      if (r.findings.length > 0) {
        tripAt = n;
        expect(r.findings).toEqual([
          expect.objectContaining({
            kind: 'trip',
            detector: 'failed_auth_credential',
            subject: 'bulwark-api-key/bwk_live',
          }),
          { kind: 'ban', detector: 'failed_auth_credential', ip: ips[n % 5], ttlMs: HOUR },
        ]);
      }
    }
    expect(tripAt).toBe(40); // 8 per IP: far below the per-IP threshold
    // The other four IPs are banned at their next failure; a client that authenticates is never counted.
    for (const ip of ips.slice(1, 5)) {
      const r = await guard.observe(failed(ip));
      expect(r.findings).toEqual([{ kind: 'ban', detector: 'failed_auth_credential', ip, ttlMs: HOUR }]);
    }
    await guard.observe(ok('192.0.2.99', 'consumer:alice'));
    expect(await guard.checkBan('192.0.2.99')).toEqual({ state: 'clear' });
    for (const ip of ips) expect(await guard.checkBan(ip)).toMatchObject({ state: 'banned' });
  });

  test('another credential prefix is counted apart', async () => {
    const { guard } = guardWith({ failed_auth_ip: { enabled: false }, failed_auth_credential: { threshold: 5 } });
    for (let i = 0; i < 4; i++) await guard.observe(failed(`192.0.2.${i}`, 'bwk_live'));
    expect((await guard.observe(failed('192.0.2.50', 'bwk_test'))).findings).toEqual([]);
    expect((await guard.observe(failed('192.0.2.51', 'bwk_live'))).findings.map((f) => f.kind)).toEqual([
      'trip',
      'ban',
    ]);
  });
});

describe('share of errors per principal (Apigee Brute Guessor / Robot Abuser)', () => {
  test('trips when errors reach share_percent of at least min_requests', async () => {
    const { guard } = guardWith({ error_share: { min_requests: 20, share_percent: 50, action: 'block' } });
    for (let i = 0; i < 10; i++) await guard.observe(ok('198.51.100.20', 'consumer:bob', 200));
    for (let i = 0; i < 9; i++)
      expect((await guard.observe(ok('198.51.100.20', 'consumer:bob', 404))).findings).toEqual([]);
    // 20 requests, 10 errors: 50 %.
    const r = await guard.observe(ok('198.51.100.20', 'consumer:bob', 404));
    expect(r.findings).toEqual([
      expect.objectContaining({ kind: 'trip', detector: 'error_share', subject: 'consumer:bob' }),
      { kind: 'ban', detector: 'error_share', ip: '198.51.100.20', ttlMs: HOUR },
    ]);
  });

  test('statuses 403: only 403 counts (Robot Abuser); an anonymous client is counted by its IP', async () => {
    const { guard } = guardWith({ error_share: { min_requests: 4, share_percent: 75, statuses: '403' } });
    for (let i = 0; i < 10; i++)
      expect((await guard.observe(ok('198.51.100.21', undefined, 404))).findings).toEqual([]);
    const { guard: g2 } = guardWith({ error_share: { min_requests: 4, share_percent: 75, statuses: '403' } });
    const found: string[] = [];
    for (let i = 0; i < 4; i++)
      found.push(
        ...(await g2.observe(ok('198.51.100.21', undefined, 403))).findings.map(
          (f) => `${f.kind}:${'subject' in f ? f.subject : ''}`,
        ),
      );
    expect(found).toEqual(['trip:ip:198.51.100.21']);
  });
});

describe('request share per IP (Apigee Flooder)', () => {
  test('an IP sending share_percent of at least min_requests trips; the others do not', async () => {
    const { guard } = guardWith({ flooder: { min_requests: 100, share_percent: 60, action: 'block' } });
    for (let i = 0; i < 40; i++) await guard.observe(ok(`10.0.0.${i}`));
    let trippedAt = 0;
    for (let n = 1; n <= 60; n++) {
      const r = await guard.observe(ok('10.9.9.9'));
      if (r.findings.some((f) => f.kind === 'ban')) trippedAt = n;
    }
    expect(trippedAt).toBe(60); // 60 of 100
    expect(await guard.checkBan('10.0.0.1')).toEqual({ state: 'clear' });
  });
});

describe('distinct object ids per principal and operation (BOLA enumeration)', () => {
  const get = (path: string, template?: string): SecurityEvent => ({
    plugin: 'bulwark-validator',
    decision: 'allow',
    reason: 'allowed',
    status: 200,
    client_ip: '198.51.100.30',
    http: { method: 'GET', host: 'api', path },
    identity: { consumer: 'carol' },
    ...(template ? { operation: { path_template: template } } : {}),
  });

  test('trips at the threshold of distinct ids; repeating an id does not count', async () => {
    const { guard } = guardWith({ bola: { threshold: 5 } });
    for (let i = 0; i < 20; i++)
      expect((await guard.observe(observationFromEvents([get('/orders/1', '/orders/{id}')]))).findings).toEqual([]);
    const found: number[] = [];
    for (let id = 2; id <= 6; id++) {
      const r = await guard.observe(observationFromEvents([get(`/orders/${id}`, '/orders/{id}')]));
      if (r.findings.length > 0) found.push(id);
      expect(r.findings.every((f) => f.kind === 'trip' && f.subject === 'consumer:carol GET /orders/{id}')).toBe(true);
    }
    expect(found).toEqual([5]); // ids 1..5: the fifth distinct one
  });

  test('object ids from the template, or numeric / UUID / long hex segments without one', () => {
    expect(objectOfPath('GET', '/orders/17/items/3', '/orders/{order}/items/{item}')).toEqual({
      operation: 'GET /orders/{order}/items/{item}',
      objectId: '17/3',
    });
    expect(objectOfPath('DELETE', '/users/6f1c2b9e-0d7a-4c1e-9a3b-5e8f7d6c4b2a/keys', undefined)).toEqual({
      operation: 'DELETE /users/{id}/keys',
      objectId: '6f1c2b9e-0d7a-4c1e-9a3b-5e8f7d6c4b2a',
    });
    expect(objectOfPath('GET', '/public/hello', undefined)).toBeUndefined();
  });
});

describe('distinct user agents per credential', () => {
  test('trips at the threshold of distinct User-Agent values for one key', async () => {
    const { guard } = guardWith({ user_agents: { threshold: 3 } });
    const obs = (ua: string): Observation => ({
      clientIp: '198.51.100.40',
      failedCredentials: [],
      credential: 'bulwark-api-key/bwk_live:0a1b2c3d',
      userAgent: ua,
      status: 200,
    });
    expect((await guard.observe(obs('curl/8.0'))).findings).toEqual([]);
    expect((await guard.observe(obs('curl/8.0'))).findings).toEqual([]);
    expect((await guard.observe(obs('python-requests/2.31'))).findings).toEqual([]);
    expect((await guard.observe(obs('Go-http-client/1.1'))).findings).toEqual([
      expect.objectContaining({ kind: 'trip', detector: 'user_agents', action: 'monitor' }),
    ]);
  });
});

describe('observations from security events', () => {
  test('a 401 deny is a failed authentication of its credential prefix; identity gives the principal', () => {
    const obs = observationFromEvents(
      [
        {
          plugin: 'bulwark-api-key',
          decision: 'deny',
          reason: 'invalid_key',
          status: 401,
          client_ip: '192.0.2.9',
          http: { method: 'GET', host: 'h', path: '/x' },
          credential_fingerprint: 'bwk_live:1a2b3c4d',
        },
      ],
      { userAgent: 'ua', responseStatus: 401 },
    );
    expect(obs).toEqual({
      clientIp: '192.0.2.9',
      credential: 'bulwark-api-key/bwk_live:1a2b3c4d',
      failedCredentials: ['bulwark-api-key/bwk_live'],
      status: 401,
      userAgent: 'ua',
    });
  });
});

describe('bounded memory', () => {
  test('a table full of subjects near their threshold refuses new subjects instead of forgetting the near ones', async () => {
    const { guard } = guardWith({
      max_entries: 100,
      failed_auth_ip: { threshold: 2 },
      failed_auth_credential: { enabled: false },
      error_share: { enabled: false },
      flooder: { enabled: false },
    });
    for (let i = 0; i < 100; i++) await guard.observe(failed(`10.1.${i >> 8}.${i & 255}`)); // each at 1 of 2: protected
    const r = await guard.observe(failed('10.2.0.1'));
    expect(r.tableFull).toBe(1);
    // The first IP was not evicted: its second failure still bans it.
    expect((await guard.observe(failed('10.1.0.0'))).findings.map((f) => f.kind)).toEqual(['trip', 'ban']);
    expect(guard.memory.size).toBeLessThanOrEqual(200);
  });

  test('a distinct set stops growing at the threshold', async () => {
    const { guard } = guardWith({ max_entries: 100, user_agents: { threshold: 10 } });
    for (let i = 0; i < 1000; i++)
      await guard.observe({ failedCredentials: [], credential: 'k', userAgent: `ua-${i}`, status: 200 });
    expect(guard.memory.size).toBe(1);
  });
});

describe('Redis unreachable', () => {
  const registry = new RedisRegistry({ sweepEveryMs: 0 });
  afterAll(() => registry.closeAll());
  const unreachable = (onError: string) => {
    const parsed = abuseSettings(
      AbuseField.read(
        {
          enabled: true,
          on_redis_error: onError,
          failed_auth_ip: { threshold: 2 },
          redis: { mode: 'standalone', host: '127.0.0.1', port: 1, timeout_ms: 50, connect_timeout_ms: 50 },
        },
        'abuse',
      ),
    );
    const clock = { t: 1_000 * HOUR };
    return { guard: new AbuseGuard(parsed.settings, registry, () => clock.t), clock };
  };

  test('fail-closed: the ban check says unavailable; local: clear, and counting goes on in memory (bans included)', async () => {
    const closed = unreachable('fail-closed').guard;
    expect(await closed.checkBan('192.0.2.1')).toMatchObject({ state: 'unavailable' });
    expect(closed.redisHealth).toMatchObject({ up: false, changed: true });

    const { guard: local, clock } = unreachable('local');
    expect(await local.checkBan('192.0.2.1')).toEqual({ state: 'clear' });
    const first = await local.observe(failed('192.0.2.1'));
    expect(first.counter).toBe('memory-fallback');
    const second = await local.observe(failed('192.0.2.1'));
    expect(second.findings.map((f) => f.kind)).toEqual(['trip', 'ban']);
    expect(await local.checkBan('192.0.2.1')).toMatchObject({ state: 'banned', detector: 'failed_auth_ip' });
    // After REDIS_RETRY_MS, Redis is probed again (still down: still clear, still logged as down).
    clock.t += 1000;
    expect(await local.checkBan('192.0.2.2')).toEqual({ state: 'clear' });
    expect(local.redisHealth.up).toBe(false);
  });
});
