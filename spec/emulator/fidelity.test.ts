// Kong 3.9 behaviours the emulator must reproduce because a Bulwark plugin could trip over them; each test cites
// the Kong 3.9.3 source it follows.
import { startGateway, Gateway, fixturePluginsRoot, probeResults } from '../helpers/emulator';

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

const calls = (...c: unknown[][]) => JSON.stringify(c);

describe('Kong PDK semantics (probe plugin over the real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'] });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  test('kong/pdk/client.lua load_consumer (lines 187-211): a non-UUID id without search_by_username is a Lua error (500 in access)', async () => {
    const bad = await gw.kong.request({ path: '/api/x', headers: { 'x-probe-access': calls(['client.loadConsumer', 'alice', false]) } });
    expect(bad.status).toBe(500);
    expect(bad.report.luaErrors[0].message).toBe('cannot load a consumer with an id that is not a uuid');
    expect(bad.report.upstreamRequest).toBeUndefined();

    // A UUID (kong/tools/uuid.lua is_valid_uuid, case-insensitive) is looked up by id; by username when asked.
    const probe = async (...args: unknown[]) => {
      const res = await gw.kong.request({ path: '/api/x', headers: { 'x-probe-access': calls(['client.loadConsumer', ...args]) } });
      expect(res.report.luaErrors).toEqual([]);
      return probeResults(res.body).results[0];
    };
    expect(await probe(ALICE, false)).toMatchObject({ id: ALICE, username: 'alice' });
    expect(await probe(ALICE.toUpperCase(), false)).toBe('<nil>'); // valid UUID, no such id: nil, no error
    expect(await probe('alice', true)).toMatchObject({ id: ALICE });
    expect(await probe('nobody', true)).toBe('<nil>');
  });
});

describe('plugin_servers/plugin.lua get_instance_id: a request waits at most WAIT_TIME for an instance another request is starting', () => {
  let gw: Gateway;
  beforeAll(async () => {
    // WAIT_TIME is 10 s in Kong 3.9.3 (plugin.lua lines 229-254); shortened here so the test does not wait 10 s.
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'], workers: 1, instanceClaimWaitMs: 200 });
    gw.configure(CONFIG.replace('route: main', 'route: main\n    config: { start_block_ms: 1500 }'));
  });
  afterAll(async () => gw?.stop());

  test('the waiting request skips the plugin (fail-open, "Could not claim instance_id"); the starting one runs it', async () => {
    const headers = { 'x-probe-access': calls() };
    const starter = gw.kong.request({ path: '/api/a', headers });
    await new Promise((r) => setTimeout(r, 20));
    const waiter = await gw.kong.request({ path: '/api/b', headers });
    expect(waiter.report.failOpen).toEqual([expect.objectContaining({ kind: 'instance-claim-timeout', plugin: 'probe', phase: 'access' })]);
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
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'], rpcTimeoutMs: 300 });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  test('is logged and the plugin skipped: the request is proxied (fail-open, reported as rpc-timeout)', async () => {
    await gw.kong.request({ path: '/api/warm', headers: { 'x-probe-access': calls() } }); // instance started
    const res = await gw.kong.request({ path: '/api/x', headers: { 'x-probe-access': calls(['sleep', 1500], ['request.getPath']) } });
    expect(res.status).toBe(200);
    expect(res.report.failOpen).toEqual([expect.objectContaining({ kind: 'rpc-timeout', plugin: 'probe', phase: 'access' })]);
    expect(res.report.upstreamRequest).toBeDefined();
  });
});
