// The Kong emulator against the real plugin server: each test names the Kong 3.9 behaviour it pins and
// the source it comes from (see ../../docs/kong-protocol.md for the citations).
import { RpcClient } from '../../kong/emulator/rpc';
import {
  startGateway,
  Gateway,
  fixturePluginsRoot,
  probeResults,
  echoed,
  waitFor,
  serverKind,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  probeCalls,
} from '../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const CONFIG = `
_format_version: "3.0"
services:
  - name: echo
    url: ECHO
    routes:
      - name: main
        paths: ["/api"]
      - name: other
        paths: ["/other"]
      - name: exits
        paths: ["/exits"]
consumers:
  - username: alice
plugins:
  - name: probe
    route: main
    config: { tag: route-main }
  - name: probe
    config: { tag: global }
  - name: probe-late
    route: main
  - name: probe-late
    route: exits
  - name: probe
    route: exits
  - name: probe-late
    consumer: alice
    config: { tag: for-alice }
`;

describe('Kong emulator runloop over the real plugin server', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe', 'probe-late', 'probe-global'] });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  test('start-up (plugin_servers/process.lua): plugin info is read from the query command', () => {
    const probe = gw.kong.plugins.get('probe');
    expect(probe?.info.Version).toBe('1.0.0');
    expect(probe?.info.Priority).toBe(1000);
    expect([...(probe?.phases ?? [])].sort()).toEqual(['access', 'log', 'response']);
  });

  test('plugins_iterator.lua: access handlers run in PRIORITY order, descending', async () => {
    const res = await gw.kong.request({ path: '/api/x' });
    expect(res.status).toBe(200);
    const access = res.report.events.filter(([, phase]) => phase === 'access').map(([name]) => name);
    expect(access).toEqual(['probe', 'probe-late']);
  });

  test('plugins_iterator.lua config precedence: a route-scoped config wins over the global one', async () => {
    const onRoute = await gw.kong.request({ path: '/api/x', headers: { 'x-probe-access': probeCalls() } });
    expect(probeResults(onRoute.body).config.tag).toBe('route-main');
    const other = await gw.kong.request({ path: '/other', headers: { 'x-probe-access': probeCalls() } });
    expect(probeResults(other.body).config.tag).toBe('global');
  });

  test('plugins_iterator.lua: a consumer authenticated by a higher-priority plugin selects consumer-scoped configs of later plugins', async () => {
    const consumer = gw.kong.getConfig().consumers[0];
    const res = await gw.kong.request({
      path: '/other',
      headers: { 'x-probe-access': probeCalls(['client.authenticate', consumer, null]) },
    });
    expect(echoed(res.body).headers['x-probe-late']).toBe('for-alice');
  });

  test("db/dao + plugins_iterator.get_plugin_config: StartInstance config has defaults, no unset fields, and Kong's extra keys", async () => {
    const res = await gw.kong.request({ path: '/api/x', headers: { 'x-probe-access': probeCalls() } });
    const conf = probeResults(res.body).config;
    expect(conf).toMatchObject({
      tag: 'route-main',
      mode: 'normal',
      limit: 10,
      fail_start: false,
      nested: { depth: 3 },
    });
    expect(conf).not.toHaveProperty('nested.label');
    expect(conf.route_id).toBe(gw.kong.getConfig().routes.find((r) => r.name === 'main')?.id);
    expect(conf).not.toHaveProperty('service_id');
    expect(typeof conf.__plugin_id).toBe('string');
    expect(typeof conf.__seq__).toBe('number');
    expect(conf.__key__).toMatch(/^plugins:probe:/);
    expect(typeof conf.__ws_id).toBe('string');
  });

  test('db/schema/init.lua: an empty string is rejected for a field without len_min 0, naming the field', () => {
    expect(() => gw.kong.validatePluginConfig('probe', { tag: '' })).toThrow(/config\.tag|tag/);
    expect(() => gw.kong.validatePluginConfig('probe', { limit: 1000 })).toThrow(/limit/);
    expect(() => gw.kong.validatePluginConfig('probe', { mode: 'other' })).toThrow(/mode/);
  });

  test('mp_rpc.lua fix_mmap: headers and query arrive as multimaps, bare query keys as []', async () => {
    const res = await gw.kong.request({
      path: '/api/t?foo=hello%20world&bar=baz&zzz&blo=&bar=bla&bar',
      headers: { 'x-multi': ['a', 'b'], 'x-probe-access': probeCalls(['request.getQuery'], ['request.getHeaders']) },
    });
    const [query, headers] = probeResults(res.body).results as [Record<string, unknown>, Record<string, unknown>];
    expect(query).toEqual({ foo: ['hello world'], bar: ['baz', 'bla', true], zzz: [], blo: [''] });
    expect(headers['x-multi']).toEqual(['a', 'b']);
    expect(headers.host).toEqual(['localhost']);
  });

  test('mp_rpc.lua: nil is an absent Data (undefined in JS), unknown PDK methods return nil and the handler continues', async () => {
    const res = await gw.kong.request({
      path: '/api/x',
      headers: {
        'x-probe-access': probeCalls(
          ['request.getHeader', 'x-missing'],
          ['request.noSuchThing'],
          ['request.getMethod'],
        ),
      },
    });
    expect(probeResults(res.body).results).toEqual(['<nil>', '<nil>', 'GET']);
    expect(gw.kong.log.some((l) => l.includes('could not find pdk method: kong.request.no_such_thing'))).toBe(true);
  });

  test('mp_rpc.lua fix_raw: the raw body arrives as binary (Uint8Array); over 8k it needs a max size argument', async () => {
    const body = Buffer.from([0, 1, 2, 255, 254]);
    const res = await gw.kong.request({
      method: 'POST',
      path: '/api/x',
      body,
      headers: { 'x-probe-access': probeCalls(['request.getRawBody']) },
    });
    const [raw] = probeResults(res.body).results as [{ bin: string; type: string }];
    expect(raw.type).toBe('[object Uint8Array]');
    expect(Buffer.from(raw.bin, 'base64')).toEqual(body);

    // Spooled to a file (> client_body_buffer_size 8k) and no max_allowed_file_size: nil → fix_raw(nil) → Lua error → 500.
    const big = Buffer.alloc(9000, 97);
    const failing = await gw.kong.request({
      method: 'POST',
      path: '/api/x',
      body: big,
      headers: { 'x-probe-access': probeCalls(['request.getRawBody']) },
    });
    expect(failing.status).toBe(500);
    const ok = await gw.kong.request({
      method: 'POST',
      path: '/api/x',
      body: big,
      headers: { 'x-probe-access': probeCalls(['request.getRawBody', 0]) },
    });
    expect(ok.status).toBe(200);
  });

  test('HTTP/2 stand-in: a body without Content-Length is still read by get_raw_body (ngx.req.read_body reads the DATA frames)', async () => {
    // kong/pdk/request.lua get_raw_body: read_body() then get_body_data(); nothing there looks at Content-Length.
    const body = Buffer.from('a=1');
    const res = await gw.kong.request({
      method: 'POST',
      path: '/api/x',
      body,
      httpVersion: 2,
      headers: {
        'x-probe-access': probeCalls(
          ['request.getRawBody', 0],
          ['request.getHeader', 'content-length'],
          ['request.getHttpVersion'],
        ),
      },
    });
    const [raw, length, version] = probeResults(res.body).results as [{ bin: string }, unknown, unknown];
    expect(Buffer.from(raw.bin, 'base64')).toEqual(body);
    expect(length).toBe('<nil>');
    expect(version).toBe(2);
  });

  test('pdk/service/request.lua uses ngx.req.set_header / set_uri_args / set_method: later kong.request reads see the change', async () => {
    const res = await gw.kong.request({
      path: '/api/x?a=1',
      headers: {
        'x-spoofed': 'client',
        'x-probe-access': probeCalls(
          ['service.request.setHeader', 'x-spoofed', 'verified'],
          ['request.getHeader', 'x-spoofed'],
          ['service.request.clearHeader', 'x-spoofed'],
          ['request.getHeaders'],
          ['service.request.setRawQuery', 'b=2'],
          ['request.getRawQuery'],
          ['service.request.setMethod', 'POST'],
          ['request.getMethod'],
        ),
      },
    });
    const [, seen, , headers, , query, , method] = probeResults(res.body).results as unknown[];
    expect(seen).toBe('verified');
    expect(headers).not.toHaveProperty('x-spoofed');
    expect(query).toBe('b=2');
    expect(method).toBe('POST');
    expect(echoed(res.body).method).toBe('POST');
    expect(echoed(res.body).headers['x-spoofed']).toBeUndefined();
  });

  test('pdk/private/phases.lua: a PDK call outside its phases is a Lua error: 500 in access, and the request never reaches the upstream', async () => {
    const res = await gw.kong.request({
      path: '/api/x',
      headers: { 'x-probe-access': probeCalls(['response.getHeaders']) },
    });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body.toString())).toMatchObject({ message: 'An unexpected error occurred' });
    expect(res.report.luaErrors[0].message).toMatch(/cannot be called in access phase/);
    expect(res.report.upstreamRequest).toBeUndefined();
  });

  test('pdk/response.lua exit in access: no further Step, later access handlers skipped, log handlers still run', async () => {
    const res = await gw.kong.request({
      path: '/exits',
      headers: { 'x-probe-access': probeCalls(['exit', 403, { message: 'nope' }, { 'X-Why': 'test' }]) },
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body.toString())).toEqual({ message: 'nope' });
    expect(res.headers.first('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.first('x-why')).toBe('test');
    expect(res.headers.first('content-length')).toBe(String(res.body.length));
    expect(res.report.exitedBy).toBe('probe');
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(res.report.events.filter(([, p]) => p === 'access').map(([n]) => n)).toEqual(['probe']);
    await res.report.logDone;
    expect(res.report.events.filter(([, p]) => p === 'log').map(([n]) => n)).toEqual(['probe', 'probe-late']);
  });

  test("pdk/response.lua error: Kong's JSON template with request_id, and the Accept header selects another template", async () => {
    const res = await gw.kong.request({ path: '/exits', headers: { 'x-probe-access': probeCalls(['error', 401]) } });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString())).toEqual({ message: 'Unauthorized', request_id: res.report.requestId });
    const html = await gw.kong.request({
      path: '/exits',
      headers: { accept: 'text/html', 'x-probe-access': probeCalls(['error', 403, 'go away']) },
    });
    expect(html.headers.first('content-type')).toBe('text/html; charset=utf-8');
    expect(html.body.toString()).toContain('go away');
  });

  test('init.lua Kong.response: response handlers run only with buffered proxying and see the upstream status', async () => {
    const res = await gw.kong.request({
      path: '/api/x',
      headers: {
        'x-probe-response': probeCalls(['response.getStatus'], ['service.response.getHeader', 'content-type']),
      },
    });
    expect(res.report.events.some(([n, p]) => n === 'probe' && p === 'response')).toBe(true);
    expect(JSON.parse(res.headers.first('x-probe-response-results') ?? '[]')).toEqual([200, 'application/json']);
  });

  test('plugin_servers/plugin.lua log timer: saved request data is readable, live ngx APIs are not', async () => {
    const res = await gw.kong.request({
      path: '/api/x',
      headers: {
        'x-probe-log': probeCalls(['request.getHeader', 'x-probe-log'], ['response.getStatus'], ['response.getSource']),
      },
    });
    await res.report.logDone;
    await waitFor(() => gw.kong.log.some((l) => l.includes('probe-log-results') && l.includes('"service"')));
    const bad = await gw.kong.request({ path: '/api/x', headers: { 'x-probe-log': probeCalls(['request.getPath']) } });
    await bad.report.logDone;
    expect(bad.status).toBe(200);
    expect(bad.report.luaErrors).toEqual([
      { plugin: 'probe', phase: 'log', message: 'API disabled in the context of ngx.timer' },
    ]);
  });

  test("runloop/handler.lua: an unmatched request gets Kong's 404", async () => {
    const res = await gw.kong.request({ path: '/nowhere' });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString())).toEqual({
      message: 'no Route matched with those values',
      request_id: res.report.requestId,
    });
  });

  test('fail-open (plugin_servers server.js): a throwing handler is swallowed; the stock server lets Kong proxy the request, bulwark-pluginserver ends it with 500; both are reported', async () => {
    const before = gw.kong.unhandledExceptions().length;
    const res = await gw.kong.request({ path: '/api/x', headers: { 'x-probe-access': probeCalls(['throw']) } });
    if (serverKind() === 'stock') {
      expect(res.status).toBe(200); // Kong's behaviour with the stock server: the request went through
    } else {
      expect(res.status).toBe(500); // bulwark-pluginserver answers kong.response.exit(500) instead of "ret"
      expect(JSON.parse(res.body.toString())).toEqual({ message: 'An unexpected error occurred' });
      expect(res.report.upstreamRequest).toBeUndefined();
    }
    await waitFor(() => gw.kong.unhandledExceptions().length > before);
    expect(gw.kong.unhandledExceptions().at(-1)).toMatchObject({
      kind: 'unhandled-exception',
      plugin: 'probe',
      phase: 'access',
    });
  });

  test('RPC round trips are counted per request and per plugin', async () => {
    await gw.kong.request({ path: '/api/x' }); // instances already started
    const res = await gw.kong.request({
      path: '/api/x',
      headers: { 'x-probe-access': probeCalls(['request.getMethod']) },
    });
    // probe access: HandleEvent → getHeader step → getMethod step → setHeader step → ret = 4 RPCs;
    // probe response (buffered proxying): HandleEvent → getHeader step → ret = 2 RPCs.
    expect(res.report.rpcCallsByPlugin.probe).toBe(6);
    // probe-late: HandleEvent → setHeader step → ret = 2 RPCs
    expect(res.report.rpcCallsByPlugin['probe-late']).toBe(2);
    expect(res.report.rpcCalls).toBe(8);
    await res.report.logDone; // log handlers: HandleEvent + getHeader (probe), HandleEvent + notice (probe-late)
    expect(res.report.rpcCalls).toBe(12);
  });

  test('concurrent requests over several workers and pooled connections all complete', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        gw.kong.request({ path: `/api/${i}`, headers: { 'x-probe-access': probeCalls(['request.getPath']) } }),
      ),
    );
    results.forEach((r, i) => expect(probeResults(r.body).results).toEqual([`/api/${i}`]));
  });
});

describe('Kong emulator instance lifecycle (plugin_servers/plugin.lua get_instance_id, reset_instance)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({
      pluginsRoot: fixturePluginsRoot,
      plugins: ['probe', 'probe-late', 'probe-global'],
      workers: 1,
    });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  test('a config change starts a new instance (new __seq__) and closes the old one', async () => {
    await gw.kong.request({ path: '/other' });
    const globalProbe = gw.kong
      .getConfig()
      .plugins.find((p) => p.name === 'probe' && !p.route && !p.service && !p.consumer)!;
    const before = gw.kong.cachedInstances().find((i) => i.pluginId === globalProbe.id)!;
    // Still alive before the change: closing it is refused only after the emulator closed it.
    expect(before).toBeDefined();
    gw.configure(CONFIG.replace('tag: global', 'tag: global-v2'));
    const res = await gw.kong.request({ path: '/other', headers: { 'x-probe-access': probeCalls() } });
    expect(probeResults(res.body).config.tag).toBe('global-v2');
    const after = gw.kong.cachedInstances().find((i) => i.pluginId === globalProbe.id);
    expect(after?.id).not.toBe(before.id);
    // The old instance is gone from the plugin server.
    const rpc = new RpcClient(gw.kong.plugins.get('probe')!.entry.socket);
    await waitFor(() => true);
    await expect(rpc.call('plugin.CloseInstance', before.id)).rejects.toThrow(`no plugin instance #${before.id}`);
    rpc.close();
  });

  test('rpc/mp_rpc.lua: "no plugin instance" from a restarted server resets the instances and retries transparently', async () => {
    await gw.kong.request({ path: '/other' });
    const globalProbe = gw.kong
      .getConfig()
      .plugins.find((p) => p.name === 'probe' && !p.route && !p.service && !p.consumer)!;
    const instanceId = gw.kong.cachedInstances().find((i) => i.pluginId === globalProbe.id)!.id;
    const rpc = new RpcClient(gw.kong.plugins.get('probe')!.entry.socket);
    await rpc.call('plugin.CloseInstance', instanceId); // what a server restart does to Kong's cached id
    rpc.close();
    const res = await gw.kong.request({
      path: '/other',
      headers: { 'x-probe-access': probeCalls(['request.getMethod']) },
    });
    expect(res.status).toBe(200);
    expect(probeResults(res.body).results).toEqual(['GET']);
    expect(gw.kong.log.some((l) => l.includes('no plugin instance'))).toBe(true);
  });

  test('fail-open (rpc/mp_rpc.lua handle_event): an RPC error after the instance is cached lets the request through; the emulator reports it', async () => {
    await gw.kong.request({ path: '/other' });
    // The process serving probe (its own with the stock server; the one for all plugins with bulwark-pluginserver).
    const proc = gw.kong.processes.find((p) => p.entry.name === 'probe')!;
    await proc.stop('SIGKILL');
    const res = await gw.kong.request({ path: '/other' });
    expect(res.status).toBe(200); // Kong logs the error and proxies
    expect(res.report.failOpen[0]).toMatchObject({ kind: 'rpc-error', plugin: 'probe', phase: 'access' });
  });
});
