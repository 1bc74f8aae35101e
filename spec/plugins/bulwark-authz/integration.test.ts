// bulwark-authz through the Kong emulator with the real plugin server, behind real authentication plugins:
// identities from bulwark-jwt (signed tokens), bulwark-api-key (declarative keys) and bulwark-transport's mTLS
// (client certificates), the OWASP-style
// BOLA scenario, default deny, deny_status 404, monitor mode, and an AuthZEN decision point (a local HTTP peer
// that checks the exact AuthZEN 1.0 request format). Runs on both plugin servers.
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { pluginServerEntries } from '../../../kong/emulator/plugin-server';
import { issueKey } from '../../../plugins/bulwark-api-key/key-admin';
import { serializeKeyRecord } from '../../../plugins/bulwark-api-key/key-record';
import { jose } from '../../../plugins/lib/jose';
import { createTestPki, type TestPki } from '../../fixtures/pki/pki';
import {
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  serverKind,
  startGateway,
  type Gateway,
} from '../../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

// API keys (bulwark-api-key publishes subject = key id, scopes, labels as groups).
const keyNow = Date.now();
const reporter = issueKey(
  { prefix: 'bwk_test', id: 'reporter-1', scopes: ['reports:read'], labels: ['team-a'] },
  keyNow,
);
const plainKey = issueKey({ prefix: 'bwk_test', id: 'plain-1' }, keyNow);
const keyEntries = JSON.stringify([reporter.record, plainKey.record].map(serializeKeyRecord));

const ISSUER = 'https://idp.authz.test';
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PUBLIC_PEM = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();

async function token(sub: string, extra: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new (jose().SignJWT)({ sub, iss: ISSUER, aud: 'api', iat: now, exp: now + 600, ...extra } as never)
    .setProtectedHeader({ alg: 'ES256' })
    .sign(keys.privateKey);
}

