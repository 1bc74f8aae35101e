import { isJsonMediaType, mediaRangeSpecificity, parseMediaType } from '../../plugins/lib/media-type';

describe('parseMediaType', () => {
  test('essence lower-cased, parameters parsed (quoted too)', () => {
    expect(parseMediaType('Application/JSON; Charset="utf-8"')).toEqual({
      essence: 'application/json',
      type: 'application',
      subtype: 'json',
      params: { charset: 'utf-8' },
    });
    expect(parseMediaType('multipart/form-data; boundary=----x')?.params.boundary).toBe('----x');
    expect(parseMediaType('text/plain;')?.essence).toBe('text/plain');
  });
  test('refuses what is not a media type', () => {
    for (const v of ['', 'json', '/json', 'application/', 'a b/c', 'text/plain; =x', 'text/plain; a="unterminated'])
      expect(parseMediaType(v)).toBeUndefined();
  });
});

test('a repeated parameter is reported (boundary=a; boundary=b is ambiguous), in any case', () => {
  expect(parseMediaType('multipart/form-data; boundary=a; BOUNDARY="b"')?.repeatedParams).toEqual(['boundary']);
  expect(parseMediaType('multipart/form-data; boundary=a')?.repeatedParams).toBeUndefined();
});

describe('JSON media types and ranges', () => {
  test('application/json, +json suffixes and text/json are JSON', () => {
    for (const v of ['application/json', 'application/problem+json', 'application/vnd.api+json', 'text/json'])
      expect(isJsonMediaType(parseMediaType(v)!)).toBe(true);
    for (const v of ['application/jsonx', 'text/plain', 'application/x-www-form-urlencoded'])
      expect(isJsonMediaType(parseMediaType(v)!)).toBe(false);
  });
  test('range specificity: exact 3, type/* 2, */* 1, else -1; range parameters ignored', () => {
    const mt = parseMediaType('application/json; charset=utf-8')!;
    expect(mediaRangeSpecificity('application/json', mt)).toBe(3);
    expect(mediaRangeSpecificity('application/json; charset=latin1', mt)).toBe(3);
    expect(mediaRangeSpecificity('application/*', mt)).toBe(2);
    expect(mediaRangeSpecificity('*/*', mt)).toBe(1);
    expect(mediaRangeSpecificity('text/*', mt)).toBe(-1);
    expect(mediaRangeSpecificity('application/xml', mt)).toBe(-1);
  });
});
