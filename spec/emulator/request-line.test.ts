// `kong.nginx.get_var("request")`, nginx's `$request` (the request line), as Kong 3.9.3 exposes it to a plugin server
// (kong/runloop/plugin_servers/plugin.lua exposed_api: `kong.nginx.get_var` = `ngx_var[v]`), next to what
// kong/pdk/request.lua returns for the same request: `get_path_with_query()` is `ngx.var.request_uri` (nginx's
// unparsed URI, the target as on the line) and `get_method()` is `ngx.req.get_method()`, which
// `kong.service.request.set_method` (ngx.req.set_method) changes while the line keeps the client's method. For HTTP/2
// nginx builds the line from the pseudo-headers with " HTTP/2.0" (ngx_http_v2_construct_request_line).
// bulwark-threat-protection reads path, query and HTTP version from this line in one RPC (plugins/lib/request-line.ts)
// and skips the body read for an HTTP/1.x request without Content-Length and Transfer-Encoding: these are the facts
// it relies on.
import {
  startGateway,
  Gateway,
  fixturePluginsRoot,
  probeResults,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  probeCalls,
} from '../helpers/emulator';
import { parseRequestLine } from '../../plugins/lib/request-line';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const CONFIG = `
_format_version: "3.0"
services:
  - name: svc
    url: ECHO/base
    routes:
      - { name: api, paths: ["/api"], strip_path: true }
plugins:
  - name: probe
`;

describe('ngx.var.request, the request line (probe plugin, real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'] });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  async function probe(
    r: { method?: string; path: string; httpVersion?: 1.1 | 2; body?: string },
    extra: unknown[][] = [],
  ): Promise<{ line: string; pathWithQuery: string; method: string }> {
    const res = await gw.kong.request({
      ...r,
      headers: {
        'x-probe-access': probeCalls(
          ...extra,
          ['nginx.getVar', 'request'],
          ['request.getPathWithQuery'],
          ['request.getMethod'],
        ),
      },
    });
    expect(res.status).toBe(200);
    const results = probeResults(res.body).results as string[];
    const [line, pathWithQuery, method] = results.slice(extra.length);
    return { line: line!, pathWithQuery: pathWithQuery!, method: method! };
  }

  test('HTTP/1.1: method, the raw target (as get_path_with_query returns it, before strip_path) and the version', async () => {
    const r = await probe({ path: '/api/a%20b/../c?q=%27x%27&q=2&flag' });
    expect(r.line).toBe('GET /api/a%20b/../c?q=%27x%27&q=2&flag HTTP/1.1');
    expect(r.pathWithQuery).toBe('/api/a%20b/../c?q=%27x%27&q=2&flag');
    expect(parseRequestLine(r.line)).toEqual({ pathWithQuery: r.pathWithQuery, httpMajor: 1 });
  });

  test('HTTP/2: the line nginx builds ends in HTTP/2.0', async () => {
    const r = await probe({ method: 'POST', path: '/api/x?y=1', httpVersion: 2, body: '{}' });
    expect(r.line).toBe('POST /api/x?y=1 HTTP/2.0');
    expect(parseRequestLine(r.line)).toEqual({ pathWithQuery: '/api/x?y=1', httpMajor: 2 });
  });

  test('set_method changes get_method, not the line: the method cannot be taken from it', async () => {
    const r = await probe({ path: '/api/x' }, [['service.request.setMethod', 'POST']]);
    expect(r.method).toBe('POST');
    expect(r.line).toBe('GET /api/x HTTP/1.1');
  });
});
