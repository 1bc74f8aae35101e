import { parseTransportConfig } from '../../../../plugins/bulwark-transport/config';
import {
  decideTransport,
  peerIpNeeded,
  redirectLocation,
  redirectStatusFor,
  sanitizeRequestTarget,
  type TransportInput,
} from '../../../../plugins/bulwark-transport/decision';
import type { HeaderMultimap } from '../../../../plugins/lib/pdk';

const conf = (raw: Record<string, unknown> = {}) => parseTransportConfig(raw);
const input = (connectionScheme: string, headers: HeaderMultimap, peerIp = '198.51.100.7'): TransportInput => ({
  connectionScheme,
  peerIp,
  headers,
});
const host = (h: string): HeaderMultimap => ({ host: [h] });

describe('decideTransport: HTTPS enforcement', () => {
  it('passes HTTPS requests', () => {
    expect(decideTransport(input('https', host('a.example')), conf())).toEqual({ action: 'pass', https: true });
  });

  it('redirects plain HTTP by default, to the Host without its port', () => {
    expect(decideTransport(input('http', host('A.Example:8000')), conf())).toEqual({
      action: 'redirect',
      host: { hostname: 'a.example', kind: 'name', port: 8000 },
    });
  });

  it('rejects with 426 + Upgrade in reject mode, or 403 when configured', () => {
    expect(decideTransport(input('http', host('a.example')), conf({ https: { mode: 'reject' } }))).toEqual({
      action: 'reject',
      status: 426,
      message: 'Please use HTTPS protocol',
      https: false,
      upgrade: true,
      reason: 'https_required',
    });
    expect(
      decideTransport(input('http', host('a.example')), conf({ https: { mode: 'reject', reject_status: 403 } })),
    ).toMatchObject({
      action: 'reject',
      status: 403,
      upgrade: false,
      reason: 'https_required',
    });
  });

  it('lets plain HTTP through when enforcement is off', () => {
    expect(decideTransport(input('http', host('a.example')), conf({ https: { enforce: false } }))).toEqual({
      action: 'pass',
      https: false,
    });
  });

  it('cannot redirect without a Host (400)', () => {
    expect(decideTransport(input('http', {}), conf())).toMatchObject({
      action: 'reject',
      status: 400,
      message: 'Bad request',
      reason: 'bad_host',
    });
  });

  it('ignores X-Forwarded-Proto when no proxy is trusted (a client cannot claim HTTPS)', () => {
    const headers = { host: ['a.example'], 'x-forwarded-proto': ['https'] };
    expect(decideTransport(input('http', headers, '10.0.0.2'), conf())).toMatchObject({ action: 'redirect' });
  });

  it('ignores X-Forwarded-Proto from an untrusted peer', () => {
    const headers = { host: ['a.example'], 'x-forwarded-proto': ['https'] };
    expect(
      decideTransport(input('http', headers, '198.51.100.7'), conf({ trusted_proxies: ['10.0.0.0/8'] })),
    ).toMatchObject({
      action: 'redirect',
    });
  });

  it('believes X-Forwarded-Proto from a trusted peer, both ways', () => {
    const c = conf({ trusted_proxies: ['10.0.0.0/8'] });
    expect(
      decideTransport(input('http', { host: ['a.example'], 'x-forwarded-proto': ['https'] }, '10.0.0.2'), c),
    ).toEqual({
      action: 'pass',
      https: true,
    });
    // TLS to Kong, but the client spoke plain HTTP to the load balancer: the client's leg counts.
    expect(
      decideTransport(input('https', { host: ['a.example'], 'x-forwarded-proto': ['http'] }, '10.0.0.2'), c),
    ).toMatchObject({
      action: 'redirect',
    });
  });

  it('falls back to the connection scheme when a trusted X-Forwarded-Proto is ambiguous', () => {
    const c = conf({ trusted_proxies: ['10.0.0.0/8'] });
    expect(
      decideTransport(input('http', { host: ['a.example'], 'x-forwarded-proto': ['https', 'http'] }, '10.0.0.2'), c),
    ).toMatchObject({
      action: 'redirect',
    });
  });

  it('uses Forwarded proto= when configured so', () => {
    const c = conf({ trusted_proxies: ['10.0.0.0/8'], forwarded_header: 'forwarded' });
    const headers = { host: ['a.example'], forwarded: ['for=203.0.113.5;proto=https'] };
    expect(decideTransport(input('http', headers, '10.0.0.2'), c)).toEqual({ action: 'pass', https: true });
  });
});

