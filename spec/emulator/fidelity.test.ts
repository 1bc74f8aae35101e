// Kong 3.9 behaviours the emulator must reproduce because a Bulwark plugin could trip over them; each test cites
// the Kong 3.9.3 source it follows.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeMultiStream, encode } from '@msgpack/msgpack';
import { KongEmulator, EndlessRetryError } from '../../kong/emulator/kong';
import { pluginServerEntries } from '../../kong/emulator/plugin-server';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import {
  startGateway,
  Gateway,
  fixturePluginsRoot,
  probeResults,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  probeCalls,
} from '../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const ALICE = '8a2d9d0e-6c51-4d8f-9b7a-3e1f2c4d5e6f';
const CONFIG = `
_format_version: "3.0"
services:
  - name: echo
    url: ECHO
    routes:
      - name: main
        paths: ["/api"]
consumers:
  - id: ${ALICE}
    username: alice
plugins:
  - name: probe
    route: main
`;

describe('Kong PDK semantics (probe plugin over the real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'] });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  test('kong/pdk/client.lua load_consumer (lines 187-211): a non-UUID id without search_by_username is a Lua error (500 in access)', async () => {
    const bad = await gw.kong.request({
      path: '/api/x',
      headers: { 'x-probe-access': probeCalls(['client.loadConsumer', 'alice', false]) },
    });
    expect(bad.status).toBe(500);
    expect(bad.report.luaErrors[0].message).toBe('cannot load a consumer with an id that is not a uuid');
    expect(bad.report.upstreamRequest).toBeUndefined();

    // A UUID (kong/tools/uuid.lua is_valid_uuid, case-insensitive) is looked up by id; by username when asked.
    const probe = async (...args: unknown[]) => {
      const res = await gw.kong.request({
        path: '/api/x',
        headers: { 'x-probe-access': probeCalls(['client.loadConsumer', ...args]) },
      });
      expect(res.report.luaErrors).toEqual([]);
      return probeResults(res.body).results[0];
    };
    expect(await probe(ALICE, false)).toMatchObject({ id: ALICE, username: 'alice' });
    expect(await probe(ALICE.toUpperCase(), false)).toBe('<nil>'); // valid UUID, no such id: nil, no error
    expect(await probe('alice', true)).toMatchObject({ id: ALICE });
    expect(await probe('nobody', true)).toBe('<nil>');
  });

  test('kong.router.get_route returns the DAO entity: service is the foreign key { id } (kong/db/schema/entities/routes.lua 3.9.3 line 179), defaults filled', async () => {
    const res = await gw.kong.request({
      path: '/api/x',
      headers: { 'x-probe-access': probeCalls(['router.getRoute'], ['router.getService']) },
    });
    const [route, service] = probeResults(res.body).results as Record<string, unknown>[];
    expect(route).toMatchObject({
      name: 'main',
      service: { id: service.id },
      path_handling: 'v0',
      request_buffering: true,
      response_buffering: true,
    });
    expect(service).toMatchObject({ name: 'echo', protocol: 'http', retries: 5, connect_timeout: 60000 });
  });

  test('kong/pdk/request.lua line 416 get_path = kong/tools/uri.lua normalize(raw, true): reserved escapes stay, `/x/.` keeps its slash', async () => {
    const getPath = async (raw: string) => {
      const res = await gw.kong.request({
        path: raw,
        headers: { 'x-probe-access': probeCalls(['request.getPath'], ['request.getRawPath']) },
      });
      expect(res.report.luaErrors).toEqual([]);
      return probeResults(res.body).results;
    };
    expect(await getPath('/api/a%3Fb%25c%40d%2fe')).toEqual(['/api/a%3Fb%25c%40d%2Fe', '/api/a%3Fb%25c%40d%2fe']);
    expect(await getPath('/api/%7Euser/%41%20b')).toEqual(['/api/~user/A b', '/api/%7Euser/%41%20b']);
    expect(await getPath('/api/x/.')).toEqual(['/api/x/', '/api/x/.']);
    expect(await getPath('/api/x/./y/../z')).toEqual(['/api/x/z', '/api/x/./y/../z']);
    expect(await getPath('/api//x/..')).toEqual(['/api/', '/api//x/..']);
    expect(await getPath('/api/%2e%2e/api/q')).toEqual(['/api/q', '/api/%2e%2e/api/q']);
  });

  test('kong/pdk/service/request.lua 3.9.3 lines 280-291 clear_query_arg = resty.ada.search.remove: the whole rest of the query is re-serialised WHATWG-style', async () => {
    const upstreamQuery = async (query: string, ...calls_: unknown[][]) => {
      const res = await gw.kong.request({
        path: `/api/x?${query}`,
        headers: { 'x-probe-access': probeCalls(...calls_) },
      });
      expect(res.report.luaErrors).toEqual([]);
      return new URL(res.report.upstreamRequest!.url, 'http://u').search.slice(1);
    };
    // t/01-pdk/06-service-request/14-clear_query_arg.t TEST 7: order kept, every occurrence removed.
    expect(await upstreamQuery('a=0&d=1&a=2&c=3&a=4&b=5&a=6&d=7&a=8', ['service.request.clearQueryArg', 'a'])).toBe(
      'd=1&c=3&b=5&d=7',
    );
    // The rest re-encoded: %20 → +, / → %2F, , → %2C, ~ → %7E, a bare name gets `=`, a stray % becomes %25.
    expect(
      await upstreamQuery('token=x&q=a%20b&p=/x,y~&flag&&e=%zz&u=%C3%A9', ['service.request.clearQueryArg', 'token']),
    ).toBe('q=a+b&p=%2Fx%2Cy%7E&flag=&e=%25zz&u=%C3%A9');
    // Names match after form-decoding; an absent name still re-encodes everything.
    expect(
      await upstreamQuery('access+token=1&acc%65ss%20token=2&x=1', ['service.request.clearQueryArg', 'access token']),
    ).toBe('x=1');
    expect(await upstreamQuery('q=a%20b', ['service.request.clearQueryArg', 'absent'])).toBe('q=a+b');
  });

  test('kong/pdk/response.lua 3.9.3 lines 1015-1021 exit encodes a table body with cjson as kong/globalpatches.lua 19-21 sets it up', async () => {
    const exitBody = async (body: unknown) => {
      const res = await gw.kong.request({
        path: '/api/x',
        headers: { 'x-probe-access': probeCalls(['exit', 403, body]) },
      });
      expect(res.status).toBe(403);
      expect(res.headers.first('content-type')).toBe('application/json; charset=utf-8');
      return res.body.toString('utf8');
    };
    // `/` escaped (encode_escape_forward_slash default), DEL and control characters as \u escapes.
    expect(await exitBody({ message: 'see /docs\u007f\u0001\n' })).toBe('{"message":"see \\/docs\\u007f\\u0001\\n"}');
    // An empty array (an empty Lua table) is an object; null members vanish (nil in a Lua table), trailing nulls too.
    expect(await exitBody({ errors: [], gone: null, list: [1, null, 2, null] })).toBe(
      '{"errors":{},"list":[1,null,2]}',
    );
    // encode_number_precision(16): %.16g.
    expect(await exitBody({ a: 2 ** 60, b: 0.1, c: 1 / 3, d: 2 ** 53, e: 1e21 })).toBe(
      '{"a":1.152921504606847e+18,"b":0.1,"c":0.3333333333333333,"d":9007199254740992,"e":1e+21}',
    );
  });

  test('kong/pdk/service/request.lua 3.9.3 lines 44-62 set_query = make_ordered_args: ngx.encode_args per key, pieces sorted, %20 for space', async () => {
    const res = await gw.kong.request({
      path: '/api/x?old=1',
      headers: {
        'x-probe-access': probeCalls([
          'service.request.setQuery',
          { foo: 'hello world', bar: ['baz', 'bla', true], zzz: true, blo: '', ex: "!'()*~", n: 1.5 },
        ]),
      },
    });
    // The example of the function's own documentation, plus lua-nginx-module's uri_component escaping of !'()*.
    expect(new URL(res.report.upstreamRequest!.url, 'http://u').search.slice(1)).toBe(
      'bar=baz&bar=bla&bar&blo=&ex=%21%27%28%29%2A~&foo=hello%20world&n=1.5&zzz',
    );
  });
});

