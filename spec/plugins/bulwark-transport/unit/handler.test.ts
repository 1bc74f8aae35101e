// The phase handlers through the plugin class (as kong-pdk calls them), against a recording fake `kong`:
// which PDK calls are made (each one is an RPC to Kong), and what the client gets.
import * as transport from '../../../../plugins/bulwark-transport';
import { SHARED_HTTPS_KEY } from '../../../../plugins/bulwark-transport/handler';
import type { HeaderMultimap } from '../../../../plugins/lib/pdk';
import { fakeKong, type FakeReplies } from '../../../lib/fake-kong';

type Phases = { access(k: unknown): Promise<void>; response(k: unknown): Promise<void> };
const instance = (raw: Record<string, unknown> = {}) => new transport.Plugin(raw) as unknown as Phases;

interface RequestSpec {
  scheme?: string;
  ip?: string;
  headers?: HeaderMultimap;
  method?: string;
  pathWithQuery?: string;
  responseHeaders?: HeaderMultimap;
  shared?: Record<string, unknown>;
}

function kongFor(req: RequestSpec) {
  const shared: Record<string, unknown> = { ...req.shared };
  const replies: FakeReplies = {
    'request.getHeaders': () => req.headers ?? { host: ['api.example.com'] },
    'request.getScheme': () => req.scheme ?? 'https',
    'request.getMethod': () => req.method ?? 'GET',
    'request.getPathWithQuery': () => req.pathWithQuery ?? '/',
    'client.getIp': () => req.ip ?? '198.51.100.7',
    'response.getHeaders': () => req.responseHeaders ?? {},
    'ctx.shared.get': (k) => shared[k as string],
    'ctx.shared.set': (k, v) => {
      shared[k as string] = v;
    },
  };
  return Object.assign(fakeKong(replies), { shared });
}

