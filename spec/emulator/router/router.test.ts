// Pins the emulator's router to Kong 3.9 `traditional_compatible` routing. Each test names the Kong source
// (Kong/kong) it follows.
import { loadDeclarative } from '../../../kong/emulator/declarative';
import { Router, RouterRequest, routerPath } from '../../../kong/emulator/router';

const router = (yaml: string) => new Router(loadDeclarative(`_format_version: "3.0"\n${yaml}`));

const req = (path: string, over: Partial<RouterRequest> = {}): RouterRequest => ({
  method: 'GET',
  path,
  host: 'gw.test',
  scheme: 'http',
  headers: {},
  ...over,
});

const routeName = (r: Router, request: RouterRequest) => r.match(request)?.route.name ?? null;

describe('upstream path: service path + route path + strip_path (kong/router/utils.lua get_upstream_uri)', () => {
  // The path_handling v0 rows of Kong's spec/fixtures/router_path_handling_tests.lua (3.x version, where a
  // trailing slash of the request survives stripping):
  // [service path, route path (null = route matched by host), strip_path values, request, expected upstream path]
  const rows: [string, string | null, boolean[], string, string][] = [
    ['/', '/', [false, true], '/', '/'],
    ['/', '/', [false, true], '/route', '/route'],
    ['/', '/', [false, true], '/route/', '/route/'],
    ['/', '/', [false, true], '/routereq', '/routereq'],
    ['/', '/', [false, true], '/route/req', '/route/req'],
    ['/', '/route', [false], '/route', '/route'],
    ['/', '/route', [false], '/route/', '/route/'],
    ['/', '/route', [false], '/routereq', '/routereq'],
    ['/', '/route', [true], '/route', '/'],
    ['/', '/route', [true], '/route/', '/'],
    ['/', '/route', [true], '/routereq', '/req'],
    ['/', '/route/', [false], '/route/', '/route/'],
    ['/', '/route/', [false], '/route/req', '/route/req'],
    ['/', '/route/', [true], '/route/', '/'],
    ['/', '/route/', [true], '/route/req', '/req'],
    ['/srv', '/rou', [false], '/roureq', '/srv/roureq'],
    ['/srv', '/rou', [true], '/roureq', '/srv/req'],
    ['/srv/', '/rou', [false], '/rou', '/srv/rou'],
    ['/srv/', '/rou', [true], '/rou', '/srv'],
    ['/service', '/', [false, true], '/', '/service'],
    ['/service', '/', [false, true], '/route', '/service/route'],
    ['/service', '/', [false, true], '/route/', '/service/route/'],
    ['/service', '/', [false, true], '/routereq', '/service/routereq'],
    ['/service', '/', [false, true], '/route/req', '/service/route/req'],
    ['/service', '/route', [false], '/route', '/service/route'],
    ['/service', '/route', [false], '/route/', '/service/route/'],
    ['/service', '/route', [false], '/routereq', '/service/routereq'],
    ['/service', '/route', [true], '/route', '/service'],
    ['/service', '/route', [true], '/route/', '/service/'],
    ['/service', '/route', [true], '/routereq', '/service/req'],
    ['/service', '/route/', [false], '/route/', '/service/route/'],
    ['/service', '/route/', [false], '/route/req', '/service/route/req'],
    ['/service', '/route/', [true], '/route/', '/service/'],
    ['/service', '/route/', [true], '/route/req', '/service/req'],
    ['/service/', '/', [false, true], '/', '/service/'],
    ['/service/', '/', [false, true], '/route/', '/service/route/'],
    ['/service/', '/', [false, true], '/route', '/service/route'],
    ['/service/', '/', [false, true], '/routereq', '/service/routereq'],
    ['/service/', '/', [false, true], '/route/req', '/service/route/req'],
    ['/service/', '/route', [false], '/route', '/service/route'],
    ['/service/', '/route', [false], '/route/', '/service/route/'],
    ['/service/', '/route', [false], '/routereq', '/service/routereq'],
    ['/service/', '/route', [true], '/route', '/service'],
    ['/service/', '/route', [true], '/route/', '/service/'],
    ['/service/', '/route', [true], '/routereq', '/service/req'],
    ['/service/', '/route/', [false], '/route/', '/service/route/'],
    ['/service/', '/route/', [false], '/route/req', '/service/route/req'],
    ['/service/', '/route/', [true], '/route/', '/service/'],
    ['/service/', '/route/', [true], '/route/req', '/service/req'],
    ['/', null, [false, true], '/', '/'],
    ['/', null, [false, true], '/route', '/route'],
    ['/', null, [false, true], '/route/', '/route/'],
    ['/service', null, [false, true], '/', '/service'],
    ['/service', null, [false, true], '/route', '/service/route'],
    ['/service', null, [false, true], '/route/', '/service/route/'],
    ['/service/', null, [false, true], '/', '/service/'],
    ['/service/', null, [false, true], '/route', '/service/route'],
    ['/service/', null, [false, true], '/route/', '/service/route/'],
  ];
  const cases = rows.flatMap(([svc, route, strips, request, expected]) =>
    strips.map((strip) => [svc, route ?? '(host)', strip, request, expected] as const),
  );

  test.each(cases)('service %s, route %s, strip_path %s: %s → %s', (svc, route, strip, request, expected) => {
    const matcher = route === '(host)' ? 'hosts: [gw.test]' : `paths: ["${route}"]`;
    const r = router(
      `services:\n  - name: s\n    url: http://up:80${svc}\n    routes:\n      - name: r\n        ${matcher}\n        strip_path: ${strip}\n`,
    );
    expect(r.match(req(request))?.upstreamPath).toBe(expected);
  });
});