describe('kong.log.set_serialize_value and the log phase kong.log.serialize (what Bulwark decision records rely on)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'] });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  test('kong/pdk/log.lua 3.9.3 set_serialize_value (lines 636-662) in access and response, edit_result (708-755) in the entry plugin_servers/plugin.lua saves for the log phase (line 163, returned by kong.log.serialize lines 47-50): dotted keys nest, tables survive, the last "set" wins, "add" keeps, "replace" skips a missing key', async () => {
    const set = (key: string, value: unknown, mode?: string) => [
      'log.setSerializeValue',
      key,
      value,
      ...(mode ? [{ mode }] : []),
    ];
    const allow = { decision: 'allow', reason: 'allowed', mode: 'enforce', operation: { path_template: '/a/{id}' } };
    const res = await gw.kong.request({
      path: '/api/serialize-values',
      headers: {
        'x-probe-access': probeCalls(
          set('bulwark.decisions.bulwark-jwt', { decision: 'deny', reason: 'x', status: 401, mode: 'enforce' }),
          set('bulwark.decisions.bulwark-jwt', allow),
          set('bulwark.decisions.bulwark-jwt', { decision: 'other' }, 'add'),
          set('missing.key', 1, 'replace'),
          set('request.method', 'REPLACED', 'replace'),
        ),
        'x-probe-response': probeCalls(
          set('bulwark.decisions.bulwark-rate-limit', { n: 429, list: [1, 'two', false] }),
        ),
        'x-probe-log': probeCalls(['log.serialize']),
      },
    });
    expect(res.report.luaErrors).toEqual([]);
    await res.report.logDone;
    const line = gw.kong.log.find((l) => l.includes('probe-log-results'))!;
    const [text] = JSON.parse(line.slice(line.indexOf('probe-log-results ') + 18)) as [string];
    const entry = JSON.parse(text) as Record<string, unknown>;
    expect(entry.bulwark).toEqual({
      decisions: { 'bulwark-jwt': allow, 'bulwark-rate-limit': { n: 429, list: [1, 'two', false] } },
    });
    expect(entry.missing).toBeUndefined();
    expect((entry.request as Record<string, unknown>).method).toBe('REPLACED');
  });
});

