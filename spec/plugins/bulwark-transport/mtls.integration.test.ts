// bulwark-transport's client-certificate authentication through the Kong emulator with the real plugin server:
// the certificate phase of the GLOBAL config requests the certificate, access verifies it.
// The probe fixture plugin (priority 1000, after bulwark-transport's 2600) reports which consumer Kong has
// for the request and which of its configs Kong chose (a consumer-scoped one once a consumer is set).
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { pluginServerEntries } from '../../../kong/emulator/plugin-server';
import { startGatewayServer, type RunningGateway } from '../../../kong/emulator/gateway';
import {
  fixturePluginsRoot,
  probeResults,
  serverKind,
  startGateway,
  type Gateway,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../../helpers/emulator';
import { createTestPki, type TestPki } from '../../fixtures/pki/pki';
import { startEchoUpstream } from '../../../kong/echo-upstream/server';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const pem = (text: string) => JSON.stringify(text); // a YAML double-quoted scalar is a JSON string

function config(pki: TestPki): string {
  const root = pem(pki.root.cert);
  return `
_format_version: "3.0"
consumers:
  - username: client-1.example.com
  - username: alice
  - username: guest
services:
  - name: api
    url: ECHO
    routes:
      - { name: strict, paths: ["/strict"] }
      - { name: optional, paths: ["/optional"] }
      - { name: plain, paths: ["/plain"] }
      - { name: spiffe-only, paths: ["/spiffe-only"] }
plugins:
  # GLOBAL: the only config Kong runs the certificate phase for. Certificate required, mapped to consumers.
  - name: bulwark-transport
    config:
      mtls: { enabled: true, ca_certificates: [${root}], consumer_by: [san, cn] }
  - name: bulwark-transport
    route: optional
    config:
      mtls: { enabled: true, required: false, ca_certificates: [${root}], consumer_by: [cn], anonymous: guest }
  - name: bulwark-transport
    route: plain
    config:
      https: { enforce: false }
      mtls: { enabled: true, ca_certificates: [${root}] }
  - name: bulwark-transport
    route: spiffe-only
    config:
      mtls: { enabled: true, ca_certificates: [${root}], allowed_subjects: ["spiffe://example.com/ns/prod/sa/client-1"] }
  - name: probe
    config: { tag: global }
  - name: probe
    consumer: alice
    config: { tag: for-alice }
`;
}

/** bulwark-transport from dist/plugins plus the probe fixture, each in its plugin server (one prefix). */
async function startWithProbe(): Promise<{ gw: Gateway; prefix: string }> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-mtls-'));
  const kind = serverKind();
  const entries = [
    ...pluginServerEntries(kind, prefix, ['bulwark-transport']),
    ...pluginServerEntries(kind, prefix, ['probe'], fixturePluginsRoot),
  ];
  return { gw: await startGateway({ entries }), prefix };
}

const PROBE_CONSUMER = { 'x-probe-access': JSON.stringify([['client.getConsumer'], ['client.getCredential']]) };

