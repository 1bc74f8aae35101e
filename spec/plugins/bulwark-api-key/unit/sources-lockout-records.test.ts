// bulwark-api-key's pure pieces: where a key is read from (and when a request carries two), the in-memory lockout
// counter, stored records (bounds, round trip, validity at a time).
import { extractKey } from '../../../../plugins/bulwark-api-key/key-source';
import { MemoryLockout } from '../../../../plugins/bulwark-api-key/lockout';
import {
  hashesEqual,
  hashKey,
  keyStatus,
  parseKeyRecord,
  serializeKeyRecord,
} from '../../../../plugins/bulwark-api-key/key-record';

const SOURCES = { headers: ['x-api-key', 'apikey'], queryParams: [] as string[] };

describe('key sources', () => {
  test('header names are matched case-insensitively; values trimmed; nothing → none', () => {
    expect(extractKey({ 'X-API-KEY': [' k1 '] }, undefined, SOURCES)).toEqual({
      kind: 'found',
      key: 'k1',
      locations: [{ type: 'header', name: 'x-api-key' }],
    });
    expect(extractKey({ other: ['k1'] }, undefined, SOURCES)).toEqual({ kind: 'none' });
    expect(extractKey({ 'x-api-key': ['  '] }, undefined, SOURCES)).toEqual({ kind: 'none' });
  });

  test('a header of another spelling (X_Api_Key) is not a source (only cleared by hide_credentials)', () => {
    expect(extractKey({ x_api_key: ['k1'] }, undefined, SOURCES)).toEqual({ kind: 'none' });
  });

  test('Authorization only with the configured scheme; other schemes are ignored', () => {
    const sources = { ...SOURCES, authorizationScheme: 'apikey' };
    expect(extractKey({ authorization: ['ApiKey   k1'] }, undefined, sources)).toMatchObject({
      kind: 'found',
      key: 'k1',
    });
    expect(extractKey({ authorization: ['Bearer k1'] }, undefined, sources)).toEqual({ kind: 'none' });
    expect(extractKey({ authorization: ['ApiKey k1'] }, undefined, SOURCES)).toEqual({ kind: 'none' });
  });

  test('the query only when configured', () => {
    expect(extractKey({}, { apikey: ['k1'] }, SOURCES)).toEqual({ kind: 'none' });
    expect(extractKey({}, { apikey: ['k1', true] }, { ...SOURCES, queryParams: ['apikey'] })).toMatchObject({
      kind: 'found',
      key: 'k1',
      locations: [{ type: 'query', name: 'apikey' }],
    });
  });

  test('two different keys anywhere are refused; the same key in several places is one key with every location', () => {
    expect(extractKey({ 'x-api-key': ['k1'], apikey: ['k2'] }, undefined, SOURCES)).toMatchObject({
      kind: 'duplicate',
    });
    expect(extractKey({ 'x-api-key': ['k1', 'k2'] }, undefined, SOURCES)).toMatchObject({ kind: 'duplicate' });
    expect(
      extractKey({ 'x-api-key': ['k1'] }, { apikey: ['k2'] }, { ...SOURCES, queryParams: ['apikey'] }),
    ).toMatchObject({ kind: 'duplicate' });
    expect(extractKey({ 'x-api-key': ['k1'], apikey: ['k1'] }, undefined, SOURCES)).toEqual({
      kind: 'found',
      key: 'k1',
      locations: [
        { type: 'header', name: 'x-api-key' },
        { type: 'header', name: 'apikey' },
      ],
    });
  });
});

