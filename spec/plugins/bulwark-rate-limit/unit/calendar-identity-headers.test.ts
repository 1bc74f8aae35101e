import { isValidTimeZone, periodBounds, periodSeconds } from '../../../../plugins/bulwark-rate-limit/calendar';
import {
  claimValue,
  counterKey,
  identityDigest,
  identityClaimValue,
  identityCredential,
  resolveIdentity,
} from '../../../../plugins/bulwark-rate-limit/identity';
import {
  policyHeader,
  rateLimitHeader,
  rateLimitHeaders,
  retryAfterSeconds,
} from '../../../../plugins/bulwark-rate-limit/headers';
import type { LimitPolicy } from '../../../../plugins/bulwark-rate-limit/config';
import { identityRecord } from '../../../../plugins/lib/identity';

describe('calendar periods', () => {
  test('a month in a zone east of UTC starts on the 1st at local midnight (the day before in UTC)', () => {
    const b = periodBounds(Date.UTC(2026, 4, 15, 12), 'month', 'Pacific/Auckland'); // NZST = UTC+12 in May
    expect(new Date(b.startMs).toISOString()).toBe('2026-04-30T12:00:00.000Z');
    expect(new Date(b.endMs).toISOString()).toBe('2026-05-31T12:00:00.000Z');
    expect(periodSeconds(b)).toBe(31 * 86400);
  });
  test('the last instant of a month in the zone is still in that month; the next one is the next month', () => {
    const end = Date.UTC(2026, 4, 31, 12); // 1 June 00:00 in Auckland
    expect(periodBounds(end - 1, 'month', 'Pacific/Auckland').endMs).toBe(end);
    expect(periodBounds(end, 'month', 'Pacific/Auckland').startMs).toBe(end);
  });
  test('a day spanning a DST change has 23 or 25 hours', () => {
    // Europe/Paris: 29 March 2026 springs forward, 25 October 2026 falls back.
    expect(periodSeconds(periodBounds(Date.UTC(2026, 2, 29, 12), 'day', 'Europe/Paris'))).toBe(23 * 3600);
    expect(periodSeconds(periodBounds(Date.UTC(2026, 9, 25, 12), 'day', 'Europe/Paris'))).toBe(25 * 3600);
    const d = periodBounds(Date.UTC(2026, 2, 29, 12), 'day', 'Europe/Paris');
    expect(new Date(d.startMs).toISOString()).toBe('2026-03-28T23:00:00.000Z');
  });
  test('February in a leap year, UTC', () => {
    const b = periodBounds(Date.UTC(2028, 1, 10), 'month', 'UTC');
    expect(periodSeconds(b)).toBe(29 * 86400);
  });
  test('time zone names are validated', () => {
    expect(isValidTimeZone('America/New_York')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});

describe('identity', () => {
  test('each source reads its input; an unresolved part becomes the client IP (asked for lazily)', () => {
    let asked = 0;
    const ip = () => {
      asked++;
      return '203.0.113.5';
    };
    expect(resolveIdentity(['consumer'], { consumerId: 'c1' }, ip)).toEqual({ parts: ['consumer:c1'], fellBack: [] });
    expect(asked).toBe(0);
    expect(resolveIdentity(['consumer', 'path'], { path: '/x' }, ip)).toEqual({
      parts: ['ip:203.0.113.5', 'path:/x'],
      fellBack: ['consumer'],
    });
    expect(resolveIdentity(['header', 'jwt-claim'], {}, ip).parts).toEqual(['ip:203.0.113.5']);
    expect(resolveIdentity(['ip'], {}, () => undefined).parts).toEqual(['ip:unknown']);
  });
  test('empty or oversized values do not identify anyone', () => {
    expect(resolveIdentity(['header'], { headerValue: '' }, () => '1.1.1.1').parts).toEqual(['ip:1.1.1.1']);
    expect(resolveIdentity(['header'], { headerValue: 'x'.repeat(300) }, () => '1.1.1.1').parts).toEqual([
      'ip:1.1.1.1',
    ]);
  });
  test('compound identities differ from their parts and digests are fixed-length', () => {
    const a = identityDigest(['consumer:c1', 'path:/a']);
    expect(a).toHaveLength(22);
    expect(a).not.toBe(identityDigest(['consumer:c1', 'path:/b']));
    expect(a).not.toBe(identityDigest(['consumer:c1']));
  });
  test('claims from the caller identity: dotted paths; only scalar values; sub/iss fall back to subject/issuer', () => {
    const identity = identityRecord({
      authenticated: true,
      authenticatedBy: 'bulwark-jwt',
      method: 'jwt',
      subject: 'u1',
      issuer: 'https://idp',
      credential: { kind: 'jwt', id: 'c1' },
      claims: { tenant: { id: 42 }, roles: ['a'], ok: true },
    });
    expect(identityClaimValue(identity, 'sub')).toBe('u1');
    expect(identityClaimValue(identity, 'iss')).toBe('https://idp');
    expect(identityClaimValue(identity, 'tenant.id')).toBe('42');
    expect(identityClaimValue(identity, 'ok')).toBe('true');
    expect(identityClaimValue(identity, 'roles')).toBeUndefined();
    expect(identityClaimValue(identity, 'tenant')).toBeUndefined();
    expect(identityClaimValue(identity, 'missing.x')).toBeUndefined();
    expect(identityClaimValue(undefined, 'sub')).toBeUndefined();
    expect(identityCredential(identity)).toBe('jwt:c1');
    // An anonymous record names no claim.
    const anonymous = identityRecord({
      authenticated: false,
      authenticatedBy: 'bulwark-jwt',
      method: 'anonymous',
      claims: { sub: 'x' },
    });
    expect(identityClaimValue(anonymous, 'sub')).toBeUndefined();
    // Only the token's own claims: nothing inherited from Object.prototype.
    expect(claimValue({}, 'constructor.name')).toBeUndefined();
    expect(claimValue({}, 'toString')).toBeUndefined();
  });
  test('counter keys carry the namespace and identity in ONE hash tag', () => {
    expect(counterKey('bulwark-rl', 'ns', 'DIGEST', 'minute:sw:60000:5')).toBe(
      'bulwark-rl:{ns:DIGEST}:minute:sw:60000:5',
    );
  });
});

describe('headers (draft-ietf-httpapi-ratelimit-headers-11 §3, §4)', () => {
  const limits: LimitPolicy[] = [
    { name: 'second', limit: 10, algorithm: 'gcra', windowMs: 1000, burst: 20, keySuffix: 'a' },
    {
      name: 'day',
      limit: 1000,
      algorithm: 'fixed-window',
      windowMs: 86_400_000,
      burst: 1000,
      calendar: 'day',
      keySuffix: 'b',
    },
  ];
  const outcomes = [
    { allowed: true, remaining: 7, resetMs: 300, retryMs: 0 },
    { allowed: false, remaining: 0, resetMs: 3_600_500, retryMs: 3_600_500 },
  ];
  test('RateLimit-Policy and RateLimit as structured-field lists of named items', () => {
    expect(policyHeader(limits, [10, 1000], [1, 82800])).toBe(
      '"second";q=10;w=1;bulwark-burst=20, "day";q=1000;w=82800',
    );
    expect(rateLimitHeader(limits, outcomes)).toBe('"second";r=7;t=1, "day";r=0;t=3601');
  });
  test('legacy Kong headers name the strictest limit in RateLimit-Limit/-Remaining/-Reset; Retry-After on refusal', () => {
    const h = rateLimitHeaders(limits, outcomes, [10, 1000], [1, 86400], { ietf: false, legacy: true }, true);
    expect(h).toEqual({
      'X-RateLimit-Limit-second': '10',
      'X-RateLimit-Remaining-second': '7',
      'X-RateLimit-Limit-day': '1000',
      'X-RateLimit-Remaining-day': '0',
      'RateLimit-Limit': '1000',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '3601',
      'Retry-After': '3601',
    });
    expect(retryAfterSeconds([{ allowed: false, remaining: 0, resetMs: 1, retryMs: 1 }])).toBe(1);
  });
});