describe('plugin_servers/plugin.lua get_instance_id: a request waits at most WAIT_TIME for an instance another request is starting', () => {
  let gw: Gateway;
  beforeAll(async () => {
    // WAIT_TIME is 10 s in Kong 3.9.3 (plugin.lua lines 229-254); shortened here so the test does not wait 10 s.
    gw = await startGateway({
      pluginsRoot: fixturePluginsRoot,
      plugins: ['probe'],
      workers: 1,
      instanceClaimWaitMs: 200,
    });
    gw.configure(CONFIG.replace('route: main', 'route: main\n    config: { start_block_ms: 1500 }'));
  });
  afterAll(async () => gw?.stop());

  test('the waiting request skips the plugin (fail-open, "Could not claim instance_id"); the starting one runs it', async () => {
    const headers = { 'x-probe-access': probeCalls() };
    const starter = gw.kong.request({ path: '/api/a', headers });
    await new Promise((r) => setTimeout(r, 20));
    const waiter = await gw.kong.request({ path: '/api/b', headers });
    expect(waiter.report.failOpen).toEqual([
      expect.objectContaining({ kind: 'instance-claim-timeout', plugin: 'probe', phase: 'access' }),
    ]);
    expect(waiter.report.failOpen[0].detail).toMatch(/^Could not claim instance_id for probe \(key: /);
    expect(waiter.status).toBe(200); // proxied without the plugin: what Kong does
    expect(waiter.report.upstreamRequest?.headers.first('x-probe-results')).toBeUndefined();
    const started = await starter;
    expect(started.report.failOpen).toEqual([]);
    expect(started.report.upstreamRequest?.headers.first('x-probe-results')).toBeDefined();
  });
});

describe('rpc/mp_rpc.lua Rpc:call: a step without reply within lua_socket_read_timeout', () => {
  let gw: Gateway;
  beforeAll(async () => {
    // nginx's lua_socket_read_timeout is 60 s; shortened here.
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'], rpcTimeoutMs: 1500 });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  test('is logged and the plugin skipped: the request is proxied (fail-open, reported as rpc-timeout)', async () => {
    await gw.kong.request({ path: '/api/warm', headers: { 'x-probe-access': probeCalls() } }); // instance started
    const res = await gw.kong.request({
      path: '/api/x',
      headers: { 'x-probe-access': probeCalls(['sleep', 4000], ['request.getPath']) },
    });
    expect(res.status).toBe(200);
    expect(res.report.failOpen).toEqual([
      expect.objectContaining({ kind: 'rpc-timeout', plugin: 'probe', phase: 'access' }),
    ]);
    expect(res.report.upstreamRequest).toBeDefined();
  });
});

// A plugin server that misbehaves on purpose, to pin how Kong's side (rpc/mp_rpc.lua 3.9.3) reacts.
describe('rpc/mp_rpc.lua against a misbehaving plugin server', () => {
  type Mode = 'wrong-msgid' | 'no-instance';
  let mode: Mode = 'wrong-msgid';
  let handleEvents = 0;
  let dir: string;
  let server: net.Server;
  let kong: KongEmulator;
  let upstream: { port: number; close(): Promise<void> };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-fake-ps-'));
    const socket = path.join(dir, 'fake.sock');
    server = net.createServer((conn) => {
      void (async () => {
        try {
          for await (const msg of decodeMultiStream(conn)) {
            const [, msgid, method] = msg as [number, number, string, unknown[]];
            if (method === 'plugin.StartInstance')
              conn.write(encode([1, msgid, null, { Id: 1, Name: 'probe', Config: '{}', StartTime: 0 }]));
            else if (method === 'plugin.HandleEvent') {
              handleEvents++;
              if (mode === 'wrong-msgid') conn.write(encode([1, msgid + 1, null, { EventId: 1, Data: 'ret' }]));
              else conn.write(encode([1, msgid, 'no plugin instance 1', null]));
            } else conn.write(encode([1, msgid, null, null]));
          }
        } catch {
          conn.destroy();
        }
      })();
    });
    await new Promise<void>((r) => server.listen(socket, () => r()));
    const query = pluginServerEntries('bulwark', dir, ['probe'], fixturePluginsRoot)[0].queryCmd;
    kong = await KongEmulator.start({
      entries: [{ name: 'probe', socket, queryCmd: query }],
      noInstanceRetryLimit: 50,
    });
    upstream = await startEchoUpstream(0);
    kong.setConfig(
      loadDeclarative(CONFIG.replace('url: ECHO', `url: http://127.0.0.1:${upstream.port}`), {
        knownPlugins: new Set(['probe']),
      }),
    );
  });
  afterAll(async () => {
    await kong?.stop();
    await upstream?.close();
    await new Promise((r) => server?.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('Rpc:call line 208 assert: a reply with another msgid is a Lua error (500 in access), not a skipped plugin', async () => {
    mode = 'wrong-msgid';
    const res = await kong.request({ path: '/api/x' });
    expect(res.status).toBe(500);
    expect(res.report.failOpen).toEqual([]);
    expect(res.report.luaErrors[0].message).toBe('unexpected RPC response ID from Go plugin server');
    expect(res.report.upstreamRequest).toBeUndefined();
    await res.report.logDone; // its log phase must not run into the next test's mode
  });

  test('handle_event lines 312-316: "no plugin instance" is retried without bound (the request never ends in Kong)', async () => {
    mode = 'no-instance';
    handleEvents = 0;
    await expect(kong.request({ path: '/api/x' })).rejects.toThrow(EndlessRetryError);
    expect(handleEvents).toBe(51); // the first attempt and the 50 retries the test allows, never a fail-open
  });
});

describe("the plugin server's environment: an nginx worker's (TZ and `env` directives only)", () => {
  let gw: Gateway;
  beforeAll(async () => {
    process.env.BULWARK_FIDELITY_KEPT = 'kept';
    process.env.BULWARK_FIDELITY_DROPPED = 'dropped';
    gw = await startGateway({
      pluginsRoot: fixturePluginsRoot,
      plugins: ['probe'],
      nginxMainEnv: ['BULWARK_FIDELITY_KEPT', 'BULWARK_FIDELITY_SET=set-here'],
    });
    gw.configure(CONFIG);
  });
  afterAll(async () => {
    delete process.env.BULWARK_FIDELITY_KEPT;
    delete process.env.BULWARK_FIDELITY_DROPPED;
    await gw?.stop();
  });

  test('process.lua line 153 spawns the start command from worker 0: no PATH, no HOME, only the variables env directives name', async () => {
    const names = [
      'PATH',
      'HOME',
      'NODE_EXTRA_CA_CERTS',
      'BULWARK_FIDELITY_DROPPED',
      'BULWARK_FIDELITY_KEPT',
      'BULWARK_FIDELITY_SET',
    ];
    const res = await gw.kong.request({
      path: '/api/x',
      headers: { 'x-probe-access': probeCalls(...names.map((n) => ['process-env', n])) },
    });
    expect(probeResults(res.body).results).toEqual(['<unset>', '<unset>', '<unset>', '<unset>', 'kept', 'set-here']);
  });
});

describe('process.lua 3.9.3 load_external_plugins_info line 98: two plugin servers report the same plugin name', () => {
  let kong: KongEmulator;
  let upstream: { port: number; close(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    upstream = await startEchoUpstream(0);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-dup-'));
    // Two stock servers serving the same probe plugin, told apart by an environment variable of their own.
    const [one] = pluginServerEntries('stock', dir, ['probe'], fixturePluginsRoot);
    const entry = (name: string) => ({
      name,
      socket: path.join(dir, `${name}.sock`),
      startCmd: ['/usr/bin/env', `PROBE_SERVER=${name}`, ...one.startCmd!.slice(0, -1), `${name}.sock`],
      queryCmd: one.queryCmd,
    });
    kong = await KongEmulator.start({ entries: [entry('first'), entry('second')], luaPlugins: [] });
    kong.setConfig(
      loadDeclarative(CONFIG.replace('ECHO', `http://127.0.0.1:${upstream.port}`), {
        knownPlugins: new Set(kong.plugins.keys()),
      }),
    );
  }, 90_000);
  afterAll(async () => {
    await kong?.stop();
    await upstream?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the last entry wins, silently: its server runs the plugin; the first is still started', async () => {
    expect(kong.plugins.get('probe')!.entry.name).toBe('second');
    expect(kong.log.filter((l) => l.includes('already registered'))).toEqual([]);
    expect([...kong.spawns.keys()].sort()).toEqual(['first', 'second']);
    const res = await kong.request({
      path: '/api/x',
      headers: { 'x-probe-access': probeCalls(['process-env', 'PROBE_SERVER']) },
    });
    expect(probeResults(res.body).results).toEqual(['second']);
  });
});

describe('TLS functions: kong/pdk/client/tls.lua 3.9.3 phase limits, kong.nginx.get_tls1_version_str (plugin_servers/plugin.lua line 56)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe', 'probe-cert'] });
  });
  afterAll(async () => gw?.stop());
  const configure = (certCalls: unknown[][]) =>
    gw.configure(`${CONFIG}\n  - name: probe-cert\n    config:\n      calls: '${JSON.stringify(certCalls)}'\n`);

  test('get_full_client_certificate_chain is REWRITE_AND_LATER (lines 21-25, 129-132): a Lua error in the certificate phase (the handshake fails)', async () => {
    configure([['client.tls.getFullClientCertificateChain']]);
    const res = await gw.kong.request({ path: '/api/x', scheme: 'https' });
    expect(res.report.handshakeFailed).toBe(true);
    expect(res.report.luaErrors[0]).toMatchObject({ plugin: 'probe-cert', phase: 'certificate' });
    expect(res.report.luaErrors[0].message).toContain('cannot be called in certificate phase');
  });

  test('kong/pdk/log.lua 3.9.3 line 637 check_phase(phases_with_ctx, lines 73-79): set_serialize_value is a Lua error in the certificate phase', async () => {
    configure([['log.setSerializeValue', 'bulwark.decisions.x', { decision: 'allow' }]]);
    const res = await gw.kong.request({ path: '/api/x', scheme: 'https' });
    expect(res.report.handshakeFailed).toBe(true);
    expect(res.report.luaErrors[0]).toMatchObject({ plugin: 'probe-cert', phase: 'certificate' });
    expect(res.report.luaErrors[0].message).toContain('cannot be called in certificate phase');
  });

  test('get_tls1_version_str has no phase check: the TLS version in the certificate phase and in access, nil on plain HTTP', async () => {
    configure([['nginx.getTls1_versionStr']]);
    const tls = await gw.kong.request({
      path: '/api/x',
      scheme: 'https',
      headers: { 'x-probe-access': probeCalls(['nginx.getTls1_versionStr']) },
    });
    expect(tls.report.handshakeFailed).toBeUndefined();
    expect(gw.kong.log).toContain('[notice] [probe-cert] probe-cert-results ["TLSv1.3"]');
    expect(probeResults(tls.body).results).toEqual(['TLSv1.3']);
    const plain = await gw.kong.request({
      path: '/api/x',
      headers: {
        'x-probe-access': probeCalls(['nginx.getTls1_versionStr'], ['client.tls.getFullClientCertificateChain']),
      },
    });
    expect(probeResults(plain.body).results).toEqual(['<nil>', '<nil>']);
  });

  test('in the log timer get_full_client_certificate_chain has no request to read: a Lua error there, never a chain', async () => {
    configure([]);
    const res = await gw.kong.request({
      path: '/api/x',
      scheme: 'https',
      headers: { 'x-probe-log': probeCalls(['client.tls.getFullClientCertificateChain']) },
    });
    await res.report.logDone;
    expect(res.report.luaErrors).toEqual([expect.objectContaining({ plugin: 'probe', phase: 'log' })]);
  });
});
