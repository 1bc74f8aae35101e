// bulwark-rate-limit on a real TLS-only redis-server (a CA made here with openssl; `user default off`, one ACL user),
// through the Kong emulator and the real plugin server. The right CA and password work; a wrong CA, a wrong
// server name or a wrong password each end in the configured outage policy (fail-closed → 503), and the log line
// names the cause; ssl_verify false accepts a certificate no configured CA vouches for. Then Sentinel over TLS
// (sentinels and data nodes TLS-only, ioredis enableTLSForSentinelMode + sentinelTLS), through a failover.
import * as fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAllNoFailOpen, BOTH_PLUGIN_SERVERS, runsOnPluginServers, type Gateway } from '../../helpers/emulator';
import { startRedisSentinel, type RedisSentinelSetup } from '../../helpers/redis-sentinel';
import { makeTestCertificates, startRedisTls, type RedisTlsServer } from '../../helpers/redis-tls';
import { startRateLimitGateway } from './gateway';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

jest.setTimeout(60_000);

const USER = 'bulwark';
const PASSWORD = 'tls-secret';

let redis: RedisTlsServer;
let sentinel: RedisSentinelSetup;
let gw: Gateway;

function route(name: string, redisFields: Record<string, unknown>): string {
  const fields = {
    mode: 'standalone',
    host: '127.0.0.1',
    port: redis.port,
    ssl: true,
    username: USER,
    password: PASSWORD,
    // Generous: these tests are about TLS, not timing. A TLS handshake (and, for Sentinel, a sentinel query first)
    // overran 500 ms on a loaded CI machine, and with failure_threshold 1 the breaker then refused every request.
    // The failure cases below fail on the certificate or the password, long before any timeout.
    timeout_ms: 5000,
    connect_timeout_ms: 5000,
    ...redisFields,
  };
  // JSON is YAML: the PEM's newlines survive as \n escapes.
  return `  - name: bulwark-rate-limit
    route: ${name}
    config:
      limit_by: [header]
      header_name: x-api-key
      namespace: tls-${name}
      on_redis_error: fail-closed
      circuit_breaker: { failure_threshold: 1, open_seconds: 60 }
      limits: [{ name: year, limit: 3, window_seconds: 31536000 }]
      redis: ${JSON.stringify(fields)}`;
}

beforeAll(async () => {
  const certs = makeTestCertificates();
  [redis, sentinel, gw] = await Promise.all([
    startRedisTls(['--user', 'default', 'off', '--user', USER, 'on', `>${PASSWORD}`, '~*', '+@all'], certs),
    startRedisSentinel({
      tls: certs,
      adminPassword: 'admin-secret',
      dataUser: { username: USER, password: PASSWORD },
      sentinelPassword: 'sentinel-secret',
    }),
    startRateLimitGateway(),
  ]);
  const { ca, otherCa } = certs;
  const routes: [string, Record<string, unknown>][] = [
    ['tls', { ssl_ca_certificate: ca }],
    ['server-name', { ssl_ca_certificate: ca, server_name: 'localhost' }],
    ['no-verify', { ssl_ca_certificate: otherCa, ssl_verify: false }],
    ['wrong-ca', { ssl_ca_certificate: otherCa }],
    ['wrong-name', { ssl_ca_certificate: ca, server_name: 'redis.example.com' }],
    ['wrong-password', { ssl_ca_certificate: ca, password: 'not-the-password' }],
    ['plain', { ssl: false }],
    [
      'sentinel',
      {
        mode: 'sentinel',
        sentinel_master: sentinel.masterName,
        sentinel_nodes: sentinel.sentinels,
        sentinel_password: 'sentinel-secret',
        ssl_ca_certificate: ca,
      },
    ],
  ];
  gw.configure(`
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
${routes.map(([name]) => `      - { name: ${name}, paths: ["/${name}"] }`).join('\n')}
plugins:
${routes.map(([name, fields]) => route(name, fields)).join('\n')}
`);
});
afterAllNoFailOpen(() => [gw]);
afterAll(async () => {
  await Promise.all([redis?.stop(), sentinel?.stop()]);
  for (const dir of redis ? [redis.certs.dir, redis.dir] : []) fs.rmSync(dir, { recursive: true, force: true });
});

