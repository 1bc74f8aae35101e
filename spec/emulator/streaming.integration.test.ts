// Streaming versus buffered proxying, over real HTTP through the gateway, with a server-sent-events upstream.
//
// Kong 3.9 (kong/runloop/plugins_iterator.lua line 398; kong/init.lua lines 1243-1256 and Kong.response() 1482-1565):
// a request is proxied with buffering (the whole upstream response read into memory before anything is sent) only
// when a plugin collected for it has a `response` handler (for an external plugin: `response` among its dumped
// Phases) or called kong.service.request.enable_buffering, and never for a websocket upgrade request
// (`$upstream_upgrade`, kong/runloop/handler.lua lines 1330-1337). Otherwise nginx's proxy_pass streams it.
//
// Each test asserts an ORDER, never a duration: the upstream sends its second event only once the client has
// received the first (or after a fallback delay, which a streamed response never waits for).
import { BLOCKED_USER_AGENT, untilThreatRulesReady } from '../helpers/threat-rules';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startGatewayServer, type RunningGateway } from '../../kong/emulator/gateway';
import { serverKind, BOTH_PLUGIN_SERVERS, runsOnPluginServers } from '../helpers/emulator';
import { freePort } from '../helpers/redis';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const root = path.resolve(__dirname, '../..');

/** What happened, in order: 'upstream:1', 'client:1', 'upstream:2', 'client:end'. */
interface Exchange {
  order: string[];
  /** Called when the client has the first event: lets the upstream send the second. */
  release: () => void;
  upstreamHeaders?: http.IncomingHttpHeaders;
}

interface SseUpstream {
  port: number;
  /** The next request's exchange; the upstream waits at most `fallbackMs` for the client's first event. */
  expect(fallbackMs: number): Exchange;
  close(): Promise<void>;
}