describe('decideTransport: hosts', () => {
  const c = conf({ allowed_hosts: ['api.example.com', '*.example.net'] });

  it.each([
    ['api.example.com', 'pass'],
    ['API.example.com:443', 'pass'],
    ['x.example.net', 'pass'],
    ['example.net', 421],
    ['evil.com', 421],
  ])('Host %s → %s', (h, expected) => {
    const d = decideTransport(input('https', host(h)), c);
    if (expected === 'pass') expect(d.action).toBe('pass');
    else
      expect(d).toEqual({
        action: 'reject',
        status: 421,
        message: 'Misdirected request',
        https: true,
        upgrade: false,
        reason: 'misdirected_host',
      });
  });

  it('a missing Host is misdirected when hosts are listed', () => {
    expect(decideTransport(input('https', {}), c)).toMatchObject({ status: 421 });
  });

  it('checks the host before redirecting: never redirects to an unlisted host', () => {
    expect(decideTransport(input('http', host('evil.com')), c)).toMatchObject({
      action: 'reject',
      status: 421,
      https: false,
    });
  });

  it('refuses malformed or duplicated Host headers even without an allow-list', () => {
    for (const headers of [
      host('evil.com/x'),
      host('a b'),
      host('user@a.example'),
      { host: ['a.example', 'b.example'] },
    ]) {
      expect(decideTransport(input('https', headers), conf())).toMatchObject({ action: 'reject', status: 400 });
    }
  });

  it('passes a request without Host when nothing needs it', () => {
    expect(decideTransport(input('https', {}), conf())).toEqual({ action: 'pass', https: true });
  });

  it('uses X-Forwarded-Host only from a trusted peer and only when trust_forwarded_host is on', () => {
    const headers = { host: ['internal.svc'], 'x-forwarded-host': ['api.example.com'] };
    const base = { allowed_hosts: ['api.example.com'], trusted_proxies: ['10.0.0.0/8'] };
    expect(decideTransport(input('https', headers, '10.0.0.2'), conf(base)).action).toBe('reject');
    expect(
      decideTransport(input('https', headers, '10.0.0.2'), conf({ ...base, trust_forwarded_host: true })).action,
    ).toBe('pass');
    expect(
      decideTransport(input('https', headers, '198.51.100.7'), conf({ ...base, trust_forwarded_host: true })).action,
    ).toBe('reject');
  });

  it('refuses an invalid forwarded host from a trusted proxy instead of falling back to Host', () => {
    const headers = { host: ['api.example.com'], 'x-forwarded-host': ['a.example, b.example'] };
    const c2 = conf({ trusted_proxies: ['10.0.0.0/8'], trust_forwarded_host: true });
    expect(decideTransport(input('https', headers, '10.0.0.2'), c2)).toMatchObject({ action: 'reject', status: 400 });
  });

  it('redirects to the forwarded host when trusted', () => {
    const headers = { host: ['internal.svc:8000'], 'x-forwarded-host': ['api.example.com'] };
    const c2 = conf({ trusted_proxies: ['10.0.0.0/8'], trust_forwarded_host: true });
    expect(decideTransport(input('http', headers, '10.0.0.2'), c2)).toEqual({
      action: 'redirect',
      host: { hostname: 'api.example.com', kind: 'name' },
    });
  });
});