/** Sends one request; returns its status and the log lines it produced. */
async function send(path: string, key = 'client'): Promise<{ status: number; log: string[] }> {
  const before = gw.kong.log.length;
  const res = await gw.send({ path, headers: { 'x-api-key': key } });
  await res.report.logDone;
  return { status: res.status, log: gw.kong.log.slice(before) };
}

async function statuses(path: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send(path)).status);
  return out;
}

test('ssl with the CA and the ACL user: limits enforced, counters in the TLS server', async () => {
  expect(await statuses('/tls', 4)).toEqual([200, 200, 200, 429]);
  expect(await statuses('/server-name', 4)).toEqual([200, 200, 200, 429]);

  const direct = new Redis({
    host: '127.0.0.1',
    port: redis.port,
    tls: { ca: redis.certs.ca },
    username: USER,
    password: PASSWORD,
    lazyConnect: true,
  });
  try {
    await direct.connect();
    const keys = await direct.keys('bulwark-rl:{tls-tls:*');
    expect(keys).toHaveLength(1);
    expect(await direct.hget(keys[0]!, 'c')).toBe('3');
  } finally {
    direct.disconnect();
  }
});

test('ssl_verify false accepts a certificate that the configured CA did not sign', async () => {
  expect(await statuses('/no-verify', 4)).toEqual([200, 200, 200, 429]);
});

test.each([
  ['wrong-ca', /"connection_error":"[^"]*self-signed certificate in certificate chain/],
  [
    'wrong-name',
    /"connection_error":"[^"]*Hostname\/IP does not match certificate's altnames: Host: redis\.example\.com/,
  ],
  ['wrong-password', /WRONGPASS invalid username-password pair/],
  // A plain-text client on a TLS port: the server closes the connection.
  ['plain', /"connection_error":"[^"]*(ECONNRESET|Connection is closed|EPIPE)/],
])('%s: fail-closed answers 503 and the log says why', async (name, cause) => {
  const first = await send(`/${name}`);
  expect(first.status).toBe(503);
  const unavailable = first.log.filter((l) => l.includes('"event":"redis_unavailable"'));
  expect(unavailable).toHaveLength(1);
  expect(unavailable[0]).toContain('"policy":"fail-closed"');
  expect(unavailable[0]).toMatch(cause);
  // The breaker is open now: further requests are refused at once, without another log line.
  const again = await send(`/${name}`);
  expect(again.status).toBe(503);
  expect(again.log.filter((l) => l.includes('"event":"redis_'))).toEqual([]);
});

test('Sentinel over TLS: exact limits on the master the sentinels name, and again after a failover', async () => {
  const count = async (node: { host: string; port: number }, ns: string) => {
    const c = sentinel.adminClient(node);
    try {
      await c.connect();
      const keys = await c.keys(`bulwark-rl:{${ns}:*`);
      return Promise.all(keys.map((k) => c.hget(k, 'c')));
    } finally {
      c.disconnect();
    }
  };
  expect(await statuses('/sentinel', 4)).toEqual([200, 200, 200, 429]);
  const oldMaster = await sentinel.master();
  expect(await count(oldMaster, 'tls-sentinel')).toEqual(['3']);

  const newMaster = await sentinel.failover();
  const after: number[] = [];
  for (let i = 0; i < 20 && after.filter((s) => s !== 503).length < 2; i++)
    after.push((await send('/sentinel', 'client-2')).status);
  expect(after.filter((s) => s !== 503)).toEqual([200, 200]);
  // Both identities on the new master: the first replicated, the second written there after the switch.
  expect((await count(newMaster, 'tls-sentinel')).sort()).toEqual(['2', '3']);
});