describe('path matching and ordering (kong/router/compat.lua get_priority, atc-router)', () => {
  const r = router(`
services:
  - name: s
    url: http://up:80
    routes:
      - {name: short, paths: [/api]}
      - {name: long, paths: [/api/v1]}
      - {name: regex-low, paths: ["~/api/v1/items/\\\\d+$"]}
      - {name: regex-high, paths: ["~/api/v1/items/7$"], regex_priority: 10}
      - {name: with-method, paths: [/api/v1], methods: [DELETE]}
`);

  test('the longest matching prefix wins', () => {
    expect(routeName(r, req('/api/x'))).toBe('short');
    expect(routeName(r, req('/api/v1/x'))).toBe('long');
  });

  test('prefix matching is by characters, not segments (/api matches /apix)', () => {
    expect(routeName(r, req('/apix'))).toBe('short');
  });

  test('regex paths are tried before prefix paths, by regex_priority', () => {
    expect(routeName(r, req('/api/v1/items/5'))).toBe('regex-low');
    expect(routeName(r, req('/api/v1/items/7'))).toBe('regex-high');
    expect(routeName(r, req('/api/v1/items/5/x'))).toBe('long'); // the regex ends with $
  });

  test('a route matching on more fields (methods + paths) outranks paths only', () => {
    expect(routeName(r, req('/api/v1/x', { method: 'DELETE' }))).toBe('with-method');
  });

  test('no route: null', () => {
    expect(r.match(req('/other'))).toBeNull();
  });

  test('a route with paths of several lengths is split per length (compat.lua split_route_by_path_into)', () => {
    // Unsplit, route "a" would carry its longest path's length (12) and win /x/y/z; split, its "/x"
    // sub-route has length 2 and the more specific "/x/y" of route "b" wins.
    const split = router(`
services:
  - name: s
    url: http://up:80
    routes:
      - {name: a, paths: [/abcdef-long, /x]}
      - {name: b, paths: [/x/y]}
`);
    expect(routeName(split, req('/x/y/z'))).toBe('b');
    expect(routeName(split, req('/x/q'))).toBe('a');
    expect(routeName(split, req('/abcdef-long/q'))).toBe('a');
  });

  test('equal priority: the greater route id wins (atc-router iterates (priority, uuid) in reverse)', () => {
    const ids = ['11111111-1111-4111-8111-111111111111', 'ffffffff-ffff-4fff-bfff-ffffffffffff'];
    const mk = (order: string[]) =>
      router(
        `services:\n  - name: s\n    url: http://up:80\n    routes:\n${order.map((id) => `      - {id: ${id}, paths: [/same]}\n`).join('')}`,
      );
    expect(mk(ids).match(req('/same'))!.route.id).toBe(ids[1]);
    expect(mk([...ids].reverse()).match(req('/same'))!.route.id).toBe(ids[1]);
  });

  test('[inferred] Kong 3.9 quirk: a plain-hosts route outranks a route matching three other fields', () => {
    // compat.lua computes the match weight with 32-bit LuaJIT shifts (see router.ts), so the
    // PLAIN_HOST_ONLY bit (bit 60) dominates a weight of 3 (methods + paths + headers).
    const q = router(`
services:
  - name: s
    url: http://up:80
    routes:
      - {name: host-only, hosts: [gw.test]}
      - {name: three-fields, paths: [/api], methods: [GET], headers: {x-a: ["1"]}}
`);
    expect(routeName(q, req('/api', { headers: { 'x-a': '1' } }))).toBe('host-only');
  });
});

