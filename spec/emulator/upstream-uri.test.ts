// `kong.nginx.get_var("upstream_uri")` / `("upstream_host")` in the access phase, as Kong 3.9.3 sets them:
// - kong/templates/nginx_kong.lua: `set $upstream_uri ''; set $upstream_host '';`, and
//   `proxy_pass $upstream_scheme://kong_upstream$upstream_uri` (what the upstream receives);
// - kong/runloop/handler.lua access.before (line 1324): `var.upstream_uri = escape(match_t.upstream_uri)` (the
//   path after strip_path and the service path), `var.upstream_host = match_t.upstream_host` with preserve_host;
//   access.after (line 1392) appends `"?" .. var.args` once the access plugins are done;
// - kong/pdk/service/request.lua set_path (line 145): `ngx_var.upstream_uri = escape(path)`;
// - kong/runloop/plugin_servers/plugin.lua exposed_api `kong.nginx.get_var` = `ngx.var[v]`.
// bulwark-upstream-trust signs this value; the test pins that it is exactly the path the upstream receives.
import {
  startGateway,
  Gateway,
  fixturePluginsRoot,
  probeResults,
  echoed,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  probeCalls,
} from '../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const CONFIG = `
_format_version: "3.0"
services:
  - name: svc
    url: ECHO/base
    routes:
      - { name: stripped, paths: ["/api"], strip_path: true }
      - { name: kept, paths: ["/keep"], strip_path: false }
      - { name: preserved, paths: ["/pres"], preserve_host: true }
plugins:
  - name: probe
`;

describe('ngx.var.upstream_uri and upstream_host in access (probe plugin, real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'] });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  async function probe(path: string, extra: unknown[][] = [], headers: Record<string, string> = {}) {
    const res = await gw.kong.request({
      path,
      headers: {
        ...headers,
        'x-probe-access': probeCalls(
          ...extra,
          ['nginx.getVar', 'upstream_uri'],
          ['nginx.getVar', 'upstream_host'],
          ['request.getRawQuery'],
        ),
      },
    });
    expect(res.status).toBe(200);
    const results = probeResults(res.body).results as string[];
    return {
      uri: results[extra.length],
      host: results[extra.length + 1],
      query: results[extra.length + 2],
      upstream: echoed(res.body),
    };
  }

  test('strip_path: the service path joined with the rest, without the query (handler.lua access.before)', async () => {
    const r = await probe('/api/orders/7?limit=5');
    expect(r.uri).toBe('/base/orders/7');
    expect(r.query).toBe('limit=5');
    expect(r.upstream.path).toBe('/base/orders/7');
    expect(r.host).toBe('');
  });

  test('strip_path false keeps the route prefix; the escaped form is what the upstream receives', async () => {
    const r = await probe('/keep/a%20b');
    expect(r.uri).toBe('/base/keep/a%20b');
    expect(r.upstream.path).toBe('/base/keep/a%20b');
  });

  test('set_path replaces it with the escaped path (service/request.lua line 145)', async () => {
    const r = await probe('/api/x', [['service.request.setPath', '/v2/a b']]);
    expect(r.uri).toBe('/v2/a%20b');
    expect(r.upstream.path).toBe('/v2/a%20b');
  });

  test('preserve_host: upstream_host is the Host the client sent; otherwise empty in access', async () => {
    const r = await probe('/pres/x', [], { host: 'Shop.Example.com:8080' });
    expect(r.host).toBe('Shop.Example.com:8080');
    expect(r.upstream.headers.host).toBe('Shop.Example.com:8080');
  });
});
