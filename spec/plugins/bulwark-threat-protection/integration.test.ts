// bulwark-threat-protection through the Kong emulator with the real plugin server (both servers:
// BULWARK_PLUGINSERVER=stock selects the stock one) and the echo upstream: enforce, monitor, exclusions, limits,
// CRS 4 from spec/fixtures and, when installed, Debian's CRS 3.3 (the plugin's default crs_path).
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  BOTH_PLUGIN_SERVERS,
  echoed,
  runsOnPluginServers,
  serverKind,
  startGateway,
  type Gateway,
} from '../../helpers/emulator';
import { REASON } from '../../../plugins/bulwark-threat-protection/reasons';

const CRS4 = path.resolve(__dirname, '../../fixtures/crs4/rules');
const CRS33 = '/usr/share/modsecurity-crs/rules';

/** A CRS 4 copy no instance compiled before (its content differs): its first request lands while it compiles. */
const FRESH = mkdtempSync(path.join(tmpdir(), 'bulwark-crs-fresh-'));
cpSync(CRS4, FRESH, { recursive: true });
appendFileSync(path.join(FRESH, 'REQUEST-930-APPLICATION-ATTACK-LFI.conf'), `\n# ${process.pid} ${Date.now()}\n`);

const CONFIG = `
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - { name: enforce, paths: ["/api"], strip_path: false }
      - { name: monitor, paths: ["/monitor"], strip_path: false }
      - { name: excluded, paths: ["/excluded"], strip_path: false }
      - { name: small, paths: ["/small"], strip_path: false }
      - { name: prefix, paths: ["/prefix"], strip_path: false }
      - { name: crs33, paths: ["/crs33"], strip_path: false }
      - { name: fresh, paths: ["/fresh"], strip_path: false }
plugins:
  - name: bulwark-threat-protection
    route: fresh
    config: { crs_path: ${JSON.stringify(FRESH)} }
  - name: bulwark-threat-protection
    route: enforce
    config: { crs_path: ${JSON.stringify(CRS4)} }
  - name: bulwark-threat-protection
    route: monitor
    config: { crs_path: ${JSON.stringify(CRS4)}, mode: monitor }
  - name: bulwark-threat-protection
    route: excluded
    config:
      crs_path: ${JSON.stringify(CRS4)}
      exclusions:
        - { targets: ["ARGS:comment", "ARGS:/^json\\\\.notes/"] }
  - name: bulwark-threat-protection
    route: small
    config: { crs_path: ${JSON.stringify(CRS4)}, limits: { max_value_bytes: 64, max_body_size: 200 } }
  - name: bulwark-threat-protection
    route: prefix
    config: { crs_path: ${JSON.stringify(CRS4)}, on_limit: scan_prefix, limits: { max_value_bytes: 64 } }
${existsSync(CRS33) ? '  - name: bulwark-threat-protection\n    route: crs33\n    config: {}\n' : ''}
`;

const SQLI = "1' UNION SELECT password FROM users--";
const XSS = '<script>alert(document.cookie)</script>';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