describe('strip_path with regex paths and captures (kong/router/atc.lua select)', () => {
  const r = router(`
services:
  - name: s
    url: http://up:80/svc
    routes:
      - {name: users, paths: ["~/users/(?<id>\\\\d+)"], strip_path: true}
      - {name: keep, paths: ["~/keep/(\\\\w+)"], strip_path: false}
      - {name: nocap, paths: ["~/plain/\\\\w+"]}
`);

  test('the text the regex matched is stripped, the rest joined to the service path', () => {
    expect(r.match(req('/users/42/orders'))!.upstreamPath).toBe('/svc/orders');
    expect(r.match(req('/keep/abc/x'))!.upstreamPath).toBe('/svc/keep/abc/x');
  });

  test('uri_captures: whole match, positional and named groups; none without groups', () => {
    expect(r.match(req('/users/42/orders'))!.uriCaptures).toEqual({ '0': '/users/42', '1': '42', id: '42' });
    expect(r.match(req('/keep/abc'))!.uriCaptures).toEqual({ '0': '/keep/abc', '1': 'abc' });
    expect(r.match(req('/plain/abc'))!.uriCaptures).toBeUndefined();
  });

  test('regex paths are anchored at the start only', () => {
    expect(r.match(req('/x/users/42'))).toBeNull();
  });
});

describe('request path normalisation before matching (kong/tools/uri.lua normalize)', () => {
  const r = router(`
services:
  - name: s
    url: http://up:80
    routes:
      - {name: api, paths: [/api], strip_path: false}
      - {name: admin, paths: [/admin], strip_path: false}
`);

  test('percent-encoded unreserved characters are decoded', () => {
    expect(routeName(r, req('/%61pi/x'))).toBe('api');
    expect(routerPath('/a%7Eb%2fc')).toBe('/a~b%2Fc'); // reserved stays encoded, upper-cased
  });

  test('dot segments are resolved and repeated slashes merged', () => {
    expect(routeName(r, req('/api/../admin/x'))).toBe('admin');
    expect(routeName(r, req('/%2e%2e/admin'))).toBe('admin');
    expect(routeName(r, req('//api//x'))).toBe('api');
    expect(r.match(req('/api/./a/../b'))!.upstreamPath).toBe('/api/b');
  });

  test('the query string is ignored for matching and appended upstream unchanged', () => {
    const m = r.match(req('/api/x?a=1&b=%20'))!;
    expect(m.upstreamPath).toBe('/api/x');
    expect(m.upstreamUri).toBe('/api/x?a=1&b=%20');
    expect(r.match(req('/api/x?'))!.upstreamUri).toBe('/api/x?');
  });

  test('the upstream path is re-escaped (kong.tools.uri.escape)', () => {
    expect(r.match(req('/api/a%20b/%C3%A9'))!.upstreamPath).toBe('/api/a%20b/%C3%A9');
  });
});

describe('hosts (kong/router/transform.lua host expression)', () => {
  const r = router(`
services:
  - name: s
    url: http://up:80
    routes:
      - {name: exact, hosts: [api.example.com]}
      - {name: suffix, hosts: ["*.example.com"]}
      - {name: prefix, hosts: ["example.*"]}
      - {name: ported, hosts: ["ported.test:8000"]}
`);

  test('exact host, port in the Host header stripped', () => {
    expect(routeName(r, req('/', { host: 'api.example.com' }))).toBe('exact');
    expect(routeName(r, req('/', { host: 'api.example.com:8000' }))).toBe('exact');
  });

  test('a plain host outranks a wildcard that also matches', () => {
    expect(routeName(r, req('/', { host: 'api.example.com' }))).toBe('exact');
  });

  test('leading wildcard = suffix match (any depth); trailing wildcard = prefix match', () => {
    expect(routeName(r, req('/', { host: 'www.example.com' }))).toBe('suffix');
    expect(routeName(r, req('/', { host: 'a.b.example.com' }))).toBe('suffix');
    expect(routeName(r, req('/', { host: 'badexample.com' }))).toBeNull();
    expect(routeName(r, req('/', { host: 'example.org' }))).toBe('prefix');
  });

  test('a route host with a port also requires that port', () => {
    expect(routeName(r, req('/', { host: 'ported.test:8000' }))).toBe('ported');
    expect(routeName(r, req('/', { host: 'ported.test' }))).toBeNull();
    expect(routeName(r, req('/', { host: 'ported.test:9000' }))).toBeNull();
  });
});

