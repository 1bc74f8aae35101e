import {
  clientAddress,
  clientIp,
  forwardingCarries,
  parseForwarded,
  parseNodeAddress,
  resolveForwarding,
  type ForwardingInput,
} from '../../plugins/lib/client-ip';
import { CidrList } from '../../plugins/lib/ip';
import type { HeaderMultimap } from '../../plugins/lib/pdk';
import { fakeKong } from './fake-kong';

const trusted = CidrList.parse(['10.0.0.0/8', '2001:db8:ffff::/48'], 'trusted_proxies');

function resolve(peerIp: string | undefined, headers: HeaderMultimap, extra: Partial<ForwardingInput> = {}) {
  return resolveForwarding({ peerIp, headers, trustedProxies: trusted, ...extra });
}

describe('parseNodeAddress', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    [' 1.2.3.4 ', '1.2.3.4'],
    ['1.2.3.4:5678', '1.2.3.4'],
    ['2001:db8::1', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:db8::1]:4711', '2001:db8::1'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['[::ffff:1.2.3.4]:80', '1.2.3.4'],
    ['1.2.3.4:_port', '1.2.3.4'], // obfuscated port (RFC 7239 §6.3)
  ])('%j → %s', (node, ip) => {
    expect(parseNodeAddress(node)).toBe(ip);
  });

  it.each([
    '',
    'unknown',
    '_hidden',
    '_gazonk',
    '1.2.3.4:',
    '1.2.3.4:0x50',
    '[1.2.3.4]',
    '[2001:db8::1',
    '2001:db8::1:80:',
    'example.com',
    '1.2.3.4 5.6.7.8',
    '1.2.3.4:80:80',
  ])('refuses %j', (node) => {
    expect(parseNodeAddress(node)).toBeUndefined();
  });
});

describe('parseForwarded', () => {
  it('parses elements, case-insensitive names, quoted values and escapes', () => {
    expect(
      parseForwarded('for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711";HOST="a\\"b"'),
    ).toEqual([
      { for: '192.0.2.60', proto: 'http', by: '203.0.113.43' },
      { for: '[2001:db8:cafe::17]:4711', host: 'a"b' },
    ]);
  });

  it('keeps a comma inside a quoted string inside its element', () => {
    expect(parseForwarded('for="1.2.3.4, 5.6.7.8";proto=https, for=10.0.0.1')).toEqual([
      { for: '1.2.3.4, 5.6.7.8', proto: 'https' },
      { for: '10.0.0.1' },
    ]);
  });

  it('tolerates empty list elements', () => {
    expect(parseForwarded('for=1.2.3.4,, for=5.6.7.8')).toEqual([{ for: '1.2.3.4' }, { for: '5.6.7.8' }]);
  });

  it.each([
    'for="1.2.3.4', // unterminated quote swallows the rest
    'for=1.2.3.4;for=5.6.7.8', // a parameter twice in one element
    'for',
    'for=',
    '=1.2.3.4',
    'for=1.2.3.4;',
    'for=1.2.3.4 proto=http',
    'for=[2001:db8::1]', // brackets need quotes
    'for="x\\',
  ])('refuses %j', (value) => {
    expect(parseForwarded(value)).toBeUndefined();
  });
});