describe('access', () => {
  it('HTTPS request, default config: two RPCs, no exit', async () => {
    const fake = kongFor({});
    await instance().access(fake.kong);
    expect(fake.names()).toEqual(['request.getHeaders', 'request.getScheme']);
    expect(fake.exit).toBeUndefined();
  });

  it('reads the peer IP only when proxies are trusted', async () => {
    const fake = kongFor({ ip: '10.0.0.2', headers: { host: ['api.example.com'], 'x-forwarded-proto': ['https'] }, scheme: 'http' });
    await instance({ trusted_proxies: ['10.0.0.0/8'] }).access(fake.kong);
    expect(fake.names()).toEqual(['request.getHeaders', 'request.getScheme', 'client.getIp']);
    expect(fake.exit).toBeUndefined();
  });

  it('GET over HTTP → 301 to https with the path and query, security headers, no HSTS', async () => {
    const fake = kongFor({ scheme: 'http', headers: { host: ['api.example.com:8000'] }, pathWithQuery: '/v1/items?id=7' });
    await instance().access(fake.kong);
    expect(fake.exit?.status).toBe(301);
    expect(fake.exit?.body).toBe(''); // never a nil before the headers argument
    const headers = fake.exit?.headers as Record<string, string>;
    expect(headers.Location).toBe('https://api.example.com/v1/items?id=7');
    expect(headers['X-Content-Type-Options']).toBe('nosniff');
    expect(headers['Strict-Transport-Security']).toBeUndefined();
    expect(fake.callsAfterExit).toEqual([]);
  });

  it('POST over HTTP → 308 (method and body kept)', async () => {
    const fake = kongFor({ scheme: 'http', method: 'POST' });
    await instance().access(fake.kong);
    expect(fake.exit?.status).toBe(308);
  });

  it('a configured redirect status needs no getMethod RPC; redirect_port is used', async () => {
    const fake = kongFor({ scheme: 'http', pathWithQuery: '/x' });
    await instance({ https: { redirect_status: 302, redirect_port: 8443 } }).access(fake.kong);
    expect(fake.names()).toEqual(['request.getHeaders', 'request.getScheme', 'request.getPathWithQuery', 'response.exit']);
    expect(fake.exit).toMatchObject({ status: 302, headers: { Location: 'https://api.example.com:8443/x' } });
  });

  it('reject mode → 426 with Kong\'s message and Upgrade headers', async () => {
    const fake = kongFor({ scheme: 'http' });
    await instance({ https: { mode: 'reject' } }).access(fake.kong);
    expect(fake.exit).toMatchObject({
      status: 426,
      body: { message: 'Please use HTTPS protocol' },
      headers: { Connection: 'Upgrade', Upgrade: 'TLS/1.2, HTTP/1.1', 'Cache-Control': 'no-store' },
    });
  });

  it('unlisted host over HTTPS → 421 JSON with HSTS and security headers', async () => {
    const fake = kongFor({ headers: { host: ['evil.example'] } });
    await instance({ allowed_hosts: ['api.example.com'] }).access(fake.kong);
    expect(fake.exit).toMatchObject({
      status: 421,
      body: { message: 'Misdirected request' },
      headers: { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains', 'X-Frame-Options': 'DENY' },
    });
  });

  it('malformed Host → 400', async () => {
    const fake = kongFor({ headers: { host: ['a.example/../x'] } });
    await instance().access(fake.kong);
    expect(fake.exit).toMatchObject({ status: 400, body: { message: 'Bad request' } });
  });

  it('stores the effective scheme for the response phase only when it must', async () => {
    const c = { https: { enforce: false }, trusted_proxies: ['10.0.0.0/8'] };
    const fake = kongFor({ scheme: 'http', ip: '10.0.0.2', headers: { host: ['a.example'], 'x-forwarded-proto': ['https'] } });
    await instance(c).access(fake.kong);
    expect(fake.calls.at(-1)).toEqual(['ctx.shared.set', [SHARED_HTTPS_KEY, true]]);

    const plain = kongFor({ scheme: 'http' });
    await instance({ https: { enforce: false } }).access(plain.kong);
    expect(plain.names()).not.toContain('ctx.shared.set');
  });

  it('fails closed on an unexpected error (e.g. the headers RPC returning nothing)', async () => {
    const fake = fakeKong({ 'request.getHeaders': () => undefined, 'request.getScheme': () => 'https' });
    await instance().access(fake.kong);
    expect(fake.exit).toEqual({ status: 500, body: { message: 'An unexpected error occurred' }, headers: undefined });
    expect(fake.names()).toContain('log.err');
  });
});

describe('response', () => {
  it('default config: one getHeaders, clears only the leaking headers present, one setHeaders with HSTS', async () => {
    const fake = kongFor({ responseHeaders: { server: ['nginx/1.25'], 'content-type': ['application/json'], 'x-powered-by': ['Express'] } });
    await instance().response(fake.kong);
    expect(fake.names()).toEqual(['response.getHeaders', 'response.clearHeader', 'response.clearHeader', 'response.setHeaders']);
    expect(fake.calls[1]![1]).toEqual(['server']);
    expect(fake.calls[2]![1]).toEqual(['x-powered-by']);
    expect(fake.calls[3]![1][0]).toMatchObject({
      'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    });
  });

  it('nothing to remove and nothing to set: no RPC at all', async () => {
    const fake = kongFor({});
    await instance({ remove_response_headers: [], security_headers: { preset: 'none' }, hsts: { enabled: false } }).response(fake.kong);
    expect(fake.calls).toEqual([]);
  });

  it('without enforcement and without trusted proxies, asks the connection scheme', async () => {
    const conf = { https: { enforce: false }, remove_response_headers: [] };
    const http = kongFor({ scheme: 'http' });
    await instance(conf).response(http.kong);
    expect(http.names()).toEqual(['request.getScheme', 'response.setHeaders']);
    expect(http.calls[1]![1][0]).not.toHaveProperty('Strict-Transport-Security');

    const https = kongFor({ scheme: 'https' });
    await instance(conf).response(https.kong);
    expect(https.calls[1]![1][0]).toHaveProperty('Strict-Transport-Security');
  });

  it('with trusted proxies, uses what access stored (and no HSTS if the value is missing)', async () => {
    const conf = { https: { enforce: false }, trusted_proxies: ['10.0.0.0/8'], remove_response_headers: [] };
    const yes = kongFor({ shared: { [SHARED_HTTPS_KEY]: true } });
    await instance(conf).response(yes.kong);
    expect(yes.names()).toEqual(['ctx.shared.get', 'response.setHeaders']);
    expect(yes.calls[1]![1][0]).toHaveProperty('Strict-Transport-Security');

    const missing = kongFor({});
    await instance(conf).response(missing.kong);
    expect(missing.calls[1]![1][0]).not.toHaveProperty('Strict-Transport-Security');
  });

  it('access and response together: a forwarded-HTTPS request gets HSTS', async () => {
    const conf = { https: { enforce: false }, trusted_proxies: ['10.0.0.0/8'] };
    const shared = {};
    const req = { scheme: 'http', ip: '10.0.0.2', headers: { host: ['a.example'], 'x-forwarded-proto': ['https'] }, shared };
    const first = kongFor(req);
    await instance(conf).access(first.kong);
    const second = kongFor({ ...req, shared: first.shared });
    await instance(conf).response(second.kong);
    expect(second.calls.at(-1)![1][0]).toHaveProperty('Strict-Transport-Security');
  });
});