/** A local AuthZEN 1.0 decision point: checks the exact request shape; alice may, everyone else may not. */
interface Pdp {
  url: string;
  hits: number;
  bad: string[];
  mode: 'ok' | 'hang' | 'error';
  close(): Promise<void>;
}
async function startPdp(): Promise<Pdp> {
  const pdp: Pdp = { url: '', hits: 0, bad: [], mode: 'ok', close: async () => {} };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      pdp.hits++;
      if (pdp.mode === 'hang') return; // never answers: the plugin's timeout must end it
      if (pdp.mode === 'error') {
        res.writeHead(500).end('{}');
        return;
      }
      const problems: string[] = [];
      if (req.method !== 'POST') problems.push(`method ${req.method}`);
      if (req.url !== '/access/v1/evaluation') problems.push(`path ${req.url}`);
      if (!/^application\/json/.test(req.headers['content-type'] ?? '')) problems.push('content-type');
      let q: Record<string, Record<string, unknown>> = {};
      try {
        q = JSON.parse(body);
      } catch {
        problems.push('body not JSON');
      }
      if (Object.keys(q).sort().join() !== 'action,context,resource,subject') problems.push(`keys ${Object.keys(q)}`);
      for (const k of ['subject', 'resource'])
        if (typeof q[k]?.type !== 'string' || typeof q[k]?.id !== 'string') problems.push(`${k}.type/id`);
      if (typeof q.action?.name !== 'string') problems.push('action.name');
      if (problems.length > 0) {
        pdp.bad.push(problems.join(', '));
        res.writeHead(400).end('{}');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ decision: q.subject!.id === 'alice' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  pdp.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/access/v1/evaluation`;
  pdp.close = () => new Promise((r) => server.close(() => r()));
  return pdp;
}

function config(pki: TestPki, pdpUrl: string): string {
  const root = JSON.stringify(pki.root.cert);
  const jwt = `{ issuers: [{ issuer: "${ISSUER}", keys: [${JSON.stringify(PUBLIC_PEM)}], audiences: [api] }], identity: { claims: [orgs] } }`;
  return `
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - { name: users, paths: ["/users"], strip_path: false }
      - { name: orders, paths: ["/orders"], strip_path: false }
      - { name: svc, paths: ["/svc"], strip_path: false }
      - { name: hidden, paths: ["/hidden"], strip_path: false }
      - { name: shadow, paths: ["/shadow"], strip_path: false }
      - { name: pdp, paths: ["/pdp"], strip_path: false }
      - { name: keyed, paths: ["/keyed"], strip_path: false }
plugins:
  - name: bulwark-transport
    config: { https: { enforce: false }, mtls: { enabled: true, required: false, ca_certificates: [${root}] } }
  - { name: bulwark-jwt, route: users, config: ${jwt} }
  - { name: bulwark-jwt, route: orders, config: ${jwt} }
  - { name: bulwark-jwt, route: hidden, config: ${jwt} }
  - { name: bulwark-jwt, route: shadow, config: ${jwt} }
  - { name: bulwark-jwt, route: pdp, config: ${jwt} }
  - { name: bulwark-api-key, route: keyed, config: { key_prefixes: [bwk_test], lockout: { enabled: false }, keys: ${keyEntries} } }
  - name: bulwark-authz
    service: api
    config:
      rules:
        - { name: own-orders, methods: [GET], path: "/users/{id}/orders", objects: [{ param: id, equals: subject }] }
        - { name: list-orders, methods: [GET], path: /orders, scopes_all: ["orders:read"] }
        - { name: create-order, methods: [POST], path: /orders, scopes_all: ["orders:write"] }
        - name: billing-service
          methods: [GET]
          path: "/svc/{name}"
          claims: [{ claim: san_uri, values: ["spiffe://example.com/ns/prod/sa/client-1"] }]
        - { name: reports, methods: [GET], path: /keyed/reports, scopes_all: ["reports:read"], groups_any: [team-a] }
        - { name: own-key, methods: [GET], path: "/keyed/keys/{key}", objects: [{ param: key, equals: credential.id }] }
  - name: bulwark-authz
    route: hidden
    config:
      deny_status: 404
      rules: [{ name: admins, path: /hidden/admin, groups_any: [admin] }]
  - name: bulwark-authz
    route: shadow
    config:
      mode: monitor
      rules: [{ name: admins, path: /shadow/admin, groups_any: [admin] }]
  - name: bulwark-authz
    route: pdp
    config:
      authzen: { url: "${pdpUrl}", allow_http: true, timeout_ms: 300, cache_ttl: 60 }
      rules: [{ name: pdp-decides, path: "/pdp/{doc}", authzen: true }]
`;
}

let pki: TestPki;
let gw: Gateway;
let prefix: string;
let pdp: Pdp;
beforeAll(async () => {
  pki = createTestPki();
  pdp = await startPdp();
  prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-authz-'));
  gw = await startGateway({
    entries: pluginServerEntries(serverKind(), prefix, [
      'bulwark-transport',
      'bulwark-jwt',
      'bulwark-api-key',
      'bulwark-authz',
    ]),
  });
  gw.configure(config(pki, pdp.url));
  // The stock server runs one process per plugin (four here), each queried and started in turn: slow under load.
}, 120_000);
afterAll(async () => {
  await pdp?.close();
  fs.rmSync(prefix, { recursive: true, force: true });
  pki?.remove();
});
afterAllNoFailOpen(() => [gw]);

type Req = Parameters<Gateway['kong']['request']>[0];
async function send(r: Req) {
  const res = await gw.kong.request({ scheme: 'https', ...r });
  expect(res.report.failOpen).toEqual([]);
  expect(res.report.luaErrors).toEqual([]);
  return res;
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const authzCalls = (res: { report: { rpcCallsByPlugin: Record<string, number> } }) =>
  res.report.rpcCallsByPlugin['bulwark-authz'];

describe('OWASP API1 (BOLA): two users with valid tokens', () => {
  test('A reads her own orders; A reading /users/B/orders is refused; ?id= duplication does not help', async () => {
    const alice = bearer(await token('alice'));
    const bob = bearer(await token('bob'));
    const own = await send({ path: '/users/alice/orders', headers: alice });
    expect(own.status).toBe(200);
    expect(own.report.upstreamRequest).toBeDefined();
    expect((await send({ path: '/users/bob/orders', headers: bob })).status).toBe(200);

    const other = await send({ path: '/users/bob/orders', headers: alice });
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body.toString())).toEqual({ message: 'Forbidden' });
    expect(other.report.upstreamRequest).toBeUndefined();
    expect(gw.kong.log.join('\n')).toMatch(/"event":"authz_denied","reason":"object_not_owned".*"rule":"own-orders"/);

    for (const target of [
      '/users/alice/orders?id=bob',
      '/users/bob/orders?id=alice',
      '/users/alice/orders?ID=bob',
      '/users/alice/orders?id[]=bob',
      '/users/alice/./orders/../orders?id=bob',
    ]) {
      const res = await send({ path: target, headers: alice });
      expect({ target, status: res.status }).toEqual({ target, status: 403 });
      expect(res.report.upstreamRequest).toBeUndefined();
    }
    // Encoded or dotted forms of someone else's id are the same id.
    expect((await send({ path: '/users/%62ob/orders', headers: alice })).status).toBe(403);
    expect((await send({ path: '/users/x/../bob/orders', headers: alice })).status).toBe(403);
  });
});

describe('identities from bulwark-jwt', () => {
  test("scopes decide per operation; an unknown operation is refused (default deny); no token is bulwark-jwt's 401", async () => {
    const reader = bearer(await token('r', { scope: 'orders:read' }));
    const writer = bearer(await token('w', { scp: ['orders:read', 'orders:write'] }));
    expect((await send({ path: '/orders', headers: reader })).status).toBe(200);
    expect((await send({ path: '/orders', method: 'POST', body: '{}', headers: reader })).status).toBe(403);
    expect((await send({ path: '/orders', method: 'POST', body: '{}', headers: writer })).status).toBe(200);
    expect((await send({ path: '/orders', method: 'DELETE', headers: writer })).status).toBe(403);
    expect((await send({ path: '/orders/export', headers: writer })).status).toBe(403);
    expect((await send({ path: '/orders' })).status).toBe(401);
  });

  test('a query with more pieces than Kong parses (1000) is refused with 400 before any decision', async () => {
    const reader = bearer(await token('r', { scope: 'orders:read' }));
    const query = Array.from({ length: 1001 }, (_, i) => `a${i}=1`).join('&');
    const res = await send({ path: `/orders?${query}`, headers: reader });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toEqual({ message: 'Too many query arguments' });
    expect(authzCalls(res)).toBeGreaterThan(0); // refused by bulwark-authz, not by an earlier plugin
    expect((await send({ path: `/orders?${query.split('&').slice(0, 1000).join('&')}`, headers: reader })).status).toBe(
      200,
    );
  });

  test('RPC round trips: allowed 5 (HandleEvent, getMethod, getPathWithQuery, identity get, decision record), refused 6 (+ log, deny record, exit unanswered)', async () => {
    const reader = bearer(await token('r', { scope: 'orders:read' }));
    for (let i = 0; i < 2; i++) await send({ path: '/orders', headers: reader }); // both workers' instances started
    const allowed = await send({ path: '/orders', headers: reader });
    const refused = await send({ path: '/orders', method: 'POST', body: '{}', headers: reader });
    process.stdout.write(`bulwark-authz round trips: allowed ${authzCalls(allowed)}, refused ${authzCalls(refused)}\n`);
    expect(authzCalls(allowed)).toBe(5);
    expect(authzCalls(refused)).toBe(6);
  });

  test('deny_status 404 hides the operation; monitor mode logs the would-be denial and lets it through', async () => {
    const user = bearer(await token('u'));
    const admin = bearer(await token('a', { groups: ['admin'] }));
    expect((await send({ path: '/hidden/admin', headers: user })).status).toBe(404);
    expect((await send({ path: '/hidden/other', headers: admin })).status).toBe(404);
    expect((await send({ path: '/hidden/admin', headers: admin })).status).toBe(200);
    const shadow = await send({ path: '/shadow/admin', headers: user });
    expect(shadow.status).toBe(200);
    expect(gw.kong.log.join('\n')).toMatch(/"event":"authz_would_deny","reason":"group_missing".*"mode":"monitor"/);
  });
});

describe('identities from bulwark-transport mTLS', () => {
  test("the certificate's SPIFFE id (a claim of the mtls identity) decides; another or no certificate is refused", async () => {
    const ok = await send({ path: '/svc/invoices', clientCertChainPem: pki.chains.client });
    expect(ok.status).toBe(200);
    expect((await send({ path: '/svc/invoices', clientCertChainPem: pki.alice.cert })).status).toBe(403);
    expect((await send({ path: '/svc/invoices' })).status).toBe(403);
  });
});

describe('identities from bulwark-api-key', () => {
  test('scopes and labels (groups) of the key decide; a key reads only its own record (object level)', async () => {
    const rep = { 'x-api-key': reporter.key };
    const plain = { 'x-api-key': plainKey.key };
    expect((await send({ path: '/keyed/reports', headers: rep })).status).toBe(200);
    const refused = await send({ path: '/keyed/reports', headers: plain });
    expect(refused.status).toBe(403);
    expect(refused.report.upstreamRequest).toBeUndefined();
    expect((await send({ path: '/keyed/keys/reporter-1', headers: rep })).status).toBe(200);
    expect((await send({ path: '/keyed/keys/plain-1', headers: rep })).status).toBe(403);
    expect((await send({ path: '/keyed/keys/plain-1', headers: plain })).status).toBe(200);
    expect((await send({ path: '/keyed/keys/plain-1?key=reporter-1', headers: plain })).status).toBe(403);
    expect((await send({ path: '/keyed/reports' })).status).toBe(401);
  });
});

describe('AuthZEN decision point', () => {
  test('exact request format; alice allowed, bob refused; the decision is cached per question', async () => {
    const alice = bearer(await token('alice'));
    const bob = bearer(await token('bob'));
    const before = pdp.hits;
    expect((await send({ path: '/pdp/doc-1', headers: alice })).status).toBe(200);
    expect((await send({ path: '/pdp/doc-1', headers: bob })).status).toBe(403);
    expect(pdp.bad).toEqual([]);
    const afterTwo = pdp.hits;
    expect(afterTwo - before).toBe(2);
    // The same question again (same worker or not): the cache answers at most once per worker instance.
    await send({ path: '/pdp/doc-1', headers: alice });
    await send({ path: '/pdp/doc-1', headers: alice });
    expect(pdp.hits - afterTwo).toBeLessThanOrEqual(1);
  });

  test('fail closed: an error status or no answer within timeout_ms is a 503, never a pass', async () => {
    const alice = bearer(await token('alice', { jti: 'fresh-question' }));
    pdp.mode = 'error';
    const failed = await send({ path: '/pdp/doc-2', headers: alice });
    expect(failed.status).toBe(503);
    expect(failed.report.upstreamRequest).toBeUndefined();
    pdp.mode = 'hang';
    const started = Date.now();
    const hung = await send({ path: '/pdp/doc-3', headers: alice });
    expect(hung.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(gw.kong.log.join('\n')).toMatch(/"event":"authzen_unavailable"/);
    pdp.mode = 'ok';
  });
});