describe('resolveForwarding with X-Forwarded-For', () => {
  it('an untrusted peer is the client, whatever the headers say', () => {
    const r = resolve('198.51.100.7', {
      'x-forwarded-for': ['1.1.1.1'],
      'x-forwarded-proto': ['https'],
      'x-forwarded-host': ['a.example'],
    });
    expect(r).toMatchObject({
      clientIp: '198.51.100.7',
      source: 'peer',
      peerTrusted: false,
      hops: 0,
      forwardedScheme: undefined,
      forwardedHost: undefined,
    });
  });

  it('ignores a spoofed leftmost entry: the client is the first untrusted address from the right', () => {
    const r = resolve('10.0.0.2', { 'x-forwarded-for': ['6.6.6.6, 203.0.113.9, 10.0.0.1'] });
    expect(r).toMatchObject({
      clientIp: '203.0.113.9',
      source: 'x-forwarded-for',
      peerTrusted: true,
      hops: 2,
      malformed: false,
    });
  });

  it('joins several header instances in order', () => {
    const r = resolve('10.0.0.2', { 'x-forwarded-for': ['6.6.6.6', '203.0.113.9', '10.0.0.1'] });
    expect(r.clientIp).toBe('203.0.113.9');
  });

  it('accepts ports and IPv6 forms in entries', () => {
    expect(resolve('10.0.0.2', { 'x-forwarded-for': ['[2001:db8::7]:1234'] }).clientIp).toBe('2001:db8::7');
    expect(resolve('10.0.0.2', { 'x-forwarded-for': ['203.0.113.9:5555'] }).clientIp).toBe('203.0.113.9');
    expect(resolve('2001:db8:ffff::1', { 'x-forwarded-for': ['2001:db8::7'] }).clientIp).toBe('2001:db8::7');
  });

  it('treats an IPv4-mapped IPv6 peer like its IPv4 address', () => {
    const r = resolve('::ffff:10.0.0.2', { 'x-forwarded-for': ['203.0.113.9'] });
    expect(r).toMatchObject({ peerTrusted: true, clientIp: '203.0.113.9' });
  });

  it('stops at garbage and keeps the last trusted hop, flagged malformed', () => {
    const r = resolve('10.0.0.2', { 'x-forwarded-for': ['203.0.113.9, garbage, 10.0.0.1'] });
    expect(r).toMatchObject({ clientIp: '10.0.0.1', malformed: true });
    expect(resolve('10.0.0.2', { 'x-forwarded-for': ['unknown'] })).toMatchObject({
      clientIp: '10.0.0.2',
      malformed: true,
    });
    expect(resolve('10.0.0.2', { 'x-forwarded-for': ['1.2.3.4,,'] })).toMatchObject({
      clientIp: '10.0.0.2',
      malformed: true,
    });
  });

  it('never walks past garbage to reach a spoofed address', () => {
    const r = resolve('10.0.0.2', { 'x-forwarded-for': ['6.6.6.6, <script>'] });
    expect(r.clientIp).toBe('10.0.0.2');
  });

  it('when every hop is trusted, the leftmost is the client', () => {
    expect(resolve('10.0.0.3', { 'x-forwarded-for': ['10.0.0.1, 10.0.0.2'] }).clientIp).toBe('10.0.0.1');
  });

  it('a trusted peer without the header is the client', () => {
    expect(resolve('10.0.0.3', {})).toMatchObject({ clientIp: '10.0.0.3', source: 'peer', peerTrusted: true, hops: 0 });
  });

  it('bounds the walk', () => {
    const chain = Array.from({ length: 50 }, (_, i) => `10.0.1.${i}`).join(', ');
    const r = resolve('10.0.0.3', { 'x-forwarded-for': [`203.0.113.9, ${chain}`] }, { maxHops: 10 });
    expect(r).toMatchObject({ malformed: true, hops: 10, clientIp: '10.0.1.40' });
  });

  it('reads X-Forwarded-Proto and -Host from a trusted peer only when single-valued and valid', () => {
    expect(
      resolve('10.0.0.2', { 'x-forwarded-proto': ['HTTPS'], 'x-forwarded-host': ['Api.Example.com:8443'] }),
    ).toMatchObject({
      forwardedScheme: 'https',
      forwardedHost: { hostname: 'api.example.com', port: 8443 },
      forwardedHostInvalid: false,
    });
    expect(resolve('10.0.0.2', { 'x-forwarded-proto': ['https, http'] }).forwardedScheme).toBeUndefined();
    expect(resolve('10.0.0.2', { 'x-forwarded-proto': ['https', 'https'] }).forwardedScheme).toBeUndefined();
    expect(resolve('10.0.0.2', { 'x-forwarded-proto': ['ftp'] }).forwardedScheme).toBeUndefined();
    expect(resolve('10.0.0.2', { 'x-forwarded-host': ['a.example', 'b.example'] })).toMatchObject({
      forwardedHost: undefined,
      forwardedHostInvalid: true,
    });
    expect(resolve('10.0.0.2', { 'x-forwarded-host': ['evil.com/x'] }).forwardedHostInvalid).toBe(true);
  });

  it('ignores the Forwarded header in X-Forwarded-For mode', () => {
    expect(resolve('10.0.0.2', { forwarded: ['for=6.6.6.6;proto=https'] })).toMatchObject({
      clientIp: '10.0.0.2',
      forwardedScheme: undefined,
    });
  });

  it('a missing or unparseable peer gives no client IP', () => {
    expect(resolve(undefined, { 'x-forwarded-for': ['1.2.3.4'] }).clientIp).toBeUndefined();
    expect(resolve('nonsense', { 'x-forwarded-for': ['1.2.3.4'] })).toMatchObject({
      clientIp: undefined,
      peerTrusted: false,
    });
  });
});

