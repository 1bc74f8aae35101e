import { CidrList, cidrContains, parseCidr, parseIp } from '../../plugins/lib/ip';

describe('parseIp', () => {
  it.each([
    ['1.2.3.4', 4, '1.2.3.4'],
    ['0.0.0.0', 4, '0.0.0.0'],
    ['255.255.255.255', 4, '255.255.255.255'],
    ['2001:db8::1', 6, '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', 6, '2001:db8::1'],
    ['::', 6, '::'],
    ['::1', 6, '::1'],
    ['fe80::', 6, 'fe80::'],
    ['2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'],
    ['64:ff9b::192.0.2.33', 6, '64:ff9b::c000:221'],
    // IPv4-mapped IPv6 is unmapped, in both spellings
    ['::ffff:10.0.0.1', 4, '10.0.0.1'],
    ['::ffff:a00:1', 4, '10.0.0.1'],
    ['0:0:0:0:0:ffff:192.168.1.1', 4, '192.168.1.1'],
  ])('accepts %s', (text, family, canonical) => {
    expect(parseIp(text)).toMatchObject({ family, text: canonical });
  });

  it.each([
    '',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '010.0.0.1', // leading zero: octal to some parsers
    '1.2.3.-1',
    '0x7f.0.0.1',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '12345::',
    'fe80::1%eth0', // zone ids are not client addresses
    '[::1]',
    '1.2.3.4:80',
    'unknown',
    '::ffff:999.1.1.1',
    'g::1',
  ])('refuses %j', (text) => {
    expect(parseIp(text)).toBeUndefined();
  });
});

describe('parseCidr', () => {
  it('parses IPv4 and IPv6 blocks and bare addresses', () => {
    expect(parseCidr('10.0.0.0/8')).toMatchObject({ family: 4, prefix: 8, text: '10.0.0.0/8' });
    expect(parseCidr('2001:db8::/32')).toMatchObject({ family: 6, prefix: 32, text: '2001:db8::/32' });
    expect(parseCidr('192.0.2.7')).toMatchObject({ family: 4, prefix: 32 });
    expect(parseCidr('::1')).toMatchObject({ family: 6, prefix: 128 });
    expect(parseCidr('0.0.0.0/0')).toMatchObject({ prefix: 0 });
    expect(parseCidr('::ffff:10.0.0.0/104')).toMatchObject({ family: 4, prefix: 8, text: '10.0.0.0/8' });
  });

  it.each([
    ['10.0.0/8', /not an IP address/],
    ['10.0.0.0/33', /prefix length above 32/],
    ['2001:db8::/129', /prefix length above 128/],
    ['10.0.0.0/', /bad prefix/],
    ['10.0.0.0/08', /bad prefix/],
    ['10.0.0.0/8/8', /bad prefix/],
    ['10.1.0.0/8', /host bits set \(did you mean 10\.0\.0\.0\/8\?\)/],
    ['2001:db8::1/64', /did you mean 2001:db8::\/64/],
    ['::ffff:10.0.0.0/64', /IPv4-mapped/],
    ['', /empty/],
  ])('refuses %j', (text, reason) => {
    expect(() => parseCidr(text)).toThrow(reason);
  });
});

describe('cidrContains / CidrList', () => {
  const list = CidrList.parse(['10.0.0.0/8', '192.168.1.128/25', '2001:db8::/32', '203.0.113.9'], 'trusted_proxies');

  it.each([
    ['10.255.1.2', true],
    ['11.0.0.1', false],
    ['192.168.1.128', true],
    ['192.168.1.255', true],
    ['192.168.1.127', false],
    ['2001:db8:ffff::1', true],
    ['2001:db9::1', false],
    ['203.0.113.9', true],
    ['203.0.113.10', false],
    ['::ffff:10.1.2.3', true], // a dual-stack socket's view of an IPv4 peer
    ['::ffff:11.1.2.3', false],
    ['::a00:1', false], // IPv4-compatible (deprecated) is not IPv4-mapped
    ['garbage', false],
    [undefined, false],
  ])('%s → %s', (ip, expected) => {
    expect(list.contains(ip as string | undefined)).toBe(expected);
  });

  it('does not match across families', () => {
    expect(cidrContains(parseCidr('0.0.0.0/0'), parseIp('::1')!)).toBe(false);
    expect(cidrContains(parseCidr('::/0'), parseIp('1.2.3.4')!)).toBe(false);
  });

  it('names the bad element (0-based) and the reason', () => {
    expect(() => CidrList.parse(['10.0.0.0/8', '10.0.0/8'], 'trusted_proxies')).toThrow(
      'trusted_proxies[1]: invalid CIDR "10.0.0/8" (not an IP address)',
    );
  });

  it('an empty list trusts nobody', () => {
    expect(CidrList.EMPTY.isEmpty).toBe(true);
    expect(CidrList.EMPTY.contains('127.0.0.1')).toBe(false);
  });
});

describe('IPv6 parsing agrees with the WHATWG URL parser', () => {
  // Deterministic pseudo-random addresses with many zero runs, written in several spellings.
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const samples: string[] = [];
  for (let k = 0; k < 300; k++) {
    const groups = Array.from({ length: 8 }, () => (rand(3) === 0 ? rand(0x10000) : 0));
    if (groups.slice(0, 5).every((g) => g === 0) && (groups[5] === 0xffff || groups[5] === 0)) groups[0] = 1; // skip mapped/compat
    samples.push(groups.map((g) => g.toString(16)).join(':'));
    samples.push(groups.map((g) => g.toString(16).padStart(4, '0').toUpperCase()).join(':'));
  }
  it('canonical text matches for 600 addresses', () => {
    for (const text of samples) {
      const expected = new URL(`http://[${text}]/`).hostname.slice(1, -1);
      const parsed = parseIp(text);
      expect(parsed?.text).toBe(expected);
      // and the canonical form parses back to itself
      expect(parseIp(expected)?.text).toBe(expected);
    }
  });
});
