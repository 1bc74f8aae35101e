import { luaPatternFind as find, LuaPatternError } from '../../kong/schema/lua-pattern';

describe('Lua 5.1 patterns (lstrlib.c semantics, used by kong/db/schema/init.lua match validators)', () => {
  it('matches anywhere unless anchored with ^ / $', () => {
    expect(find('hello world', 'o w')).toBe(true);
    expect(find('hello', '^ello')).toBe(false);
    expect(find('hello', '^hel')).toBe(true);
    expect(find('hello', 'llo$')).toBe(true);
    expect(find('hello', 'hel$')).toBe(false);
    expect(find('a$b', 'a$b')).toBe(true); // `$` not at the end is a literal
  });

  it('classes %a %d %l %s %u %w %x %p %c and their upper-case complements', () => {
    expect(find('abc', '^%a+$')).toBe(true);
    expect(find('ab1', '^%a+$')).toBe(false);
    expect(find('123', '^%d+$')).toBe(true);
    expect(find('abc', '^%l+$')).toBe(true);
    expect(find('aBc', '^%l+$')).toBe(false);
    expect(find('ABC', '^%u+$')).toBe(true);
    expect(find(' \t\n', '^%s+$')).toBe(true);
    expect(find('a_1', '^%w+$')).toBe(false);
    expect(find('a1Z', '^%w+$')).toBe(true);
    expect(find('dEadBEEF09', '^%x+$')).toBe(true);
    expect(find('g', '%x')).toBe(false);
    expect(find('!?.,', '^%p+$')).toBe(true);
    expect(find('\x01', '%c')).toBe(true);
    expect(find('abc', '%D')).toBe(true);
    expect(find('123', '%D')).toBe(false);
    expect(find('abc', '%S')).toBe(true);
    expect(find('   ', '%S')).toBe(false);
  });

  it('C locale: non-ASCII bytes are not letters, `.` matches one byte', () => {
    expect(find('é', '^%a+$')).toBe(false);
    expect(find('é', '^..$')).toBe(true); // two UTF-8 bytes
  });

  it('% escapes make magic characters literal', () => {
    expect(find('a.b', '^a%.b$')).toBe(true);
    expect(find('axb', '^a%.b$')).toBe(false);
    expect(find('50%', '^%d+%%$')).toBe(true);
    expect(find('(x)', '^%(x%)$')).toBe(true);
  });

  it('sets with ranges, classes, negation and a leading ]', () => {
    expect(find('b', '^[a-c]$')).toBe(true);
    expect(find('d', '^[a-c]$')).toBe(false);
    expect(find('d', '^[^a-c]$')).toBe(true);
    expect(find('5', '^[%a_]$')).toBe(false);
    expect(find('_', '^[%a_]$')).toBe(true);
    expect(find('7', '^[%a%d]$')).toBe(true);
    expect(find(']', '^[]]$')).toBe(true);
    expect(find('-', '^[a-]$')).toBe(true);
  });

  it('quantifiers * + ? and lazy -', () => {
    expect(find('', '^a*$')).toBe(true);
    expect(find('aaa', '^a*$')).toBe(true);
    expect(find('', '^a+$')).toBe(false);
    expect(find('color', '^colou?r$')).toBe(true);
    expect(find('colour', '^colou?r$')).toBe(true);
    expect(find('<a><b>', '^<.->$')).toBe(true); // lazy still has to reach the anchor
    expect(find('<a>x', '^<.->x$')).toBe(true);
    expect(find('abc', '^a.-$')).toBe(true);
    expect(find('xyz', '^a.-$')).toBe(false);
    expect(find('aaab', '^a*ab$')).toBe(true); // greedy backs off
  });

  it('captures do not change whether it matches; back-references, %b and %f work', () => {
    expect(find('key=value', '^(%w+)=(%w+)$')).toBe(true);
    expect(find('abab', '^(ab)%1$')).toBe(true);
    expect(find('abac', '^(ab)%1$')).toBe(false);
    expect(find('f(a(b)c)', '^f%b()$')).toBe(true);
    expect(find('f(a(b c', '^f%b()$')).toBe(false);
    expect(find('THE (quick) fox', '%f[%a]%a+')).toBe(true);
    expect(find('()x', '()x')).toBe(true);
  });

  it('malformed patterns raise Lua errors', () => {
    expect(() => find('x', 'x%')).toThrow(new LuaPatternError("malformed pattern (ends with '%')"));
    expect(() => find('x', '[a')).toThrow("malformed pattern (missing ']')");
    expect(() => find('x', 'x)')).toThrow('invalid pattern capture');
    expect(() => find('x', '(x')).toThrow('unfinished capture');
    expect(() => find('x', '%1')).toThrow('invalid capture index');
  });
});