describe('resolveForwarding with Forwarded', () => {
  const opts = { header: 'forwarded' as const };

  it('walks for= right to left and takes proto/host from the client element', () => {
    const r = resolve(
      '10.0.0.2',
      {
        forwarded: [
          'for=6.6.6.6;proto=http, for="[2001:db8::17]:4711";proto=https;host=api.example.com',
          'for=10.0.0.1;proto=http',
        ],
      },
      opts,
    );
    expect(r).toMatchObject({
      clientIp: '2001:db8::17',
      source: 'forwarded',
      hops: 2,
      forwardedScheme: 'https',
      forwardedHost: { hostname: 'api.example.com' },
    });
  });

  it('stops at an obfuscated or unknown identifier without taking its proto', () => {
    const r = resolve(
      '10.0.0.2',
      { forwarded: ['for=6.6.6.6;proto=https, for=_hidden;proto=https, for=10.0.0.1'] },
      opts,
    );
    expect(r).toMatchObject({ clientIp: '10.0.0.1', malformed: true, forwardedScheme: undefined });
    expect(resolve('10.0.0.2', { forwarded: ['for=unknown;proto=https'] }, opts)).toMatchObject({
      clientIp: '10.0.0.2',
      malformed: true,
      forwardedScheme: undefined,
    });
  });

  it('an element without for= stops the walk', () => {
    expect(resolve('10.0.0.2', { forwarded: ['proto=https'] }, opts)).toMatchObject({
      clientIp: '10.0.0.2',
      malformed: true,
    });
  });

  it('a header that does not parse is not used at all', () => {
    const r = resolve('10.0.0.2', { forwarded: ['for="6.6.6.6, for=203.0.113.9;proto=https'] }, opts);
    expect(r).toMatchObject({ clientIp: '10.0.0.2', malformed: true, forwardedScheme: undefined });
  });

  it('ignores X-Forwarded-* in Forwarded mode', () => {
    expect(resolve('10.0.0.2', { 'x-forwarded-for': ['6.6.6.6'], 'x-forwarded-proto': ['https'] }, opts)).toMatchObject(
      {
        clientIp: '10.0.0.2',
        forwardedScheme: undefined,
      },
    );
  });

  it('an untrusted peer cannot use Forwarded', () => {
    expect(resolve('198.51.100.1', { forwarded: ['for=6.6.6.6;proto=https'] }, opts)).toMatchObject({
      clientIp: '198.51.100.1',
      forwardedScheme: undefined,
    });
  });

  it('an invalid host= from a trusted proxy is flagged', () => {
    expect(resolve('10.0.0.2', { forwarded: ['for=6.6.6.6;host="a b"'] }, opts)).toMatchObject({
      forwardedHost: undefined,
      forwardedHostInvalid: true,
    });
  });
});