describe('methods and headers (kong/router/transform.lua)', () => {
  const r = router(`
services:
  - name: s
    url: http://up:80
    routes:
      - {name: get-only, paths: [/m], methods: [GET, HEAD]}
      - {name: beta, paths: [/h], headers: {X-Version: [beta, Gamma]}}
      - {name: regex, paths: [/h], headers: {x-client: ["~*^mobile-\\\\d+$"]}}
      - {name: both, paths: [/h], headers: {x-version: [beta], x-client: [web]}}
`);

  test('methods must match exactly', () => {
    expect(routeName(r, req('/m'))).toBe('get-only');
    expect(routeName(r, req('/m', { method: 'POST' }))).toBeNull();
  });

  test('header values compare case-insensitively; any listed value, any received value', () => {
    expect(routeName(r, req('/h', { headers: { 'x-version': 'BETA' } }))).toBe('beta');
    expect(routeName(r, req('/h', { headers: { 'X-VERSION': ['other', 'gamma'] } }))).toBe('beta');
    expect(routeName(r, req('/h', { headers: { 'x-version': 'delta' } }))).toBeNull();
  });

  test('"~*" header values are regexes on the lower-cased value', () => {
    expect(routeName(r, req('/h', { headers: { 'x-client': 'Mobile-12' } }))).toBe('regex');
    expect(routeName(r, req('/h', { headers: { 'x-client': 'mobile-x' } }))).toBeNull();
  });

  test('more header conditions rank first; all must hold', () => {
    expect(routeName(r, req('/h', { headers: { 'x-version': 'beta', 'x-client': 'web' } }))).toBe('both');
    expect(routeName(r, req('/h', { headers: { 'x-version': 'beta', 'x-client': 'tv' } }))).toBe('beta');
  });
});

describe('protocols and https redirects (kong/runloop/handler.lua)', () => {
  const r = router(`
services:
  - name: s
    url: http://up:80
    routes:
      - {name: tls-426, paths: [/a], protocols: [https]}
      - {name: tls-301, paths: [/b], protocols: [https], https_redirect_status_code: 301}
      - {name: plain, paths: [/c], protocols: [http]}
`);

  test('an https-only route answers plain http with 426', () => {
    const m = r.match(req('/a'))!;
    expect(m.route.name).toBe('tls-426');
    expect(m.httpsRedirect).toBe(426);
    expect(m.httpsLocation).toBeUndefined();
  });

  test('a redirect code sends to https://<host without port><original target>', () => {
    const m = r.match(req('/b/x?q=1', { host: 'GW.test:8000' }))!;
    expect(m.httpsRedirect).toBe(301);
    expect(m.httpsLocation).toBe('https://gw.test/b/x?q=1');
  });

  test('over https no redirect; an http-only route still matches https requests', () => {
    expect(r.match(req('/a', { scheme: 'https' }))!.httpsRedirect).toBeUndefined();
    expect(r.match(req('/c', { scheme: 'https' }))!.route.name).toBe('plain');
  });
});

describe('preserve_host (kong/router/atc.lua upstream_host)', () => {
  test('the request Host header is kept only when preserve_host is set', () => {
    const r = router(`
services:
  - name: s
    url: http://up:80
    routes:
      - {name: keep, paths: [/k], preserve_host: true}
      - {name: drop, paths: [/d]}
`);
    expect(r.match(req('/k', { host: 'client.test:8000' }))!.upstreamHost).toBe('client.test:8000');
    expect(r.match(req('/d', { host: 'client.test:8000' }))!.upstreamHost).toBeUndefined();
  });
});