async function startSseUpstream(): Promise<SseUpstream> {
  let current: { exchange: Exchange; released: Promise<void> } | undefined;
  const server = http.createServer((req, res) => {
    const state = current;
    if (!state) {
      res.writeHead(500).end();
      return;
    }
    state.exchange.upstreamHeaders = req.headers;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      // What an SSE server behind nginx sends so that nginx's own proxy buffers do not hold events back.
      'X-Accel-Buffering': 'no',
      Server: 'sse-test/1.0',
    });
    res.write('event: tick\ndata: one\n\n');
    state.exchange.order.push('upstream:1');
    void state.released.then(() => {
      res.end('event: tick\ndata: two\n\n');
      state.exchange.order.push('upstream:2');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    expect(fallbackMs) {
      let release!: () => void;
      const released = new Promise<void>((r) => {
        const timer = setTimeout(r, fallbackMs);
        release = () => {
          clearTimeout(timer);
          r();
        };
      });
      const exchange: Exchange = { order: [], release };
      current = { exchange, released };
      return exchange;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

interface SseResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET an event stream; records 'client:1' the moment the first event has arrived and releases the upstream. */
function readEvents(
  exchange: Exchange,
  target: { port: number; tls?: boolean },
  p: string,
  headers: Record<string, string> = {},
): Promise<SseResult> {
  return new Promise((resolve, reject) => {
    const mod = target.tls ? https : http;
    const req = mod.request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: p,
        method: 'GET',
        headers: { accept: 'text/event-stream', ...headers },
        rejectUnauthorized: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const hadFirst = body.includes('data: one\n\n');
          body += chunk;
          if (!hadFirst && body.includes('data: one\n\n')) {
            exchange.order.push('client:1');
            exchange.release();
          }
        });
        res.on('end', () => {
          exchange.order.push('client:end');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// Starting Kong takes one query command per plugin (and, with the stock server, one process per plugin): slow on a
// loaded machine.
const START_TIMEOUT_MS = 120_000;
const STREAMED_FALLBACK_MS = 15_000; // never reached when the response streams
const BUFFERED_FALLBACK_MS = 500; // a buffered response can only ever be released by this

describe('streaming vs buffered proxying (gateway over HTTP, SSE upstream)', () => {
  let gw: RunningGateway;
  let sse: SseUpstream;
  let starting: Promise<RunningGateway> | undefined;

  beforeAll(async () => {
    sse = await startSseUpstream();
    starting = startGatewayServer({
      declarativeConfig: `
_format_version: "3.0"
services:
  - name: events
    url: http://sse:8080
    routes:
      - { name: plain, paths: ["/plain"] }
      - { name: opted-in, paths: ["/opted-in"] }
plugins:
  - name: bulwark-transport
    service: events
    config: { https: { enforce: false } }
  - name: bulwark-response-headers
    route: opted-in
`,
      proxyPort: 0,
      adminPort: 0,
      plugins: ['bulwark-transport', 'bulwark-response-headers'],
      server: serverKind(),
      upstreamAliases: { sse: { host: '127.0.0.1', port: sse.port } },
    });
    gw = await starting;
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    // Also when beforeAll timed out: the plugin servers must not outlive the suite.
    await (await starting?.catch(() => undefined))?.close();
    await sse?.close();
  });

  test('no plugin with a response handler on the route: streamed, the client has the first event before the upstream sends the second', async () => {
    const ex = sse.expect(STREAMED_FALLBACK_MS);
    const res = await readEvents(ex, { port: gw.proxyPort }, '/plain/events');
    expect(res.status).toBe(200);
    expect(ex.order).toEqual(['upstream:1', 'client:1', 'upstream:2', 'client:end']);
    expect(res.body).toBe('event: tick\ndata: one\n\nevent: tick\ndata: two\n\n');
    // bulwark-transport's access-phase headers are on the streamed response; the upstream's pass through.
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.headers.server).toBe('sse-test/1.0');
    expect(res.headers['content-length']).toBeUndefined(); // the upstream's framing (chunked) is kept
  });

  test('the response-phase opt-in (bulwark-response-headers) buffers ITS route only: nothing reaches the client before the upstream has finished', async () => {
    const ex = sse.expect(BUFFERED_FALLBACK_MS);
    const res = await readEvents(ex, { port: gw.proxyPort }, '/opted-in/events');
    expect(res.status).toBe(200);
    expect(ex.order).toEqual(['upstream:1', 'upstream:2', 'client:1', 'client:end']);
    expect(res.body).toBe('event: tick\ndata: one\n\nevent: tick\ndata: two\n\n');
    expect(res.headers.server).toBe('kong/3.9.3'); // the upstream's Server removed; Kong adds its own when none is left
    expect(res.headers['x-content-type-options']).toBe('nosniff');

    // The same service's other route is still streamed.
    const plain = sse.expect(STREAMED_FALLBACK_MS);
    await readEvents(plain, { port: gw.proxyPort }, '/plain/events');
    expect(plain.order).toEqual(['upstream:1', 'client:1', 'upstream:2', 'client:end']);
  });

  test('init.lua 1243-1256: a websocket upgrade request is never buffered, even with a response handler (which then does not run)', async () => {
    const before = gw.kong.log.length;
    const ex = sse.expect(STREAMED_FALLBACK_MS);
    const res = await readEvents(ex, { port: gw.proxyPort }, '/opted-in/events', {
      Connection: 'Upgrade',
      Upgrade: 'WebSocket',
    });
    expect(ex.order).toEqual(['upstream:1', 'client:1', 'upstream:2', 'client:end']);
    expect(res.headers.server).toBe('sse-test/1.0'); // bulwark-response-headers' response handler did not run
    expect(gw.kong.log.slice(before).join('\n')).toContain(
      '[notice] response buffering was turned off: connection upgrade (websocket)',
    );
    // handler.lua 1330-1337 + nginx_kong.lua proxy_set_header: the upstream is asked to upgrade.
    expect(ex.upstreamHeaders?.upgrade).toBe('websocket');
    expect(ex.upstreamHeaders?.connection).toBe('keep-alive, Upgrade');
  });
});

/** A throw-away self-signed certificate for the TLS listener. */
function selfSignedCertificate(): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-stream-tls-'));
  try {
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    if (r.status !== 0) throw new Error('openssl failed');
    return {
      key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'),
      cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function get(port: number, p: string, headers: Record<string, string>): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: p, method: 'GET', headers, rejectUnauthorized: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function post(
  port: number,
  p: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: p, method: 'POST', headers, rejectUnauthorized: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe("kong.yml's whole chain streams: bulwark-transport, bulwark-jwt (token from bulwark-oauth2), bulwark-rate-limit, bulwark-validator", () => {
  let gw: RunningGateway;
  let sse: SseUpstream;
  let starting: Promise<RunningGateway> | undefined;
  const savedKey = process.env.BULWARK_OAUTH2_SIGNING_KEY;

  beforeAll(async () => {
    sse = await startSseUpstream();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    process.env.BULWARK_OAUTH2_SIGNING_KEY = JSON.stringify({ ...privateKey.export({ format: 'jwk' }), alg: 'ES256' });
    // kong.yml points bulwark-jwt at the gateway's own JWKS on port 8000: use a free port instead.
    const proxyPort = await freePort();
    const config = fs
      .readFileSync(path.join(root, 'kong.yml'), 'utf8')
      .replace('http://127.0.0.1:8000/', `http://127.0.0.1:${proxyPort}/`);
    starting = startGatewayServer({
      declarativeConfig: config,
      proxyPort,
      adminPort: 0,
      server: serverKind(),
      // The compose stack's echo upstream is replaced by the SSE one.
      upstreamAliases: { echo: { host: '127.0.0.1', port: sse.port } },
      tls: { ...selfSignedCertificate(), port: 0 },
    });
    gw = await starting;
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    await (await starting?.catch(() => undefined))?.close();
    await sse?.close();
    if (savedKey === undefined) delete process.env.BULWARK_OAUTH2_SIGNING_KEY;
    else process.env.BULWARK_OAUTH2_SIGNING_KEY = savedKey;
  });

  test('GET /orders with a valid token: every plugin runs in access, none buffers, events arrive one by one', async () => {
    const form = 'grant_type=client_credentials';
    const tokenRes = await post(
      gw.tlsPort!,
      '/oauth2/token',
      {
        authorization: `Basic ${Buffer.from('demo-client:demo-secret-change-me').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(form.length),
      },
      form,
    );
    expect(tokenRes.status).toBe(200);
    const token = (JSON.parse(tokenRes.body) as { access_token: string }).access_token;

    // kong.yml's bulwark-threat-protection answers 503 until its rules are compiled; its 403 means it is ready.
    const blocked = await untilThreatRulesReady(() =>
      get(gw.tlsPort!, '/orders?limit=5', { authorization: `Bearer ${token}`, 'user-agent': BLOCKED_USER_AGENT }),
    );
    expect(blocked).toBe(403);

    const ex = sse.expect(STREAMED_FALLBACK_MS);
    const res = await readEvents(ex, { port: gw.tlsPort!, tls: true }, '/orders?limit=5', {
      authorization: `Bearer ${token}`,
    });
    expect(res.status).toBe(200);
    expect(ex.order).toEqual(['upstream:1', 'client:1', 'upstream:2', 'client:end']);
    expect(res.body).toBe('event: tick\ndata: one\n\nevent: tick\ndata: two\n\n');
    // The chain really ran: the verified subject reached the upstream, transport's headers and HSTS the client,
    // bulwark-rate-limit its headers.
    expect(ex.upstreamHeaders?.['x-auth-subject']).toBe('demo-client');
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(Object.keys(res.headers).some((h) => h.startsWith('ratelimit') || h.startsWith('x-ratelimit'))).toBe(true);
  });
});
