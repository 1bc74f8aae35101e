import { parseStrictJson, StrictJsonError } from '../../plugins/lib/strict-json';

const reasonOf = (text: string, depth?: number) => {
  try {
    parseStrictJson(text, depth);
    return 'ok';
  } catch (err) {
    return err instanceof StrictJsonError ? err.reason : 'other';
  }
};

describe('parseStrictJson', () => {
  it('parses what JSON.parse parses', () => {
    const text = '{"a":[1,2.5e3,-0.1,true,false,null,"x\\u0041\\n"],"b":{"c":{}},"d":[]}';
    expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    expect(parseStrictJson(' "s" ')).toBe('s');
    expect(parseStrictJson('12')).toBe(12);
  });

  it.each([
    ['{"a":1,"a":2}', 'duplicate_member'],
    ['{"a":1,"b":{"c":1,"c":1}}', 'duplicate_member'],
    ['[{"x":1,"x":1}]', 'duplicate_member'],
    ['{"a":1,"\\u0061":2}', 'duplicate_member'], // the same name, escaped
    ['{"a":1,}', 'syntax'],
    ['{"a" 1}', 'syntax'],
    ['{a:1}', 'syntax'],
    ['{"a":1} x', 'syntax'],
    ['"unterminated', 'syntax'],
    ['{"a":tru}', 'syntax'],
    ['"a\u0001b"', 'syntax'],
    ['', 'syntax'],
  ])('%s → %s', (text, reason) => {
    expect(reasonOf(text)).toBe(reason);
  });

  it('refuses nesting deeper than the limit', () => {
    expect(reasonOf('[[[1]]]', 3)).toBe('ok');
    expect(reasonOf('[[[[1]]]]', 3)).toBe('too_deep');
    expect(reasonOf('['.repeat(100000) + ']'.repeat(100000))).toBe('too_deep');
  });
});