describe('in-memory lockout', () => {
  const policy = { maxFailures: 3, windowMs: 10_000, lockoutMs: 60_000 };

  test('the Nth failure in the window locks; while locked, failures are not counted and do not extend the lock', () => {
    const l = new MemoryLockout();
    expect(l.recordFailure('ip', policy, 0).lockedMs).toBe(0);
    expect(l.recordFailure('ip', policy, 1).lockedMs).toBe(0);
    expect(l.recordFailure('ip', policy, 2)).toEqual({ lockedMs: 60_000, newlyLocked: true });
    expect(l.recordFailure('ip', policy, 30_002)).toEqual({ lockedMs: 30_000, newlyLocked: false });
    // After the lock, counting starts afresh.
    expect(l.recordFailure('ip', policy, 60_003).lockedMs).toBe(0);
  });

  test('failures spread beyond the window do not add up', () => {
    const l = new MemoryLockout();
    for (let i = 0; i < 10; i++) expect(l.recordFailure('ip', policy, i * 6_000).lockedMs).toBe(0);
  });

  test('a table full of locked IPs refuses a new IP as locked (fail closed) instead of forgetting a lock', () => {
    const l = new MemoryLockout(2);
    for (const ip of ['a', 'b']) for (let i = 0; i < 3; i++) l.recordFailure(ip, policy, i);
    expect(l.recordFailure('c', policy, 10)).toEqual({ lockedMs: 1000, newlyLocked: false, tableFull: true });
    expect(l.recordFailure('a', policy, 11).lockedMs).toBeGreaterThan(0); // still locked, not evicted
  });
});

describe('records', () => {
  const hash = hashKey('bwk_live_x', undefined);

  test('round trip through the stored form; timestamps in ISO 8601 UTC', () => {
    const raw = {
      id: 'k1',
      hash,
      consumer: 'alice',
      scopes: ['a', 'a', 'b'],
      labels: [],
      expires_at: '2030-01-01T00:00:00Z',
      metadata: { owner: 'ops' },
    };
    const r = parseKeyRecord(raw, 'keys[0]');
    expect(r.scopes).toEqual(['a', 'b']);
    expect(r.expiresAt).toBe(Date.UTC(2030, 0, 1));
    expect(serializeKeyRecord(r)).toEqual({
      id: 'k1',
      hash,
      consumer: 'alice',
      scopes: ['a', 'b'],
      expires_at: '2030-01-01T00:00:00Z',
      metadata: { owner: 'ops' },
    });
  });

  test.each([
    [{ id: 'k 1', hash }, 'keys[0].id'],
    [{ id: 'k', hash: 'md5:abc' }, 'keys[0].hash'],
    [{ id: 'k', hash, scopes: Array.from({ length: 65 }, (_, i) => `s${i}`) }, 'keys[0].scopes: at most 64'],
    [{ id: 'k', hash, scopes: ['has space'] }, 'keys[0].scopes[0]'],
    [{ id: 'k', hash, expires_at: '2030-01-01' }, 'keys[0].expires_at'],
    [{ id: 'k', hash, disabled: 'yes' }, 'keys[0].disabled'],
    [{ id: 'k', hash, metadata: { big: 'x'.repeat(257) } }, 'keys[0].metadata.big'],
  ])('refused, naming the field: %j', (raw, field) => {
    expect(() => parseKeyRecord(raw, 'keys[0]')).toThrow(field);
  });

  test('validity at a time: disabled, expired (from expires_at on), not yet valid, valid', () => {
    const r = parseKeyRecord(
      { id: 'k', hash, not_before: '2030-01-01T00:00:00Z', expires_at: '2031-01-01T00:00:00Z' },
      'r',
    );
    expect(keyStatus(r, Date.UTC(2029, 0, 1))).toBe('not_yet_valid');
    expect(keyStatus(r, Date.UTC(2030, 5, 1))).toBe('valid');
    expect(keyStatus(r, Date.UTC(2031, 0, 1))).toBe('expired');
    expect(keyStatus({ ...r, disabled: true }, Date.UTC(2030, 5, 1))).toBe('disabled');
  });

  test('hashes: SHA-256 without a pepper, HMAC-SHA-256 with one (different), compared in constant time', () => {
    expect(hashKey('k', undefined)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hashKey('k', 'p'.repeat(32))).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(hashKey('k', 'p'.repeat(32)).slice(12)).not.toBe(hashKey('k', undefined).slice(7));
    expect(hashesEqual(hashKey('k', undefined), hashKey('k', undefined))).toBe(true);
    expect(hashesEqual(hashKey('k', undefined), hashKey('j', undefined))).toBe(false);
    expect(hashesEqual('sha256:ab', 'sha256:abc')).toBe(false);
  });
});
