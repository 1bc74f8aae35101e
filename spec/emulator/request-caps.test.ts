// Kong 3.9's caps on kong.request.get_headers / get_query and kong.response.get_headers, and nginx's
// `underscores_in_headers on`, as the emulator reproduces them over the real plugin server.
// Sources: kong/pdk/request.lua (MIN_HEADERS 1, MAX_HEADERS_DEFAULT 100, MAX_HEADERS 1000, the same for query args;
// errors "max_headers must be a number / >= 1 / <= 1000"), kong/pdk/response.lua (get_headers, same limits),
// lua-nginx-module ngx_http_lua_ffi_req_get_headers_count (one entry per header LINE, first lines first) and
// ngx_http_lua_ffi_req_get_uri_args_count (every `&`-separated piece counts, empty ones included),
// kong/templates/nginx_kong.lua (`underscores_in_headers on`), nginx ngx_http_variable_unknown_header ($http_NAME:
// `-` read as `_`, several lines joined with ", ").
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
import type { EmulatedResponse } from '../../kong/emulator/kong';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const CONFIG = `
_format_version: "3.0"
services:
  - name: echo
    url: ECHO
    routes:
      - name: main
        paths: ["/api"]
plugins:
  - name: probe
    route: main
`;

const lineCount = (h: Record<string, unknown[]>) => Object.values(h).reduce((n, v) => n + v.length, 0);

describe('Kong caps on headers and query arguments (emulator + real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'] });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  /** A request whose header LINES arrive exactly in this order (after Host and the probe header). */
  function send(lines: [string, string][], probe: string, path = '/api/x'): Promise<EmulatedResponse> {
    const [rawPath, ...q] = path.split('?');
    return gw.kong.handle({
      method: 'GET',
      scheme: 'http',
      rawPath: rawPath!,
      rawQuery: q.join('?'),
      headers: [['Host', 'localhost'], ['x-probe-access', probe], ...lines],
      body: Buffer.alloc(0),
      httpVersion: 1.1,
      clientIp: '127.0.0.1',
      clientPort: 40000,
      serverPort: 8000,
    });
  }
  const fillers = (n: number, prefix = 'x-f') =>
    Array.from({ length: n }, (_, i): [string, string] => [`${prefix}${i}`, 'v']);

  test('get_headers(): the first 100 header LINES in arrival order; a repeated name counts once per line', async () => {
    // Host, x-probe-access, then x-rep, a filler, x-rep again, 200 more fillers, and one late header.
    const lines: [string, string][] = [
      ['x-rep', '1'],
      ['x-f-a', 'v'],
      ['X-Rep', '2'],
      ...fillers(200),
      ['x-late', 'late'],
    ];
    const res = await send(
      lines,
      probeCalls(['request.getHeaders'], ['request.getHeaders', 1000], ['request.getHeaders', 4]),
    );
    const [dflt, all, four] = probeResults(res.body).results as Record<string, string[]>[];
    expect(lineCount(dflt!)).toBe(100);
    expect(dflt!['x-rep']).toEqual(['1', '2']);
    expect(dflt!['x-f94']).toEqual(['v']); // 5 lines before the fillers: x-f0..x-f94 make 100
    expect(dflt!['x-f95']).toBeUndefined();
    expect(dflt!['x-late']).toBeUndefined();
    expect(lineCount(all!)).toBe(206);
    expect(all!['x-late']).toEqual(['late']);
    // Only the first x-rep line is among the first four lines (a per-name count would give both).
    expect(four).toEqual({
      host: ['localhost'],
      'x-probe-access': [expect.any(String)],
      'x-rep': ['1'],
      'x-f-a': ['v'],
    });
  });

  test.each([
    ['request.getHeaders', 0, 'max_headers must be >= 1'],
    ['request.getHeaders', 1001, 'max_headers must be <= 1000'],
    ['request.getHeaders', '10', 'max_headers must be a number'],
    ['request.getQuery', 0, 'max_args must be >= 1'],
    ['request.getQuery', 1001, 'max_args must be <= 1000'],
    ['request.getQuery', 'x', 'max_args must be a number'],
  ])('request.lua: %s(%p) raises "%s" (a Lua error: 500)', async (method, max, message) => {
    const res = await send([], probeCalls([method, max]));
    expect(res.status).toBe(500);
    expect(res.report.luaErrors[0]?.message).toBe(message);
  });

  test('response.lua: get_headers caps the response headers the same way (100 by default, at most 1000, at least 1)', async () => {
    const extra = JSON.stringify(Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-r${i}`, 'v'])));
    const sendResponseProbe = (probe: string) =>
      gw.kong.handle({
        method: 'GET',
        scheme: 'http',
        rawPath: '/api/x',
        rawQuery: '',
        headers: [
          ['Host', 'localhost'],
          ['x-echo-response-headers', extra],
          ['x-probe-response', probe],
        ],
        body: Buffer.alloc(0),
        httpVersion: 1.1,
        clientIp: '127.0.0.1',
        clientPort: 40000,
        serverPort: 8000,
      });
    const res = await sendResponseProbe(probeCalls(['response.getHeaders'], ['response.getHeaders', 1000]));
    const [dflt, all] = JSON.parse(res.headers.first('x-probe-response-results')!) as Record<string, string[]>[];
    expect(lineCount(dflt!)).toBe(100);
    expect(lineCount(all!)).toBeGreaterThan(150);
    const bad = await sendResponseProbe(probeCalls(['response.getHeaders', 0]));
    expect(bad.report.luaErrors[0]?.message).toBe('max_headers must be >= 1');
  });

  test('get_query(): every `&` piece counts toward the cap, empty pieces and empty names included', async () => {
    const query = `${'&'.repeat(150)}access_token=forged&${'=x&'.repeat(3)}a=1`;
    const res = await send(
      [],
      probeCalls(
        ['request.getQuery'],
        ['request.getQuery', 1000],
        ['request.getQuery', 151],
        ['request.getQuery', 152],
      ),
      `/api/x?${query}`,
    );
    const [dflt, all, upTo151, upTo152] = probeResults(res.body).results as Record<string, unknown[]>[];
    expect(Object.keys(dflt!)).toEqual([]); // 100 empty pieces: nothing returned, nothing looks "full"
    expect(all).toEqual({ access_token: ['forged'], a: ['1'] });
    expect(upTo151).toEqual({ access_token: ['forged'] });
    expect(upTo152).toEqual({ access_token: ['forged'] });
  });

  test('underscores_in_headers on: X_Auth_Subject reaches plugins (key x_auth_subject) and the upstream', async () => {
    const res = await send(
      [
        ['X_Auth_Subject', 'forged'],
        ['X-Auth-Subject', 'real'],
      ],
      probeCalls(
        ['request.getHeaders'],
        ['request.getHeader', 'X-Auth-Subject'],
        ['request.getHeader', 'x_auth_subject'],
      ),
    );
    const [headers, viaDash, viaUnderscore] = probeResults(res.body).results as [
      Record<string, string[]>,
      string,
      string,
    ];
    expect(headers.x_auth_subject).toEqual(['forged']);
    expect(headers['x-auth-subject']).toEqual(['real']);
    // $http_x_auth_subject matches both spellings and joins them in arrival order.
    expect(viaDash).toBe('forged, real');
    expect(viaUnderscore).toBe('forged, real');
    const up = echoed(res.body);
    expect(up.headers.x_auth_subject).toBe('forged');
    expect(up.headers['x-auth-subject']).toBe('real');
  });
});
