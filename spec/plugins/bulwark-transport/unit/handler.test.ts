// The phase handlers through the plugin class (as kong-pdk calls them), against a recording fake `kong`:
// which PDK calls are made (each one is an RPC to Kong), and what the client gets.
import * as transport from '../../../../plugins/bulwark-transport';
import type { HeaderMultimap } from '../../../../plugins/lib/pdk';
import { fakeKong, type FakeReplies } from '../../../lib/fake-kong';

type Phases = { access(k: unknown): Promise<void>; response?: unknown };
const instance = (raw: Record<string, unknown> = {}) => new transport.Plugin(raw) as unknown as Phases;

interface RequestSpec {
  scheme?: string;
  ip?: string;
  headers?: HeaderMultimap;
  method?: string;
  pathWithQuery?: string;
}

function kongFor(req: RequestSpec) {
  const replies: FakeReplies = {
    'request.getHeaders': () => req.headers ?? { host: ['api.example.com'] },
    'request.getScheme': () => req.scheme ?? 'https',
    'request.getMethod': () => req.method ?? 'GET',
    'request.getPathWithQuery': () => req.pathWithQuery ?? '/',
    'client.getIp': () => req.ip ?? '198.51.100.7',
  };
  return fakeKong(replies);
}

describe('access', () => {
  it('HTTPS request, default config: three RPCs (two reads, one bulk header write with HSTS), no exit', async () => {
    const fake = kongFor({});
    await instance().access(fake.kong);
    expect(fake.names()).toEqual([
      'request.getHeaders',
      'request.getScheme',
      'response.setHeaders',
      'log.setSerializeValue' /* decision record (lib/plugin.ts) */,
    ]);
    expect(fake.calls[2]![1][0]).toEqual({
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'X-Frame-Options': 'DENY',
      'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
    });
    expect(fake.exit).toBeUndefined();
  });

  it('the plugin has no response handler: Kong never buffers a request because of it', () => {
    // kong-pdk dumps as Phases the prototype methods (lib/mod.js); a `response` one would make Kong buffer
    // every request on every route this plugin covers (plugins_iterator.lua, kong/init.lua Kong.response).
    expect(instance().response).toBeUndefined();
    expect(
      Object.getOwnPropertyNames(transport.Plugin.prototype)
        .filter((n) => n !== 'constructor')
        .sort(),
    ).toEqual(['access', 'certificate']);
  });

  it('plain HTTP allowed: the same headers without HSTS', async () => {
    const fake = kongFor({ scheme: 'http' });
    await instance({ https: { enforce: false } }).access(fake.kong);
    expect(fake.names()).toEqual([
      'request.getHeaders',
      'request.getScheme',
      'response.setHeaders',
      'log.setSerializeValue' /* decision record (lib/plugin.ts) */,
    ]);
    expect(fake.calls[2]![1][0]).toHaveProperty('X-Frame-Options', 'DENY');
    expect(fake.calls[2]![1][0]).not.toHaveProperty('Strict-Transport-Security');
  });

  it('HTTPS reported by a trusted proxy gets HSTS; the same header from anyone else does not', async () => {
    const conf = { https: { enforce: false }, trusted_proxies: ['10.0.0.0/8'] };
    const headers = { host: ['a.example'], 'x-forwarded-proto': ['https'] };
    const trusted = kongFor({ scheme: 'http', ip: '10.0.0.2', headers });
    await instance(conf).access(trusted.kong);
    expect(trusted.calls.at(-2)).toEqual([
      'response.setHeaders',
      [expect.objectContaining({ 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' })],
    ]);
    const spoofed = kongFor({ scheme: 'http', ip: '198.51.100.7', headers });
    await instance(conf).access(spoofed.kong);
    expect(spoofed.calls.at(-2)![1][0]).not.toHaveProperty('Strict-Transport-Security');
  });

  it('nothing configured to set: no header write at all', async () => {
    const fake = kongFor({});
    await instance({ security_headers: { preset: 'none' }, hsts: { enabled: false } }).access(fake.kong);
    expect(fake.names()).toEqual([
      'request.getHeaders',
      'request.getScheme',
      'log.setSerializeValue' /* decision record (lib/plugin.ts) */,
    ]);
  });

  it('reads the peer IP only when proxies are trusted', async () => {
    const fake = kongFor({
      ip: '10.0.0.2',
      headers: { host: ['api.example.com'], 'x-forwarded-proto': ['https'] },
      scheme: 'http',
    });
    await instance({ trusted_proxies: ['10.0.0.0/8'] }).access(fake.kong);
    expect(fake.names()).toEqual([
      'request.getHeaders',
      'request.getScheme',
      'client.getIp',
      'response.setHeaders',
      'log.setSerializeValue' /* decision record (lib/plugin.ts) */,
    ]);
    expect(fake.exit).toBeUndefined();
  });

  it('skips the peer IP when trusted proxies are set but the request carries no forwarding header', async () => {
    const fake = kongFor({ ip: '10.0.0.2', headers: { host: ['api.example.com'] }, scheme: 'https' });
    await instance({ trusted_proxies: ['10.0.0.0/8'] }).access(fake.kong);
    expect(fake.names()).toEqual([
      'request.getHeaders',
      'request.getScheme',
      'response.setHeaders',
      'log.setSerializeValue' /* decision record (lib/plugin.ts) */,
    ]);
    expect(fake.exit).toBeUndefined();
  });

  it('GET over HTTP → 301 to https with the path and query, security headers, no HSTS', async () => {
    const fake = kongFor({
      scheme: 'http',
      headers: { host: ['api.example.com:8000'] },
      pathWithQuery: '/v1/items?id=7',
    });
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
    expect(fake.names()).toEqual([
      'request.getHeaders',
      'request.getScheme',
      'request.getPathWithQuery',
      'response.exit',
    ]);
    expect(fake.exit).toMatchObject({ status: 302, headers: { Location: 'https://api.example.com:8443/x' } });
  });

  it("reject mode → 426 with Kong's message and Upgrade headers", async () => {
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

  it('fails closed on an unexpected error (e.g. the headers RPC returning nothing)', async () => {
    const fake = fakeKong({ 'request.getHeaders': () => undefined, 'request.getScheme': () => 'https' });
    await instance().access(fake.kong);
    expect(fake.exit).toEqual({ status: 500, body: { message: 'An unexpected error occurred' }, headers: undefined });
    expect(fake.names()).toContain('log.err');
  });
});