describe('bulwark-threat-protection integration (emulator + real plugin server)', () => {
  let gw: Gateway;
  let firstFresh: { status: number; log: string } | undefined;
  beforeAll(async () => {
    gw = await startGateway({ plugins: ['bulwark-threat-protection'] });
    gw.configure(CONFIG);
    // The instances compile their rules in the background from their first request on: wait until they answer.
    for (const route of ['/fresh', '/api', '/monitor', '/excluded', '/small', '/prefix', '/crs33']) {
      const started = gw.kong.log.length;
      const first = await gw.kong.request({ path: `${route}/start` });
      if (route === '/fresh') firstFresh = { status: first.status, log: gw.kong.log.slice(started).join('\n') };
      for (let i = 0; i < 600; i++) {
        const res = await gw.kong.request({ path: `${route}/start` });
        if (res.status !== 503) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }, 120_000);
  afterAll(async () => {
    rmSync(FRESH, { recursive: true, force: true });
    expect(gw.kong.unhandledExceptions()).toEqual([]);
    await gw?.stop();
  });

  const send = async (r: Parameters<Gateway['kong']['request']>[0]) => {
    const res = await gw.kong.request(r);
    expect(res.report.failOpen).toEqual([]);
    expect(res.report.luaErrors).toEqual([]);
    return res;
  };
  const logSince = (n: number) => gw.kong.log.slice(n).join('\n');

  test('a request while the rules still compile after instance start is refused (503, reason logged), not passed', () => {
    expect(firstFresh?.status).toBe(503);
    expect(firstFresh?.log).toContain(`"reason":"${REASON.rulesNotReady}"`);
  });

  test('benign requests pass untouched; 3 PDK calls + the decision record without a body', async () => {
    await send({ path: '/api/warm' });
    await send({ path: '/api/warm' });
    const res = await send({
      path: "/api/search?q=O'Brien%20%26%20Sons,%20open%20late&page=2",
      headers: { 'content-length': '0' },
    });
    expect(res.status).toBe(200);
    expect(echoed(res.body).path).toBe('/api/search');
    expect(res.report.rpcCallsByPlugin['bulwark-threat-protection']).toBe(5);
    const body = JSON.stringify({
      name: 'Jane Doe',
      email: 'jane@example.com',
      note: 'Please select a time; I am free "after 5".',
    });
    const post = await send({
      method: 'POST',
      path: '/api/orders',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(post.status).toBe(200);
    expect(echoed(post.body).body).toBe(body);
    expect(post.report.rpcCallsByPlugin['bulwark-threat-protection']).toBe(6); // + getRawBody
  }, 120_000);

  const pdkCalls = (res: Awaited<ReturnType<typeof send>>) =>
    res.report.pdkCalls.filter(([plugin]) => plugin === 'bulwark-threat-protection').map(([, method]) => method);

  test('the pass path: method, request line, headers, the decision record; the body only where there can be one', async () => {
    // HTTP/1.1 without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3): nothing to read.
    const get = await send({ path: '/api/search?q=shoes' });
    expect(get.status).toBe(200);
    expect(pdkCalls(get)).toEqual([
      'kong.request.get_method',
      'kong.nginx.get_var',
      'kong.request.get_headers',
      'kong.log.set_serialize_value',
    ]);
    expect(get.report.rpcCallsByPlugin['bulwark-threat-protection']).toBe(5); // + HandleEvent
    // HTTP/2 may carry a body without Content-Length: it is read and scanned.
    const h2 = await send({
      method: 'POST',
      path: '/api/orders',
      httpVersion: 2,
      body: JSON.stringify({ id: SQLI }),
      headers: { 'content-type': 'application/json' },
    });
    expect(h2.status).toBe(403);
    expect(pdkCalls(h2)).toContain('kong.request.get_raw_body');
    // So is a chunked HTTP/1.1 body.
    const chunked = await send({
      method: 'POST',
      path: '/api/orders',
      body: JSON.stringify({ id: SQLI }),
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    expect(chunked.status).toBe(403);
  });

  test('enforce: SQLi in a query argument → 403 in Kong style; the log names rules and ARGS:id, never the value', async () => {
    const n = gw.kong.log.length;
    const res = await send({ path: `/api/items?id=${encodeURIComponent(SQLI)}`, headers: { 'content-length': '0' } });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body.toString())).toEqual({ message: 'Forbidden' });
    expect(res.report.rpcCallsByPlugin['bulwark-threat-protection']).toBe(6); // as before the model moved to the engine thread
    const log = logSince(n);
    expect(log).toContain('request_blocked');
    expect(log).toContain(`"reason":"${REASON.threatDetected}"`);
    expect(log).toMatch(/"rule_id":"9\d{5}"/);
    expect(log).toContain('ARGS:id');
    expect(log).toMatch(/"category_scores":\{[^}]*"sqli":\d+/);
    expect(log).not.toContain('password');
  });

  // Kong hands a plugin server a header's bytes as they came (kong/runloop/plugin_servers/mp_rpc.lua packs Lua strings
  // as str of their bytes); the emulator does the same (kong/emulator/rpc.ts). U+DCxx below is the byte xx.
  test('headers whose bytes are not UTF-8: bulwark-pluginserver hands the plugin the bytes, which CRS reads as ModSecurity does', async () => {
    // 0xA0 (NBSP) is whitespace to libinjection (and MySQL): ModSecurity flags both (modsecurity.test.ts).
    const cookie = await send({ path: '/api/x', headers: { cookie: 'a=1\uDCA0OR\uDCA01=1' } });
    // 0xe0 before "<script>": @msgpack/msgpack's lenient decoding (the stock server's) turns 0xe0 '<' 's' into "༳".
    const agent = await send({ path: '/api/x', headers: { 'user-agent': '\uDCE0<script>alert(1)' } });
    if (serverKind() === 'bulwark') {
      expect([cookie.status, agent.status]).toEqual([403, 403]);
    } else {
      // The stock server (lenient decoding): the User-Agent reaches the plugin as "\u0f33cript>alert(1)", the tag
      // gone, and passes: the evasion this fixes. (Its lone 0xa0 decodes as U+00A0: that cookie is still caught.)
      expect([cookie.status, agent.status]).toEqual([403, 200]);
    }
  });

  test('enforce: XSS in a JSON leaf (named json.items.array_0.name), in a cookie and in the User-Agent; never Authorization', async () => {
    const n = gw.kong.log.length;
    const json = await send({
      method: 'POST',
      path: '/api/orders',
      body: JSON.stringify({ items: [{ name: XSS }] }),
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(403);
    expect(logSince(n)).toContain('ARGS:json.items.array_0.name');
    expect((await send({ path: '/api/x', headers: { cookie: `session=abc; pref=${XSS}` } })).status).toBe(403);
    expect((await send({ path: '/api/x', headers: { 'user-agent': `Mozilla ${XSS}` } })).status).toBe(403);
    expect((await send({ path: '/api/x', headers: { authorization: `Bearer ${SQLI}` } })).status).toBe(200);
  });

  test('enforce: form and multipart fields, path traversal and command injection', async () => {
    const form = await send({
      method: 'POST',
      path: '/api/form',
      body: `a=1&file=${encodeURIComponent('../../../../etc/passwd')}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(403);
    const boundary = 'XyZ';
    const mp = [
      `--${boundary}`,
      'Content-Disposition: form-data; name="cmd"',
      '',
      ';cat /etc/passwd',
      `--${boundary}--`,
      '',
    ].join('\r\n');
    const multipart = await send({
      method: 'POST',
      path: '/api/upload',
      body: mp,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    expect(multipart.status).toBe(403);
  });

  test('a malformed JSON body is a 400 (same hardening as bulwark-validator: duplicate keys refused)', async () => {
    const n = gw.kong.log.length;
    const res = await send({
      method: 'POST',
      path: '/api/orders',
      body: '{"a":1,"a":2}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.report.rpcCallsByPlugin['bulwark-threat-protection']).toBe(7); // as before the model moved to the engine thread (+ getRawBody)
    expect(logSince(n)).toMatch(
      new RegExp(
        `"reason":"${REASON.malformedBody}","detail":"JSON body: [^"]*duplicate[^"]*","status":400,"path":"/api/orders"`,
        'i',
      ),
    );
  });

  test('monitor: the attack reaches the upstream; the log says what would have been blocked', async () => {
    const n = gw.kong.log.length;
    const res = await send({ path: `/monitor/items?id=${encodeURIComponent(SQLI)}` });
    expect(res.status).toBe(200);
    expect(echoed(res.body).path).toBe('/monitor/items');
    const log = logSince(n);
    expect(log).toContain('threat_detected_monitor_only');
    expect(log).toContain(`"reason":"${REASON.threatDetected}"`);
    expect(log).toContain('ARGS:id');
  });

  test('exclusions: the excluded argument (and JSON path regex) is not scanned; other arguments still are', async () => {
    expect((await send({ path: `/excluded/c?comment=${encodeURIComponent(XSS)}` })).status).toBe(200);
    expect((await send({ path: `/excluded/c?other=${encodeURIComponent(XSS)}` })).status).toBe(403);
    const body = (notes: string, title: string) => JSON.stringify({ notes: [notes], title });
    const ok = await send({
      method: 'POST',
      path: '/excluded/n',
      body: body(XSS, 'hello'),
      headers: { 'content-type': 'application/json' },
    });
    expect(ok.status).toBe(200);
    const bad = await send({
      method: 'POST',
      path: '/excluded/n',
      body: body('fine', XSS),
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(403);
  });

  test('limits: a value or body over the cap is refused (413) by default; scan_prefix scans the first bytes', async () => {
    const n = gw.kong.log.length;
    const long = await send({ path: `/small/x?q=${'a'.repeat(65)}` });
    expect(long.status).toBe(413);
    expect(long.report.rpcCallsByPlugin['bulwark-threat-protection']).toBe(6); // HTTP/1.1, no Content-Length: no body read
    expect(logSince(n)).toContain(
      `"reason":"${REASON.scanLimitExceeded}","detail":"ARGS_GET:q is longer than 64 bytes","status":413,"path":"/small/x"`,
    );
    expect((await send({ path: `/small/x?q=${'a'.repeat(64)}` })).status).toBe(200);
    const big = await send({
      method: 'POST',
      path: '/small/x',
      body: 'x'.repeat(201),
      headers: { 'content-type': 'text/plain' },
    });
    expect(big.status).toBe(413);
    const m = gw.kong.log.length;
    expect((await send({ path: `/prefix/x?q=${'a'.repeat(100)}` })).status).toBe(200);
    expect(logSince(m)).toContain('"unscanned":["ARGS_GET:q (after 64 bytes)"]');
    expect((await send({ path: `/prefix/x?q=${encodeURIComponent(XSS)}${'a'.repeat(100)}` })).status).toBe(403);
  });

  (existsSync(CRS33) ? test : test.skip)(
    'the default crs_path: Debian CRS 3.3 blocks traversal and passes plain text',
    async () => {
      expect((await send({ path: `/crs33/f?file=${encodeURIComponent('../../../etc/passwd')}` })).status).toBe(403);
      expect((await send({ path: '/crs33/f?q=hello%20world' })).status).toBe(200);
    },
    120_000,
  );
});
