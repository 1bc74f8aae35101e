// bulwark-api-key through the Kong emulator with the real plugin server (bulwark-pluginserver, or the stock one with
// BULWARK_PLUGINSERVER=stock), a real echo upstream and a real redis-server: both stores, the responses and upstream
// headers of Kong's key-auth, hide_credentials over every spelling, anonymous, the identity contract, the RPC budget
// the handler header states, the caches in front of Redis, the outage policies, rotation with grace, the lockout.
import { Redis } from 'ioredis';
import type { EmulatedResponse } from '../../../kong/emulator/kong';
import { issueKey, rotateRecord, writeRedisRecord } from '../../../plugins/bulwark-api-key/key-admin';
import { serializeKeyRecord, type KeyRecord } from '../../../plugins/bulwark-api-key/key-record';
import { generateKey } from '../../../plugins/bulwark-api-key/key-format';
import { echoed, type Gateway } from '../../helpers/emulator';
import { startRedis, type RedisServer } from '../../helpers/redis';
import { identityOf, pdkCalls, pluginLogLines, READ_IDENTITY, startApiKeyGateway } from './gateway';
import { BOTH_PLUGIN_SERVERS, runsOnPluginServers } from '../../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const ALICE = '7d1f0c52-3b7e-4c8e-9a51-000000000001';
const ANON = '7d1f0c52-3b7e-4c8e-9a51-000000000002';
const PEPPER = 'test-pepper-0123456789abcdef0123456789';
const HOUR = 3_600_000;
const now = Date.now();

// Declarative keys.
const alice = issueKey(
  {
    prefix: 'bwk_test',
    id: 'alice-1',
    consumer: 'alice',
    scopes: ['orders:read', 'orders:write'],
    labels: ['team-a'],
    metadata: { owner: 'ops' },
  },
  now,
);
const service = issueKey({ prefix: 'bwk_test', id: 'svc-1', scopes: ['orders:read'] }, now);
const expired = issueKey({ prefix: 'bwk_test', id: 'old-1', expiresAt: now - HOUR }, now);
const future = issueKey({ prefix: 'bwk_test', id: 'future-1', notBefore: now + HOUR }, now);
const revoked = issueKey({ prefix: 'bwk_test', id: 'revoked-1' }, now);
revoked.record = { ...revoked.record, disabled: true };
const byId = issueKey({ prefix: 'bwk_test', id: 'alice-by-id', consumer: ALICE }, now);
const ghost = issueKey({ prefix: 'bwk_test', id: 'ghost-1', consumer: 'nobody' }, now);
// Declarative rotation: the successor and the old key in its grace period (set when the config is loaded).
const rotOld = issueKey({ prefix: 'bwk_test', id: 'rot-old', scopes: ['orders:read'] }, now);
let rotation: ReturnType<typeof rotateRecord>;

const entries = (records: KeyRecord[]) => JSON.stringify(records.map(serializeKeyRecord));