describe('redirects', () => {
  it('defaults to 301 for GET/HEAD and 308 (keeps method and body) otherwise', () => {
    expect(redirectStatusFor('GET', undefined)).toBe(301);
    expect(redirectStatusFor('head', undefined)).toBe(301);
    expect(redirectStatusFor('POST', undefined)).toBe(308);
    expect(redirectStatusFor('DELETE', undefined)).toBe(308);
    expect(redirectStatusFor(undefined, undefined)).toBe(308);
    expect(redirectStatusFor('GET', 307)).toBe(307);
  });

  it('builds the Location from the validated host and the request target', () => {
    const h = { hostname: 'a.example', kind: 'name' as const, port: 8000 };
    expect(redirectLocation(h, '/p/q?x=1&y', undefined)).toBe('https://a.example/p/q?x=1&y');
    expect(redirectLocation(h, '/p', 443)).toBe('https://a.example/p');
    expect(redirectLocation(h, '/p', 8443)).toBe('https://a.example:8443/p');
    expect(redirectLocation({ hostname: '2001:db8::1', kind: 'ipv6' }, '/', 8443)).toBe('https://[2001:db8::1]:8443/');
  });

  it.each([
    [undefined, '/'],
    ['', '/'],
    ['*', '/'],
    ['http://evil.com/x', '/'],
    ['/a b', '/a%20b'],
    ['/a\r\nSet-Cookie: x=1', '/a%0D%0ASet-Cookie:%20x=1'],
    ['/%41%zz%', '/%41%25zz%25'],
    ['/ä', '/%C3%A4'],
    ['/😀', '/%F0%9F%98%80'],
    // A path that is not UTF-8 (bytes e0 c0 af, escaped by the plugin server): the client's bytes, not EF BF BD.
    ['/a\uDCE0\uDCC0\uDCAFb', '/a%E0%C0%AFb'],
    ['/a#frag', '/a%23frag'],
    ['/"<>\\^`{|}', '/%22%3C%3E%5C%5E%60%7B%7C%7D'],
    ['//evil.com/x', '//evil.com/x'], // stays a path: the host is already fixed in the Location
  ])('sanitizes the request target %j → %j', (target, expected) => {
    expect(sanitizeRequestTarget(target)).toBe(expected);
    expect(new URL(redirectLocation({ hostname: 'a.example', kind: 'name' }, target, undefined)).host).toBe(
      'a.example',
    );
  });
});

describe('peerIpNeeded: client.getIp is skipped only where the peer cannot change the decision', () => {
  const configs = [
    { trusted_proxies: ['10.0.0.0/8'] },
    { trusted_proxies: ['10.0.0.0/8'], trust_forwarded_host: true, allowed_hosts: ['api.example.com'] },
    { trusted_proxies: ['10.0.0.0/8'], forwarded_header: 'forwarded', https: { enforce: true, mode: 'reject' } },
    { trusted_proxies: ['10.0.0.0/8'], forwarded_header: 'forwarded', trust_forwarded_host: true },
  ];
  const headerSets: HeaderMultimap[] = [
    { host: ['api.example.com'] },
    { host: ['api.example.com'], 'x-forwarded-for': ['203.0.113.9'] },
    { host: ['api.example.com'], 'x-forwarded-proto': ['https'] },
    { host: ['api.example.com'], 'x-forwarded-proto': ['http'] },
    { host: ['api.example.com'], 'x-forwarded-host': ['evil.example'] },
    { host: ['api.example.com'], forwarded: ['for=203.0.113.9;proto=https;host=evil.example'] },
    { host: ['api.example.com'], forwarded: ['proto=http'] },
    { host: ['api.example.com'], 'x-forwarded-host': ['a b'] },
  ];

  it('a skipped read gives the decision the peer would have given, trusted or not', () => {
    let skipped = 0;
    for (const raw of configs) {
      for (const headers of headerSets) {
        for (const scheme of ['http', 'https']) {
          const c = conf(raw);
          if (peerIpNeeded(headers, c)) continue;
          skipped++;
          const unread = decideTransport({ connectionScheme: scheme, peerIp: undefined, headers }, c);
          for (const peerIp of ['10.0.0.2', '198.51.100.7']) {
            expect(decideTransport({ connectionScheme: scheme, peerIp, headers }, c)).toEqual(unread);
          }
        }
      }
    }
    expect(skipped).toBeGreaterThan(10);
  });

  it('reads the peer for the headers a trusted proxy forwards', () => {
    const c = conf({ trusted_proxies: ['10.0.0.0/8'] });
    expect(peerIpNeeded({ host: ['a.example'] }, c)).toBe(false);
    expect(peerIpNeeded({ 'x-forwarded-proto': ['https'] }, c)).toBe(true);
    // X-Forwarded-Host matters only when trusted.
    expect(peerIpNeeded({ 'x-forwarded-host': ['b.example'] }, c)).toBe(false);
    expect(
      peerIpNeeded(
        { 'x-forwarded-host': ['b.example'] },
        conf({ ...{ trusted_proxies: ['10.0.0.0/8'] }, trust_forwarded_host: true }),
      ),
    ).toBe(true);
    const fwd = conf({ trusted_proxies: ['10.0.0.0/8'], forwarded_header: 'forwarded' });
    expect(peerIpNeeded({ 'x-forwarded-proto': ['https'] }, fwd)).toBe(false);
    expect(peerIpNeeded({ forwarded: ['proto=https'] }, fwd)).toBe(true);
    expect(peerIpNeeded({ forwarded: ['proto=https'] }, conf())).toBe(false);
  });
});