describe('bulwark-transport mTLS (global requester + route configs)', () => {
  let pki: TestPki;
  let gw: Gateway;
  let prefix: string;
  // 120 s: a test PKI (openssl key generation) plus the stock plugin server's start took over 30 s at load 14.
  beforeAll(async () => {
    pki = createTestPki();
    ({ gw, prefix } = await startWithProbe());
    gw.configure(config(pki));
  }, 120_000);
  afterAllNoFailOpen(() => [gw]);
  afterAll(async () => {
    fs.rmSync(prefix, { recursive: true, force: true });
    pki?.remove();
  });

  const tls = (p: string, clientCertChainPem?: string, headers: Record<string, string> = {}) =>
    gw.kong.request({ path: p, scheme: 'https', clientCertChainPem, headers: { ...PROBE_CONSUMER, ...headers } });

  const expectNoFailOpen = (res: { report: { failOpen: unknown[] } }) => expect(res.report.failOpen).toEqual([]);

  test('the global config runs in the certificate phase; a valid chain passes and is mapped to the consumer named by its SAN', async () => {
    const res = await tls('/strict', pki.chains.client);
    expectNoFailOpen(res);
    expect(res.status).toBe(200);
    expect(res.report.events[0]).toEqual(['bulwark-transport', 'certificate']);
    const probe = probeResults(res.body);
    expect(probe.results[0]).toMatchObject({ username: 'client-1.example.com' });
    expect(probe.results[1]).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // Nothing about the certificate is forwarded upstream by this plugin.
    const upstream = res.report.upstreamRequest!;
    expect([...upstream.headers.entries()].map(([k]) => k).filter((k) => /cert|consumer|ssl/i.test(k))).toEqual([]);
  });

  test('a consumer set by bulwark-transport selects the consumer-scoped config of a later plugin', async () => {
    const res = await tls('/strict', pki.alice.cert);
    expectNoFailOpen(res);
    expect(res.status).toBe(200);
    const probe = probeResults(res.body);
    expect(probe.config.tag).toBe('for-alice');
    expect(probe.results[0]).toMatchObject({ username: 'alice' });
  });

  test.each([
    ['untrusted CA', () => pki.stranger.cert, 'Client certificate not accepted'],
    ['expired', () => pki.expired.cert, 'Client certificate not accepted'],
    ['signed by a non-CA', () => pki.chains.forged, 'Client certificate not accepted'],
    ['server certificate (EKU serverAuth)', () => pki.serverEku.cert, 'Client certificate not accepted'],
    ['no certificate', () => undefined, 'Client certificate required'],
  ])('%s → 401 with a generic Kong-style body, never proxied', async (_name, chain, message) => {
    const res = await tls('/strict', chain());
    expectNoFailOpen(res);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString())).toEqual({ message });
    expect(res.report.upstreamRequest).toBeUndefined();
  });

  test("the precise reason goes to Kong's log", async () => {
    await tls('/strict', pki.expired.cert);
    expect(gw.kong.log.join('\n')).toMatch(/"event":"mtls_rejected","reason":"expired"/);
  });

  test('a certificate sent in a request header (spoofing attempt) is ignored: 401', async () => {
    const res = await tls('/strict', undefined, {
      'x-client-cert': encodeURIComponent(pki.chains.client),
      'ssl-client-cert': pki.alice.cert.replace(/\n/g, ' '),
      'x-ssl-client-cert': 'verified',
    });
    expectNoFailOpen(res);
    expect(res.status).toBe(401);
  });

  test('required=false: no certificate → 200 as the anonymous consumer; a valid one → its consumer', async () => {
    const none = await tls('/optional');
    expectNoFailOpen(none);
    expect(none.status).toBe(200);
    expect(probeResults(none.body).results[0]).toMatchObject({ username: 'guest' });
    const alice = await tls('/optional', pki.alice.cert);
    expect(alice.status).toBe(200);
    expect(probeResults(alice.body).results[0]).toMatchObject({ username: 'alice' });
    const untrusted = await tls('/optional', pki.stranger.cert);
    expect(untrusted.status).toBe(200);
    expect(probeResults(untrusted.body).results[0]).toMatchObject({ username: 'guest' });
  });

  test('https.enforce=false does not open an mTLS route to plain HTTP: 401, even with a certificate header', async () => {
    const res = await gw.kong.request({
      path: '/plain',
      headers: { 'x-client-cert': encodeURIComponent(pki.chains.client) },
    });
    expectNoFailOpen(res);
    expect(res.status).toBe(401);
    expect(res.report.upstreamRequest).toBeUndefined();
    const overTls = await tls('/plain', pki.chains.client);
    expect(overTls.status).toBe(200);
  });

  test('allowed_subjects: the SPIFFE URI SAN passes, another valid certificate does not', async () => {
    expect((await tls('/spiffe-only', pki.chains.client)).status).toBe(200);
    expect((await tls('/spiffe-only', pki.alice.cert)).status).toBe(401);
  });
});

describe('bulwark-transport mTLS on a route without a global requester', () => {
  let pki: TestPki;
  let gw: Gateway;
  beforeAll(async () => {
    pki = createTestPki();
    gw = await startGateway({ plugins: ['bulwark-transport'] });
    gw.configure(`
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes: [{ name: r, paths: ["/"] }]
plugins:
  - name: bulwark-transport
    route: r
    config:
      mtls: { enabled: true, ca_certificates: [${pem(pki.root.cert)}] }
`);
  });
  afterAllNoFailOpen(() => [gw]);
  afterAll(async () => {
    pki?.remove();
  });

  test('fails closed: a valid certificate cannot be seen (never requested) → 401, and the log says a global config must request it', async () => {
    const res = await gw.kong.request({ path: '/x', scheme: 'https', clientCertChainPem: pki.chains.client });
    expect(res.report.failOpen).toEqual([]);
    expect(res.report.events.map(([, phase]) => phase)).not.toContain('certificate');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString())).toEqual({ message: 'Client certificate required' });
    expect(gw.kong.log.join('\n')).toMatch(/"reason":"no_certificate".*GLOBAL plugin configs only/);
  });
});

describe('bulwark-transport mTLS over a real TLS listener', () => {
  let pki: TestPki;
  let server: RunningGateway;
  let echo: Awaited<ReturnType<typeof startEchoUpstream>>;
  beforeAll(async () => {
    pki = createTestPki();
    echo = await startEchoUpstream(0);
    server = await startGatewayServer({
      server: serverKind(),
      plugins: ['bulwark-transport'],
      declarativeConfig: `
_format_version: "3.0"
consumers: [{ username: client-1.example.com }]
services:
  - name: api
    url: http://127.0.0.1:${echo.port}
    routes: [{ name: r, paths: ["/"] }]
plugins:
  - name: bulwark-transport
    config:
      mtls: { enabled: true, ca_certificates: [${pem(pki.root.cert)}], consumer_by: [san] }
`,
      proxyPort: 0,
      adminPort: 0,
      tls: { key: pki.server.key, cert: pki.server.cert, port: 0 },
    });
  });
  afterAll(async () => {
    expect(server.kong.unhandledExceptions()).toEqual([]);
    await server?.close();
    await echo?.close();
    pki?.remove();
  });

  const get = (opts: { cert?: string; key?: string }) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: server.tlsPort,
          path: '/orders',
          servername: 'localhost',
          ca: pki.root.cert,
          rejectUnauthorized: false,
          ...opts,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  test('a client presenting leaf + intermediate over TLS gets through; without a certificate it gets 401', async () => {
    const ok = await get({ cert: pki.chains.client, key: pki.client.key });
    expect(ok.status).toBe(200);
    const none = await get({});
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toEqual({ message: 'Client certificate required' });
  });
});
