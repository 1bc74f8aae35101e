import { TtlCache } from '../../plugins/lib/ttl-cache';

describe('TtlCache', () => {
  let now = 1000;
  const clock = () => now;
  beforeEach(() => {
    now = 1000;
  });

  it('returns a value until its expiry, then forgets it', () => {
    const c = new TtlCache<string, number>({ maxEntries: 10, now: clock });
    c.set('a', 1, 2000);
    expect(c.get('a')).toBe(1);
    now = 1999;
    expect(c.get('a')).toBe(1);
    now = 2000;
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('does not store an entry that is already expired', () => {
    const c = new TtlCache<string, number>({ maxEntries: 10, now: clock });
    c.set('a', 1, 1000);
    expect(c.size).toBe(0);
  });

  it('is bounded: evicts the least recently used entry', () => {
    const c = new TtlCache<string, number>({ maxEntries: 2, now: clock });
    c.set('a', 1, 5000);
    c.set('b', 2, 5000);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3, 5000);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
  });

  it('maxEntries 0 disables caching', () => {
    const c = new TtlCache<string, number>({ maxEntries: 0, now: clock });
    c.set('a', 1, 5000);
    expect(c.get('a')).toBeUndefined();
  });

  it('overwrites, deletes and clears', () => {
    const c = new TtlCache<string, number>({ maxEntries: 2, now: clock });
    c.set('a', 1, 5000);
    c.set('a', 2, 5000);
    expect(c.get('a')).toBe(2);
    expect(c.size).toBe(1);
    expect(c.delete('a')).toBe(true);
    c.set('b', 1, 5000);
    c.clear();
    expect(c.size).toBe(0);
  });

  it('refuses a negative or fractional bound', () => {
    expect(() => new TtlCache({ maxEntries: -1 })).toThrow(RangeError);
    expect(() => new TtlCache({ maxEntries: 1.5 })).toThrow(RangeError);
  });
});
