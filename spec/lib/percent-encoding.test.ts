import { decodeUnreserved, percentDecode, splitRawQuery } from '../../plugins/lib/percent-encoding';

describe('percentDecode', () => {
  test('decodes escapes into UTF-8 text; + is a space only in form mode', () => {
    expect(percentDecode('a%20b%2Cc')).toBe('a b,c');
    expect(percentDecode('%C3%A9%F0%9F%98%80')).toBe('é😀');
    expect(percentDecode('a+b')).toBe('a+b');
    expect(percentDecode('a+b', true)).toBe('a b');
    expect(percentDecode('a+%2B', true)).toBe('a +');
    expect(percentDecode('é')).toBe('é');
  });
  test('refuses malformed escapes and invalid UTF-8 instead of guessing', () => {
    for (const s of ['%', '%2', '%zz', 'a%g1', '%C3', '%ED%A0%80', '%FF']) expect(percentDecode(s)).toBeUndefined();
  });
});

describe('decodeUnreserved', () => {
  test('decodes only unreserved characters, upper-cases the other escapes', () => {
    expect(decodeUnreserved('p%65ts')).toBe('pets');
    expect(decodeUnreserved('%2e%2E')).toBe('..');
    expect(decodeUnreserved('a%2fb%3f')).toBe('a%2Fb%3F');
  });
});

describe('splitRawQuery', () => {
  test('keeps order, raw text, bare keys, and skips empty pieces', () => {
    expect(splitRawQuery('a=1&&b&c=&a=x%26y')).toEqual([
      { rawName: 'a', rawValue: '1' },
      { rawName: 'b', rawValue: undefined },
      { rawName: 'c', rawValue: '' },
      { rawName: 'a', rawValue: 'x%26y' },
    ]);
    expect(splitRawQuery('')).toEqual([]);
    expect(splitRawQuery('a=b=c')).toEqual([{ rawName: 'a', rawValue: 'b=c' }]);
  });
});