function config(redisPort: number): string {
  const redis = (prefix: string) =>
    `{ mode: standalone, host: 127.0.0.1, port: ${redisPort}, key_prefix: ${prefix}, timeout_ms: 300 }`;
  return `
_format_version: "3.0"
consumers:
  - { id: ${ALICE}, username: alice, custom_id: A-1 }
  - { id: ${ANON}, username: anonymous }
services:
  - name: api
    url: ECHO
    routes:
      - { name: decl, paths: ["/decl"] }
      - { name: anon, paths: ["/anon"] }
      - { name: scoped, paths: ["/scoped"] }
      - { name: query, paths: ["/query"] }
      - { name: rot, paths: ["/rot"] }
      - { name: redis, paths: ["/redis"] }
      - { name: cached, paths: ["/cached"] }
      - { name: lock, paths: ["/lock"] }
plugins:
  - name: probe
  - name: bulwark-api-key
    route: decl
    config:
      key_prefixes: [bwk_test]
      authorization_scheme: ApiKey
      lockout: { enabled: false }
      keys: ${entries([alice.record, service.record, expired.record, future.record, revoked.record, byId.record, ghost.record])}
  - name: bulwark-api-key
    route: anon
    config:
      key_prefixes: [bwk_test]
      anonymous: anonymous
      lockout: { enabled: false }
      keys: ${entries([service.record])}
  - name: bulwark-api-key
    route: scoped
    config:
      key_prefixes: [bwk_test]
      required_scopes: [orders:write]
      keys: ${entries([alice.record, service.record])}
  - name: bulwark-api-key
    route: query
    config:
      key_prefixes: [bwk_test]
      key_in_query: true
      key_names: [apikey]
      keys: ${entries([service.record])}
  - name: bulwark-api-key
    route: rot
    config:
      key_prefixes: [bwk_test]
      keys: ${entries([rotation!.issued.record, rotation!.old])}
  - name: bulwark-api-key
    route: redis
    config:
      key_prefixes: [bwk_test]
      store: redis
      pepper: ${PEPPER}
      cache: { ttl_seconds: 1, negative_ttl_seconds: 1 }
      lockout: { enabled: false }
      redis: ${redis('t-ak')}
  - name: bulwark-api-key
    route: cached
    config:
      key_prefixes: [bwk_test]
      store: redis
      on_store_error: serve-cached
      cache: { ttl_seconds: 1, stale_seconds: 60 }
      lockout: { enabled: false }
      redis: ${redis('t-ak-cached')}
  - name: bulwark-api-key
    route: lock
    config:
      key_prefixes: [bwk_test]
      lockout: { max_failures: 3, window_seconds: 60, lockout_seconds: 60 }
      keys: ${entries([service.record, expired.record, revoked.record])}
`;
}

let gw: Gateway;
let redisServer: RedisServer;
let redis: Redis;
const logs: string[] = [];

beforeAll(async () => {
  rotation = rotateRecord(rotOld.record, 'bwk_test', 2000, Date.now());
  redisServer = await startRedis();
  redis = new Redis({ port: redisServer.port, host: redisServer.host });
  gw = await startApiKeyGateway(logs);
  gw.configure(config(redisServer.port));
}, 120_000);
afterAll(async () => {
  expect(gw.kong.unhandledExceptions()).toEqual([]);
  await gw?.stop();
  redis?.disconnect();
  await redisServer?.stop();
});

type Req = Parameters<Gateway['kong']['request']>[0];
async function send(r: Req): Promise<EmulatedResponse> {
  const res = await gw.kong.request(r);
  expect(res.report.failOpen).toEqual([]);
  expect(res.report.luaErrors).toEqual([]);
  return res;
}
const json = (res: EmulatedResponse) => JSON.parse(res.body.toString()) as Record<string, unknown>;
const upstreamHeaders = (res: EmulatedResponse) => echoed(res.body).headers;

async function commandCalls(cmd: string): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

/** The reasons logged since `from`. */
function reasonsSince(from: number): unknown[] {
  return pluginLogLines(logs.slice(from)).map((l) => l.reason ?? l.event);
}

