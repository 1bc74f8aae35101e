// bulwark-transport through the Kong emulator with the real plugin server and a real echo upstream.
import {
  startGateway,
  Gateway,
  echoed,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const CONFIG = `
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - name: api
        paths: ["/api"]
      - name: behind-lb
        paths: ["/lb"]
      - name: reject
        paths: ["/reject"]
      - name: forbidden
        paths: ["/forbidden"]
      - name: open
        paths: ["/open"]
      - name: forwarded
        paths: ["/fwd"]
plugins:
  - name: bulwark-transport
    route: api
    config:
      allowed_hosts: ["api.example.com", "*.example.org"]
  - name: bulwark-transport
    route: behind-lb
    config:
      trusted_proxies: ["10.0.0.0/8", "2001:db8::/32"]
  - name: bulwark-transport
    route: reject
    config:
      https: { mode: reject }
  - name: bulwark-transport
    route: forbidden
    config:
      https: { mode: reject, reject_status: 403 }
  - name: bulwark-transport
    route: open
    config:
      https: { enforce: false }
      security_headers:
        preset: api
        overrides: { Cache-Control: "private, max-age=60", X-Frame-Options: "" }
  - name: bulwark-transport
    route: forwarded
    config:
      trusted_proxies: ["10.0.0.0/8"]
      forwarded_header: forwarded
`;

describe('bulwark-transport integration (emulator + real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ plugins: ['bulwark-transport'] });
    gw.configure(CONFIG);
  });
  afterAllNoFailOpen(() => [gw]);

  const get = (
    path: string,
    opts: Parameters<Gateway['kong']['request']>[0] extends infer T ? Partial<T> : never = {},
  ) => gw.kong.request({ path, ...opts });

  describe('HTTPS enforcement', () => {
    test('plain-HTTP GET is redirected with 301 to the same host, path and query over https', async () => {
      const res = await get('/api/orders?id=7&x=%20y', { headers: { host: 'api.example.com:8000' } });
      expect(res.status).toBe(301);
      expect(res.headers.first('location')).toBe('https://api.example.com/api/orders?id=7&x=%20y');
      expect(res.report.upstreamRequest).toBeUndefined();
      expect(res.report.failOpen).toEqual([]);
    });

    test('plain-HTTP POST is redirected with 308 so method and body are kept', async () => {
      const res = await get('/api/orders', { method: 'POST', body: '{"a":1}', headers: { host: 'api.example.com' } });
      expect(res.status).toBe(308);
      expect(res.headers.first('location')).toBe('https://api.example.com/api/orders');
    });

    test('HTTPS requests pass, reach the upstream, and get HSTS and the api security headers', async () => {
      const res = await get('/api/orders', { scheme: 'https', headers: { host: 'api.example.com' } });
      expect(res.status).toBe(200);
      expect(echoed(res.body).path).toBe('/orders'); // strip_path (route default)
      expect(res.headers.first('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(res.headers.first('x-content-type-options')).toBe('nosniff');
      expect(res.headers.first('cache-control')).toBe('no-store');
      expect(res.headers.first('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.first('referrer-policy')).toBe('no-referrer');
    });

    test('a spoofed X-Forwarded-Proto from an untrusted peer is ignored', async () => {
      const res = await get('/lb/x', { clientIp: '203.0.113.9', headers: { 'x-forwarded-proto': 'https' } });
      expect(res.status).toBe(301);
    });

    test('X-Forwarded-Proto from a trusted proxy is honoured (IPv4 and IPv6 proxies)', async () => {
      const v4 = await get('/lb/x', {
        clientIp: '10.1.2.3',
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' },
      });
      expect(v4.status).toBe(200);
      expect(v4.headers.first('strict-transport-security')).toMatch(/^max-age=31536000/);
      const v6 = await get('/lb/x', { clientIp: '2001:db8::17', headers: { 'x-forwarded-proto': 'https' } });
      expect(v6.status).toBe(200);
    });

    test('malformed forwarding headers from a trusted proxy fail safe (treated as plain HTTP), never crash', async () => {
      for (const proto of ['https, http', 'htt ps', '', '\u00ff']) {
        const res = await get('/lb/x', {
          clientIp: '10.1.2.3',
          headers: { 'x-forwarded-proto': proto, 'x-forwarded-for': 'garbage, ,::zz' },
        });
        expect(res.status).toBe(301);
      }
    });

    test('RFC 7239 Forwarded proto= from a trusted proxy is honoured when configured; X-Forwarded-Proto is then ignored', async () => {
      const ok = await get('/fwd', {
        clientIp: '10.0.0.5',
        headers: { forwarded: 'for="[2001:db8::1]:4711";proto=https' },
      });
      expect(ok.status).toBe(200);
      const xfp = await get('/fwd', { clientIp: '10.0.0.5', headers: { 'x-forwarded-proto': 'https' } });
      expect(xfp.status).toBe(301);
    });

    test('reject mode answers 426 with Upgrade headers and a Kong-style JSON body', async () => {
      const res = await get('/reject');
      expect(res.status).toBe(426);
      expect(res.headers.first('upgrade')).toBe('TLS/1.2, HTTP/1.1');
      expect(JSON.parse(res.body.toString())).toEqual({ message: expect.any(String) });
      const forbidden = await get('/forbidden');
      expect(forbidden.status).toBe(403);
    });
  });

  describe('Host allow-list', () => {
    test('an unlisted Host gets 421 before any redirect is built; wildcards and ports are handled', async () => {
      const evil = await get('/api/x', { headers: { host: 'evil.example.net' } });
      expect(evil.status).toBe(421);
      expect(evil.headers.first('location')).toBeUndefined();
      const wild = await get('/api/x', { scheme: 'https', headers: { host: 'eu.example.org:443' } });
      expect(wild.status).toBe(200);
      const bare = await get('/api/x', { scheme: 'https', headers: { host: 'example.org' } });
      expect(bare.status).toBe(421);
    });

    test('a malformed Host is refused with 400', async () => {
      const res = await get('/open', { headers: { host: 'a b@c' } });
      expect(res.status).toBe(400);
    });
  });

  describe('Security response headers', () => {
    test('set in access: on the proxied response, and the route is not buffered (no response phase)', async () => {
      const res = await get('/open', {
        headers: { 'x-echo-response-headers': JSON.stringify({ Server: 'Apache/2.4.1', 'X-Powered-By': 'PHP/5.6' }) },
      });
      expect(res.status).toBe(200);
      expect(res.headers.first('cache-control')).toBe('private, max-age=60');
      expect(res.headers.first('x-frame-options')).toBeUndefined();
      expect(res.headers.first('x-content-type-options')).toBe('nosniff');
      // Removing upstream headers needs the response phase: bulwark-response-headers' job, not this plugin's.
      expect(res.headers.first('server')).toBe('Apache/2.4.1');
      expect(res.report.bufferedProxying).toBe(false);
      expect(res.report.events).toEqual([['bulwark-transport', 'access']]);
    });

    test('an upstream header of the same name is sent as well, after ours (nginx appends upstream headers to those set in access)', async () => {
      // ngx_http_upstream_process_headers / ngx_http_upstream_copy_header_line (nginx 1.25.3): nothing set in access
      // is replaced, so the client gets both values; Content-Type is the exception (the upstream's replaces).
      const res = await get('/open', {
        headers: {
          'x-echo-response-headers': JSON.stringify({
            'Cache-Control': 'public, max-age=3600',
            'X-Content-Type-Options': 'nosniff',
          }),
        },
      });
      expect(res.headers.get('cache-control')).toEqual(['private, max-age=60', 'public, max-age=3600']);
      expect(res.headers.get('x-content-type-options')).toEqual(['nosniff', 'nosniff']);
    });

    test('HSTS is only sent on HTTPS responses', async () => {
      const plain = await get('/open');
      expect(plain.headers.first('strict-transport-security')).toBeUndefined();
      const tls = await get('/open', { scheme: 'https' });
      expect(tls.headers.first('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    });

    test('HSTS when a trusted proxy reports HTTPS; not when an untrusted client claims it', async () => {
      const viaLb = await get('/lb', {
        scheme: 'http',
        clientIp: '10.1.2.3',
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(viaLb.status).toBe(200);
      expect(viaLb.headers.first('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      const spoofed = await get('/lb', {
        scheme: 'http',
        clientIp: '198.51.100.7',
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(spoofed.status).toBe(301); // plain HTTP after all: redirected, with the plain-HTTP header set
      expect(spoofed.headers.first('x-frame-options')).toBe('DENY');
      expect(spoofed.headers.first('strict-transport-security')).toBeUndefined();
    });
  });

  describe('PDK round trips', () => {
    test('a passing request costs 5 RPCs, all in access (HandleEvent, getHeaders, getScheme, setHeaders, decision record)', async () => {
      await get('/open'); // instance started
      const res = await get('/open', { headers: { 'x-echo-response-headers': JSON.stringify({ Server: 'x' }) } });
      expect(res.report.rpcCallsByPlugin['bulwark-transport']).toBe(5);
      expect(res.report.events).toEqual([['bulwark-transport', 'access']]);
    });

    test('with trusted_proxies, client.get_ip only when the request carries X-Forwarded-Proto', async () => {
      const direct = await get('/lb', { scheme: 'https', clientIp: '10.1.2.3' });
      expect(direct.status).toBe(200);
      expect(direct.report.rpcCallsByPlugin['bulwark-transport']).toBe(5);
      const viaLb = await get('/lb', {
        scheme: 'http',
        clientIp: '10.1.2.3',
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(viaLb.status).toBe(200);
      expect(viaLb.report.rpcCallsByPlugin['bulwark-transport']).toBe(6);
    });
  });
});

describe('bulwark-transport fails closed on bad config', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ plugins: ['bulwark-transport'] });
  });
  afterAll(async () => gw?.stop());

  test("a config Kong's schema accepts but the plugin refuses (CIDR with host bits) makes StartInstance fail: 500, never proxied", async () => {
    gw.configure(`
_format_version: "3.0"
services:
  - name: s
    url: ECHO
    routes: [{ name: r, paths: ["/"] }]
plugins:
  - name: bulwark-transport
    config: { trusted_proxies: ["10.0.0.1/8"], https: { enforce: false } }
`);
    const res = await gw.kong.request({ path: '/x' });
    expect(res.status).toBe(500);
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(gw.kong.log.join('\n')).toMatch(/trusted_proxies\[0\]/);
  });

  test("Kong's schema rejects an unknown preset at config load, naming the field", () => {
    expect(() =>
      gw.kong.validatePluginConfig('bulwark-transport', { security_headers: { preset: 'paranoid' } }),
    ).toThrow(/security_headers.*preset|preset/);
  });
});
