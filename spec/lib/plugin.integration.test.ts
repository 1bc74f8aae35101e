// The shared fail-closed wrapper (plugins/lib/plugin.ts) through the Kong emulator and the real plugin server:
// Kong itself would let these requests through (server.js answers "ret" after a throw); Bulwark must not.
import {
  startGateway,
  Gateway,
  fixturePluginsRoot,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

describe('definePlugin fails closed (emulator + real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['fail-closed'] });
    gw.configure(`
_format_version: "3.0"
services:
  - name: s
    url: ECHO
    routes: [{ name: r, paths: ["/"] }]
plugins:
  - name: fail-closed
`);
  });
  afterAll(async () => gw?.stop());

  test.each(['throw', 'reject'])(
    'a handler that fails with "%s" ends in an explicit 500 and a log line, never in the upstream',
    async (how) => {
      const res = await gw.kong.request({ path: '/x', headers: { 'x-fail': how } });
      expect(res.status).toBe(500);
      expect(JSON.parse(res.body.toString())).toEqual({ message: 'An unexpected error occurred' });
      expect(res.report.upstreamRequest).toBeUndefined();
      expect(res.report.exitedBy).toBe('fail-closed');
      expect(res.report.failOpen).toEqual([]);
      expect(gw.kong.log.some((l) => l.includes('[fail-closed]') && l.includes('boom'))).toBe(true);
      expect(gw.kong.unhandledExceptions()).toEqual([]);
    },
  );

  test("a PDK Lua error (raw body over 8k without a size limit) is Kong's own 500, also never proxied", async () => {
    const res = await gw.kong.request({
      method: 'POST',
      path: '/x',
      body: Buffer.alloc(10000, 65),
      headers: { 'x-fail': 'pdk' },
    });
    expect(res.status).toBe(500);
    expect(res.report.luaErrors).toHaveLength(1);
    expect(res.report.upstreamRequest).toBeUndefined();
  });

  test('a handler that succeeds lets the request through', async () => {
    const res = await gw.kong.request({ path: '/x' });
    expect(res.status).toBe(200);
  });
});