describe('declarative store', () => {
  test('a valid key: 200; the upstream sees the consumer and credential headers, not the key; 7 RPCs then 6', async () => {
    const first = await send({ path: '/decl', headers: { 'x-api-key': alice.key } });
    expect(first.status).toBe(200);
    expect(pdkCalls(first)).toEqual([
      'request.get_headers',
      'client.load_consumer',
      'client.authenticate',
      'service.request.set_headers', // X-Consumer-ID, X-Consumer-Username, X-Consumer-Custom-ID, X-Credential-Identifier
      'service.request.clear_header', // x-api-key (hide_credentials)
      'ctx.shared.set', // bulwark.identity
      'log.set_serialize_value', // the decision record bulwark-guard checks
    ]);
    const res = await send({ path: '/decl', headers: { 'x-api-key': alice.key, ...READ_IDENTITY } });
    expect(res.status).toBe(200);
    expect(pdkCalls(res)).toHaveLength(6); // the consumer is cached (no load_consumer)
    expect(pdkCalls(res)).not.toContain('client.load_consumer');
    const up = upstreamHeaders(res);
    expect(up['x-api-key']).toBeUndefined();
    expect(up['x-consumer-id']).toBe(ALICE);
    expect(up['x-consumer-username']).toBe('alice');
    expect(up['x-consumer-custom-id']).toBe('A-1');
    expect(up['x-credential-identifier']).toBe('alice-1');
    expect(up['x-anonymous-consumer']).toBeUndefined();
  });

  test('the identity contract: kind api-key, key id, consumer, scopes, labels as groups, metadata as claims', async () => {
    const res = await send({ path: '/decl', headers: { apikey: alice.key, ...READ_IDENTITY } });
    expect(identityOf(res)).toEqual({
      v: 1,
      authenticated: true,
      authenticatedBy: 'bulwark-api-key',
      method: 'api-key',
      consumer: { id: ALICE, username: 'alice' },
      credential: { kind: 'api-key', id: 'alice-1' },
      subject: 'alice-1',
      scopes: ['orders:read', 'orders:write'],
      groups: ['team-a'],
      claims: { owner: 'ops' },
    });
  });

  test('a key without consumer: 200 without kong.client.authenticate, 5 RPCs, identity without consumer', async () => {
    const res = await send({ path: '/decl', headers: { 'x-api-key': service.key } });
    expect(res.status).toBe(200);
    expect(pdkCalls(res)).toEqual([
      'request.get_headers',
      'service.request.set_headers',
      'service.request.clear_header',
      'ctx.shared.set',
      'log.set_serialize_value',
    ]);
    expect(upstreamHeaders(res)['x-credential-identifier']).toBe('svc-1');
  });

  test('a consumer by id works as by username', async () => {
    const res = await send({ path: '/decl', headers: { 'x-api-key': byId.key } });
    expect(res.status).toBe(200);
    expect(upstreamHeaders(res)['x-consumer-username']).toBe('alice');
  });

  test('hide_credentials clears every spelling of the key header; spoofed consumer headers are cleared too', async () => {
    const res = await send({
      path: '/decl',
      headers: {
        'x-api-key': service.key,
        X_Api_Key: 'smuggled',
        'X-Consumer-ID': 'forged',
        X_Consumer_Username: 'forged',
        'x-anonymous-consumer': 'true',
      },
    });
    expect(res.status).toBe(200);
    const up = upstreamHeaders(res);
    for (const name of Object.keys(up)) expect(name.replace(/_/g, '-').toLowerCase()).not.toBe('x-api-key');
    expect(up['x-consumer-id']).toBeUndefined(); // a key without consumer: no consumer header at all
    expect(up['x_consumer_username']).toBeUndefined();
    expect(up['x-anonymous-consumer']).toBeUndefined();
  });

  test('Authorization: ApiKey <key> (authorization_scheme) works and the header is removed; other schemes are left alone', async () => {
    const res = await send({ path: '/decl', headers: { authorization: `ApiKey ${service.key}` } });
    expect(res.status).toBe(200);
    expect(upstreamHeaders(res).authorization).toBeUndefined();
    const basic = await send({ path: '/decl', headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.status).toBe(401);
    expect(json(basic)).toEqual({ message: 'No API key found in request' });
  });

  test('no key: 401 as Kong key-auth (message, WWW-Authenticate: Key realm="kong"), 3 RPCs (with the deny record), no log line', async () => {
    const from = logs.length;
    const res = await send({ path: '/decl' });
    expect(res.status).toBe(401);
    expect(json(res)).toEqual({ message: 'No API key found in request' });
    expect(res.headers.first('www-authenticate')).toBe('Key realm="kong"');
    expect(pdkCalls(res)).toEqual(['request.get_headers', 'log.set_serialize_value']); // the deny record + response.exit
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(reasonsSince(from)).toEqual([]);
  });

  test('two different keys in one request: 401 "Duplicate API key found"; the same key twice is one key', async () => {
    const two = await send({ path: '/decl', headers: { 'x-api-key': service.key, apikey: alice.key } });
    expect(two.status).toBe(401);
    expect(json(two)).toEqual({ message: 'Duplicate API key found' });
    const repeated = await send({ path: '/decl', headers: { 'x-api-key': [service.key, alice.key] } });
    expect(json(repeated)).toEqual({ message: 'Duplicate API key found' });
    const same = await send({
      path: '/decl',
      headers: { 'x-api-key': service.key, authorization: `apikey ${service.key}` },
    });
    expect(same.status).toBe(200);
  });

  test.each([
    ['malformed', () => 'hunter2'],
    ['checksum', () => service.key.slice(0, -1) + (service.key.endsWith('A') ? 'B' : 'A')],
    ['unknown_prefix', () => generateKey('bwk_live')],
    ['unknown_key', () => generateKey('bwk_test')],
    ['expired', () => expired.key],
    ['not_yet_valid', () => future.key],
    ['disabled', () => revoked.key],
    ['consumer_missing', () => ghost.key],
  ])('refused with 401 "Invalid authentication credentials" and its own reason in the log: %s', async (reason, key) => {
    const from = logs.length;
    const k = key();
    const res = await send({ path: '/decl', headers: { 'x-api-key': k } });
    expect(res.status).toBe(401);
    expect(json(res)).toEqual({ message: 'Invalid authentication credentials' });
    expect(res.headers.first('www-authenticate')).toBe('Key realm="kong"');
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(reasonsSince(from)).toEqual([reason]);
    // The log never holds a key: at most the display prefix (prefix + 4 characters).
    expect(logs.slice(from).join('\n')).not.toContain(k.slice(0, 'bwk_test_'.length + 5));
  });

  test('an invalid key costs getHeaders + log + deny record + exit (4 RPCs without lockout)', async () => {
    const res = await send({ path: '/decl', headers: { 'x-api-key': generateKey('bwk_test') } });
    expect(pdkCalls(res)).toEqual(['request.get_headers', 'log.info', 'log.set_serialize_value']); // + response.exit
  });

  test('required_scopes: a valid key without them gets 403', async () => {
    expect((await send({ path: '/scoped', headers: { 'x-api-key': alice.key } })).status).toBe(200);
    const res = await send({ path: '/scoped', headers: { 'x-api-key': service.key } });
    expect(res.status).toBe(403);
    expect(json(res)).toEqual({ message: 'Forbidden' });
  });

  test('key_in_query: the key is read from the query and removed from the upstream URL', async () => {
    const res = await send({ path: `/query?apikey=${service.key}&page=2` });
    expect(res.status).toBe(200);
    expect(res.report.upstreamRequest?.url).toMatch(/\?page=2$/); // the route strips /query
  });
});

describe('anonymous (as Kong key-auth: any authentication failure continues as the anonymous consumer)', () => {
  test('no key and an invalid key: 200 as anonymous with X-Anonymous-Consumer; a valid key is still itself', async () => {
    for (const headers of [{}, { 'x-api-key': generateKey('bwk_test') }] as Record<string, string>[]) {
      const res = await send({ path: '/anon', headers: { ...headers, ...READ_IDENTITY } });
      expect(res.status).toBe(200);
      const up = upstreamHeaders(res);
      expect(up['x-anonymous-consumer']).toBe('true');
      expect(up['x-consumer-username']).toBe('anonymous');
      expect(up['x-api-key']).toBeUndefined();
      expect(identityOf(res)).toMatchObject({
        authenticated: false,
        method: 'anonymous',
        consumer: { id: ANON, username: 'anonymous' },
      });
    }
    const ok = await send({ path: '/anon', headers: { 'x-api-key': service.key } });
    expect(upstreamHeaders(ok)['x-anonymous-consumer']).toBeUndefined();
    expect(upstreamHeaders(ok)['x-credential-identifier']).toBe('svc-1');
  });
});

describe('rotation with grace (declarative): both keys work during the grace period, only the new one after', () => {
  test('old and new → 200; after the grace period old → 401 expired, new → 200', async () => {
    rotation = rotateRecord(rotOld.record, 'bwk_test', 2000, Date.now()); // what `api-key rotate` prints
    gw.configure(config(redisServer.port));
    expect((await send({ path: '/rot', headers: { 'x-api-key': rotOld.key } })).status).toBe(200);
    expect((await send({ path: '/rot', headers: { 'x-api-key': rotation.issued.key } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, rotation.old.expiresAt! - Date.now()) + 50));
    const from = logs.length;
    expect((await send({ path: '/rot', headers: { 'x-api-key': rotOld.key } })).status).toBe(401);
    expect(reasonsSince(from)).toEqual(['expired']);
    expect((await send({ path: '/rot', headers: { 'x-api-key': rotation.issued.key } })).status).toBe(200);
  });
});

describe('redis store', () => {
  const issueRedis = async (prefix: string, o: Partial<Parameters<typeof issueKey>[0]> = {}, pepper?: string) => {
    const issued = issueKey({ prefix: 'bwk_test', ...o, ...(pepper ? { pepper } : {}) }, Date.now());
    await writeRedisRecord(redis, prefix, issued.record, true);
    return issued;
  };

  test('a valid key (HMAC with the pepper): one GET on a miss, none on a cache hit; last use recorded', async () => {
    const k = await issueRedis('t-ak', { id: 'r-1', consumer: 'alice', scopes: ['s1'] }, PEPPER);
    const get0 = await commandCalls('get');
    const first = await send({ path: '/redis', headers: { 'x-api-key': k.key, ...READ_IDENTITY } });
    expect(first.status).toBe(200);
    expect(identityOf(first)).toMatchObject({
      method: 'api-key',
      credential: { kind: 'api-key', id: 'r-1' },
      scopes: ['s1'],
    });
    const get1 = await commandCalls('get');
    expect(get1 - get0).toBe(1);
    expect((await send({ path: '/redis', headers: { 'x-api-key': k.key } })).status).toBe(200);
    expect(await commandCalls('get')).toBe(get1);
    expect(await redis.hget('t-ak:last-used', 'r-1')).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  test('a key hashed without the pepper is not found (the store never matches a plain SHA-256)', async () => {
    const k = await issueRedis('t-ak', { id: 'r-nopepper' });
    expect((await send({ path: '/redis', headers: { 'x-api-key': k.key } })).status).toBe(401);
  });

  test('checksum failures cost no Redis command at all; an unknown checksum-valid key one GET, then the negative cache', async () => {
    const total0 = Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
    for (let i = 0; i < 20; i++) {
      const k = generateKey('bwk_test');
      expect(
        (await send({ path: '/redis', headers: { 'x-api-key': k.slice(0, -1) + (k.endsWith('0') ? '1' : '0') } }))
          .status,
      ).toBe(401);
    }
    const total1 = Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
    expect(total1 - total0).toBeLessThanOrEqual(2); // the INFO calls themselves, nothing per request
    const unknown = generateKey('bwk_test');
    const g0 = await commandCalls('get');
    for (let i = 0; i < 5; i++)
      expect((await send({ path: '/redis', headers: { 'x-api-key': unknown } })).status).toBe(401);
    expect((await commandCalls('get')) - g0).toBe(1);
  });

  test('revoking (the CLI sets disabled) stops the key within the cache TTL (1 s)', async () => {
    const k = await issueRedis('t-ak', { id: 'r-revoke' }, PEPPER);
    expect((await send({ path: '/redis', headers: { 'x-api-key': k.key } })).status).toBe(200);
    await writeRedisRecord(redis, 't-ak', { ...k.record, disabled: true }, false);
    await new Promise((r) => setTimeout(r, 1100));
    const from = logs.length;
    expect((await send({ path: '/redis', headers: { 'x-api-key': k.key } })).status).toBe(401);
    expect(reasonsSince(from)).toEqual(['disabled']);
  });

  test('rotation with grace: old and new work, then only the new one', async () => {
    const old = await issueRedis('t-ak', { id: 'r-rot', scopes: ['a'] }, PEPPER);
    const { issued, old: oldAfter } = rotateRecord(old.record, 'bwk_test', 2000, Date.now(), PEPPER);
    await writeRedisRecord(redis, 't-ak', issued.record, true);
    await writeRedisRecord(redis, 't-ak', oldAfter, false);
    await new Promise((r) => setTimeout(r, 1100)); // any cached copy of the old record expires
    expect((await send({ path: '/redis', headers: { 'x-api-key': old.key } })).status).toBe(200);
    expect((await send({ path: '/redis', headers: { 'x-api-key': issued.key } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, oldAfter.expiresAt! - Date.now()) + 50));
    expect((await send({ path: '/redis', headers: { 'x-api-key': old.key } })).status).toBe(401);
    expect((await send({ path: '/redis', headers: { 'x-api-key': issued.key } })).status).toBe(200);
  });

  test('a corrupt record is refused (fail closed) and logged at err', async () => {
    const k = issueKey({ prefix: 'bwk_test', id: 'r-corrupt', pepper: PEPPER }, Date.now());
    await redis.set(`t-ak:key:${k.record.hash}`, '{"id":"r-corrupt"');
    const from = logs.length;
    expect((await send({ path: '/redis', headers: { 'x-api-key': k.key } })).status).toBe(401);
    expect(reasonsSince(from)).toEqual(['invalid_record']);
  });

  test('Redis down: fail-closed answers 503 (never "no key, let through"); serve-cached keeps recently verified keys only', async () => {
    const cachedKey = await issueRedis('t-ak-cached', { id: 'c-1' });
    const freshKey = await issueRedis('t-ak-cached', { id: 'c-2' });
    const closedKey = await issueRedis('t-ak', { id: 'r-down' }, PEPPER);
    expect((await send({ path: '/cached', headers: { 'x-api-key': cachedKey.key } })).status).toBe(200);
    await redisServer.stop();
    try {
      await new Promise((r) => setTimeout(r, 1100)); // past ttl_seconds: the cached record is stale now
      const from = logs.length;
      const down = await send({ path: '/redis', headers: { 'x-api-key': closedKey.key } });
      expect(down.status).toBe(503);
      expect(json(down)).toEqual({ message: 'Service unavailable' });
      expect(down.report.upstreamRequest).toBeUndefined();
      expect(pluginLogLines(logs.slice(from))).toEqual([
        expect.objectContaining({ event: 'store_unavailable', action: 'rejected with 503' }),
      ]);
      expect((await send({ path: '/cached', headers: { 'x-api-key': cachedKey.key } })).status).toBe(200);
      expect((await send({ path: '/cached', headers: { 'x-api-key': freshKey.key } })).status).toBe(503);
    } finally {
      await redisServer.restart();
    }
    // Recovery needs no action. The restarted Redis is empty (no persistence): the key is unknown now, and a 401
    // (not 503, not a stale 200) proves Redis answered again.
    let status = 503;
    for (let i = 0; i < 30 && status !== 401; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await send({ path: '/cached', headers: { 'x-api-key': cachedKey.key } })).status;
    }
    expect(status).toBe(401);
  });
});

describe('lockout per client IP (in memory: no Redis on this route)', () => {
  test('3 invalid keys lock the IP: its invalid keys get 429 with Retry-After; its valid key still works; other IPs are not affected', async () => {
    const ip = '198.51.100.7';
    const bad = () => ({ 'x-api-key': generateKey('bwk_test') });
    const first = await send({ path: '/lock', clientIp: ip, headers: bad() });
    expect(first.status).toBe(401);
    expect(pdkCalls(first)).toEqual(['request.get_headers', 'client.get_ip', 'log.info', 'log.set_serialize_value']); // + exit
    expect((await send({ path: '/lock', clientIp: ip, headers: bad() })).status).toBe(401);
    const from = logs.length;
    const locked = await send({ path: '/lock', clientIp: ip, headers: bad() });
    expect(locked.status).toBe(429);
    expect(json(locked)).toEqual({ message: 'Too many invalid API keys' });
    expect(Number(locked.headers.first('retry-after'))).toBeGreaterThan(50);
    expect(pluginLogLines(logs.slice(from))).toEqual([
      expect.objectContaining({ event: 'client_locked_out', ip, counter: 'memory' }),
    ]);
    expect((await send({ path: '/lock', clientIp: ip, headers: { 'x-api-key': 'garbage' } })).status).toBe(429);
    expect((await send({ path: '/lock', clientIp: ip, headers: { 'x-api-key': service.key } })).status).toBe(200);
    expect((await send({ path: '/lock', clientIp: '198.51.100.8', headers: bad() })).status).toBe(401);
  });

  test('expired and revoked keys are not counted (a client that missed a rotation does not lock its neighbours out)', async () => {
    const ip = '198.51.100.9';
    for (let i = 0; i < 5; i++) {
      expect((await send({ path: '/lock', clientIp: ip, headers: { 'x-api-key': expired.key } })).status).toBe(401);
      expect((await send({ path: '/lock', clientIp: ip, headers: { 'x-api-key': revoked.key } })).status).toBe(401);
    }
    // Unknown keys do count: the third locks.
    for (let i = 0; i < 2; i++)
      expect(
        (await send({ path: '/lock', clientIp: ip, headers: { 'x-api-key': generateKey('bwk_test') } })).status,
      ).toBe(401);
    expect(
      (await send({ path: '/lock', clientIp: ip, headers: { 'x-api-key': generateKey('bwk_test') } })).status,
    ).toBe(429);
  });
});
