import { FailureLimiter, limiterFor, type FailureLimits } from '../../../../plugins/bulwark-oauth2/failure-limiter';

const limits: FailureLimits = { enabled: true, maxPerClient: 3, maxPerIp: 5, windowMs: 60_000, lockoutMs: 300_000 };

describe('failure limiter', () => {
  test('N failures of a client within the window lock it for the lockout; Retry-After counts down', () => {
    const l = new FailureLimiter();
    expect(l.recordFailure('c', '1.1.1.1', limits, 0)).toEqual({ locked: false });
    expect(l.recordFailure('c', '1.1.1.2', limits, 1000)).toEqual({ locked: false });
    expect(l.recordFailure('c', '1.1.1.3', limits, 2000)).toEqual({
      locked: true,
      by: 'client',
      retryAfterSeconds: 300,
    });
    expect(l.check('c', '9.9.9.9', limits, 2000 + 100_000)).toEqual({
      locked: true,
      by: 'client',
      retryAfterSeconds: 200,
    });
    expect(l.check('c', '9.9.9.9', limits, 2000 + 300_000)).toEqual({ locked: false });
  });

  test('failures spread over more than the window do not lock', () => {
    const l = new FailureLimiter();
    l.recordFailure('c', undefined, limits, 0);
    l.recordFailure('c', undefined, limits, 30_000);
    expect(l.recordFailure('c', undefined, limits, 61_000)).toEqual({ locked: false }); // new window
    expect(l.recordFailure('c', undefined, limits, 62_000)).toEqual({ locked: false });
    expect(l.recordFailure('c', undefined, limits, 63_000).locked).toBe(true);
  });

  test('attempts while locked do not extend the lock', () => {
    const l = new FailureLimiter();
    for (let i = 0; i < 3; i++) l.recordFailure('c', undefined, limits, 0);
    l.recordFailure('c', undefined, limits, 200_000);
    expect(l.check('c', undefined, limits, 300_000)).toEqual({ locked: false });
  });

  test('an IP is locked across client ids; a success resets the client, not the IP', () => {
    const l = new FailureLimiter();
    for (let i = 0; i < 4; i++) l.recordFailure(`id${i}`, 'ip', limits, 0);
    l.recordSuccess('id0');
    expect(l.recordFailure('other', 'ip', limits, 0)).toMatchObject({ locked: true, by: 'ip' });
    expect(l.check('fresh', 'ip', limits, 1)).toMatchObject({ locked: true, by: 'ip' });
    expect(l.check('fresh', 'ip2', limits, 1)).toEqual({ locked: false });

    const m = new FailureLimiter();
    m.recordFailure('c', 'a', limits, 0);
    m.recordFailure('c', 'b', limits, 0);
    m.recordSuccess('c');
    expect(m.recordFailure('c', 'd', limits, 0)).toEqual({ locked: false }); // count restarted
  });

  test('disabled, or 0 for one dimension, means no limit there', () => {
    const l = new FailureLimiter();
    for (let i = 0; i < 10; i++)
      expect(l.recordFailure('c', 'ip', { ...limits, enabled: false }, 0)).toEqual({ locked: false });
    const noClient = { ...limits, maxPerClient: 0 };
    for (let i = 0; i < 4; i++) expect(l.recordFailure('c', `ip${i}`, noClient, 0)).toEqual({ locked: false });
  });

  test('memory is bounded: a flood of other keys evicts keys far from a lock, never a locked one', () => {
    const l = new FailureLimiter(100);
    for (let i = 0; i < 3; i++) l.recordFailure('victim-locked', undefined, limits, 0);
    for (let i = 0; i < 1000; i++) l.recordFailure(`flood-${i}`, undefined, limits, 1);
    expect(l.size).toBeLessThanOrEqual(100);
    expect(l.check('victim-locked', undefined, limits, 2).locked).toBe(true);
  });

  test('a locked client stays locked after failures from 100,005 other IPv6 addresses (default size)', () => {
    const l = new FailureLimiter();
    const perIp = { ...limits, maxPerClient: 0 };
    for (let i = 0; i < 5; i++) l.recordFailure(undefined, '2001:db8::1', perIp, 0);
    for (let i = 0; i < 100_005; i++) l.recordFailure(undefined, `2001:db8:1::${i.toString(16)}`, perIp, 1);
    expect(l.size).toBeLessThanOrEqual(100_000);
    expect(l.check(undefined, '2001:db8::1', perIp, 2)).toMatchObject({ locked: true, by: 'ip' });
  });

  test('however many keys are locked, a flood never evicts one of them', () => {
    const l = new FailureLimiter(100);
    const perIp = { ...limits, maxPerClient: 0 }; // 5 per IP
    for (let v = 0; v < 70; v++) for (let i = 0; i < 5; i++) l.recordFailure(undefined, `victim-${v}`, perIp, 0);
    for (let i = 0; i < 1000; i++) l.recordFailure(undefined, `flood-${i}`, perIp, 1);
    for (let v = 0; v < 70; v++) expect(l.check(undefined, `victim-${v}`, perIp, 2).locked).toBe(true);
  });

  test('a key half-way to its lock is not forgotten either', () => {
    const l = new FailureLimiter(100);
    const perIp = { ...limits, maxPerClient: 0 }; // 5 per IP
    for (let i = 0; i < 3; i++) l.recordFailure(undefined, 'victim', perIp, 0);
    for (let i = 0; i < 1000; i++) l.recordFailure(undefined, `flood-${i}`, perIp, 1);
    l.recordFailure(undefined, 'victim', perIp, 2);
    expect(l.recordFailure(undefined, 'victim', perIp, 3)).toMatchObject({ locked: true, by: 'ip' });
  });

  test('full of locked keys: a key not yet tracked is refused (store full) until entries expire', () => {
    const l = new FailureLimiter(3);
    const perIp = { ...limits, maxPerClient: 0, maxPerIp: 1 };
    for (const ip of ['a', 'b', 'c']) expect(l.recordFailure(undefined, ip, perIp, 0).locked).toBe(true);
    expect(l.check(undefined, 'new', perIp, 1)).toEqual({
      locked: true,
      by: 'ip',
      retryAfterSeconds: 1,
      storeFull: true,
    });
    expect(l.check(undefined, 'a', perIp, 1)).toMatchObject({ locked: true, by: 'ip', retryAfterSeconds: 300 });
    // lockout (300 s) and the following window (60 s) over: room again
    expect(l.check(undefined, 'new', perIp, 360_001)).toEqual({ locked: false });
  });

  test('one store per plugin id, shared by its instances; none without an id', () => {
    expect(limiterFor('p1')).toBe(limiterFor('p1'));
    expect(limiterFor('p1')).not.toBe(limiterFor('p2'));
    expect(limiterFor(undefined)).not.toBe(limiterFor(undefined));
  });
});

test('long client ids are counted under a digest (bounded memory per entry), still per id', () => {
  const l = new FailureLimiter();
  const long = 'x'.repeat(1000);
  for (let i = 0; i < 3; i++) l.recordFailure(long, undefined, limits, 0);
  expect(l.check(long, undefined, limits, 1).locked).toBe(true);
  expect(l.check(`${'x'.repeat(999)}y`, undefined, limits, 1).locked).toBe(false);
});
