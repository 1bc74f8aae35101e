import { HostAllowList, formatAuthority, parseHostPort } from '../../plugins/lib/host';

describe('parseHostPort', () => {
  it.each([
    ['example.com', { hostname: 'example.com', kind: 'name' }],
    ['Example.COM', { hostname: 'example.com', kind: 'name' }],
    ['example.com.', { hostname: 'example.com', kind: 'name' }],
    ['api.example.com:8443', { hostname: 'api.example.com', kind: 'name', port: 8443 }],
    ['my_host.internal', { hostname: 'my_host.internal', kind: 'name' }],
    ['localhost', { hostname: 'localhost', kind: 'name' }],
    ['10.0.0.5', { hostname: '10.0.0.5', kind: 'ipv4' }],
    ['10.0.0.5:8000', { hostname: '10.0.0.5', kind: 'ipv4', port: 8000 }],
    ['[2001:db8::1]', { hostname: '2001:db8::1', kind: 'ipv6' }],
    ['[2001:DB8::1]:443', { hostname: '2001:db8::1', kind: 'ipv6', port: 443 }],
    ['[::ffff:10.0.0.1]', { hostname: '10.0.0.1', kind: 'ipv4' }],
  ])('accepts %j', (value, expected) => {
    expect(parseHostPort(value)).toEqual(expected);
  });

  it.each([
    '',
    'evil.com/path',
    'user@example.com',
    'example.com:',
    'example.com:0',
    'example.com:65536',
    'example.com:80:80',
    'exa mple.com',
    'example.com\r\nX-Injected: 1',
    'example..com',
    '.example.com',
    '-bad-.com',
    'a'.repeat(64) + '.com',
    '%65xample.com',
    '2001:db8::1', // IPv6 needs brackets in a Host header
    '[2001:db8::1',
    '[2001:db8::1]x',
    '[10.0.0.1]',
    '[fe80::1%25eth0]',
    '999.1.1.1',
    '1.2.3',
    'ex\u00e4mple.com',
    undefined,
  ])('refuses %j', (value) => {
    expect(parseHostPort(value as string | undefined)).toBeUndefined();
  });
});

describe('formatAuthority', () => {
  it('brackets IPv6 and uses exactly the port given', () => {
    expect(formatAuthority({ hostname: '2001:db8::1', kind: 'ipv6', port: 80 }, 80)).toBe('[2001:db8::1]:80');
    expect(formatAuthority({ hostname: '2001:db8::1', kind: 'ipv6', port: 80 }, undefined)).toBe('[2001:db8::1]');
    expect(formatAuthority({ hostname: 'a.example', kind: 'name' }, 8443)).toBe('a.example:8443');
  });
});

describe('HostAllowList', () => {
  const list = HostAllowList.parse(
    ['api.example.com', '*.svc.example.net', '10.0.0.5', '::1', 'Upper.Example.org'],
    'allowed_hosts',
  );
  const allows = (v: string) => list.allows(parseHostPort(v)!);

  it.each([
    ['api.example.com', true],
    ['API.EXAMPLE.COM', true],
    ['api.example.com:8443', true], // port ignored
    ['api.example.com.', true],
    ['www.example.com', false],
    ['example.com', false],
    ['evilapi.example.com', false],
    ['api.example.com.evil.com', false],
    ['a.svc.example.net', true],
    ['a.b.svc.example.net', true], // one or more labels
    ['svc.example.net', false], // the apex is not matched by *.
    ['xsvc.example.net', false],
    ['10.0.0.5:80', true],
    ['10.0.0.6', false],
    ['[::1]:8000', true],
    ['upper.example.org', true],
  ])('%s → %s', (host, expected) => {
    expect(allows(host)).toBe(expected);
  });

  it.each([
    ['*', 0],
    ['*.', 0],
    ['**.example.com', 0],
    ['a.*.example.com', 0],
    ['example.com:80', 0],
    ['exa mple.com', 0],
  ])('refuses the pattern %j naming the element', (pattern) => {
    expect(() => HostAllowList.parse(['ok.example', pattern], 'allowed_hosts')).toThrow(
      `allowed_hosts[1]: invalid host ${JSON.stringify(pattern)}`,
    );
  });

  it('is empty when nothing is listed', () => {
    expect(HostAllowList.parse([], 'allowed_hosts').isEmpty).toBe(true);
  });
});