// The one client address of every plugin (bulwark-oauth2 and bulwark-rate-limit had one each, and they differed:
// oauth2 kept Kong's spelling of the peer when no proxy was trusted, rate-limit canonicalised it; with trusted
// proxies both dropped a peer that is not an IP).
describe('forwardingCarries', () => {
  const headerSets: HeaderMultimap[] = [
    {},
    { 'x-forwarded-for': ['203.0.113.9'] },
    { 'x-forwarded-proto': ['https'] },
    { 'x-forwarded-proto': ['https, http'] },
    { 'x-forwarded-host': ['a.example'] },
    { 'x-forwarded-host': ['a b'] },
    { forwarded: ['for=203.0.113.9;proto=https;host=a.example'] },
    { forwarded: ['proto=http'] },
    { forwarded: ['for=203.0.113.9;host="a b"'] },
    { forwarded: ['broken;'] },
  ];

  it('where it says a header set carries no scheme (host), resolveForwarding gives none from a trusted peer', () => {
    let checked = 0;
    for (const kind of ['x-forwarded-for', 'forwarded'] as const) {
      for (const headers of headerSets) {
        const carries = forwardingCarries(headers, kind);
        const r = resolve('10.0.0.2', headers, { header: kind });
        if (!carries.scheme) expect(r.forwardedScheme).toBeUndefined();
        if (!carries.host) expect(r).toMatchObject({ forwardedHost: undefined, forwardedHostInvalid: false });
        if (!carries.scheme || !carries.host) checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('names the headers of each mode', () => {
    expect(forwardingCarries({ 'x-forwarded-proto': ['https'] }, 'x-forwarded-for')).toEqual({
      scheme: true,
      host: false,
    });
    expect(forwardingCarries({ 'x-forwarded-host': ['a.example'] }, 'x-forwarded-for')).toEqual({
      scheme: false,
      host: true,
    });
    expect(forwardingCarries({ 'x-forwarded-proto': ['https'] }, 'forwarded')).toEqual({ scheme: false, host: false });
    expect(forwardingCarries({ forwarded: ['proto=https'] }, 'forwarded')).toEqual({ scheme: true, host: true });
    expect(forwardingCarries({ forwarded: ['proto=https'] }, 'x-forwarded-for')).toEqual({
      scheme: false,
      host: false,
    });
  });
});

describe('clientAddress / clientIp', () => {
  const none = { trustedProxies: CidrList.parse([], 'trusted_proxies'), forwardedHeader: 'x-forwarded-for' as const };
  const some = { trustedProxies: trusted, forwardedHeader: 'x-forwarded-for' as const };

  it.each([
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['192.0.2.7', '192.0.2.7'],
  ])('the same canonical spelling with and without trusted proxies: %s → %s', (peer, canonical) => {
    expect(clientAddress(peer, {}, none)).toBe(canonical);
    expect(clientAddress(peer, { 'x-forwarded-for': ['198.51.100.9'] }, some)).toBe(canonical);
  });

  it('a peer that is not an IP (unix socket) is the client in both modes, never "unknown"', () => {
    expect(clientAddress('unix:', {}, none)).toBe('unix:');
    expect(clientAddress('unix:', { 'x-forwarded-for': ['198.51.100.9'] }, some)).toBe('unix:');
    expect(clientAddress('', {}, none)).toBeUndefined();
    expect(clientAddress(undefined, {}, some)).toBeUndefined();
  });

  it('walks forwarding headers only from a trusted peer, canonicalising the hop it stops at', () => {
    expect(clientAddress('10.0.0.1', { 'x-forwarded-for': ['::ffff:198.51.100.9'] }, some)).toBe('198.51.100.9');
    expect(clientAddress('198.51.100.1', { 'x-forwarded-for': ['203.0.113.5'] }, some)).toBe('198.51.100.1');
  });

  it('clientIp costs one getIp RPC', async () => {
    const f = fakeKong({ 'client.getIp': () => '::ffff:192.0.2.1' });
    expect(await clientIp(f.kong, none, undefined)).toBe('192.0.2.1');
    expect(f.names()).toEqual(['client.getIp']);
  });
});
