// Edge cases of the two escape decoders, which follow two different ModSecurity transformations and share only
// their `\xHH` branch: jsDecode (JavaScript escapes) and escapeSeqDecode (ANSI C escapes).
import { escapeSeqDecode, jsDecode } from '../../../plugins/bulwark-threat-protection/crs/transforms';

describe('jsDecode (t:jsDecode)', () => {
  it.each([
    ['\\x41\\X42', 'AB'], // \xHH, either case of x
    ['\\x4', 'x4'], // too few hex digits: the escaped character itself
    ['\\x4g', 'x4g'],
    ['a\\x', 'ax'], // \x at the end
    ['\\u0041\\U0042', 'AB'], // \uHHHH
    ['\\uff21', 'A'], // full-width A folds to its ASCII byte
    ['\\101\\7', 'A\x07'], // octal, 1–3 digits
    ['\\400', ' 0'], // over 0xFF: the last digit is left out of the escape
    ['\\8', '8'], // not octal: the character itself
    ['\\n\\t\\q', '\n\tq'], // C escapes; an unknown one drops the backslash
    ['end\\', 'end\\'], // a trailing backslash stays
  ])('%j → %j', (input, expected) => {
    expect(jsDecode(input)).toBe(expected);
  });
});

describe('escapeSeqDecode (t:escapeSeqDecode)', () => {
  // Outputs checked against ModSecurity 3.0.9 (modsecurity.test.ts); ModSecurity 2 and Coraza share the code path
  // ("Didn't recognise encoding, copy raw bytes": the character after the backslash, not the backslash).
  it.each([
    ['\\x41\\X42', 'AB'], // \xHH, either case of x
    ['\\x4', 'x4'], // too few hex digits: not an escape, the backslash goes
    ['a\\x', 'ax'],
    ['\\u0041', 'u0041'], // no \u in C
    ['\\101\\7', 'A\x07'], // octal, 1–3 digits
    ['\\400', '\x00'], // over 0xFF: three digits, the value masked to a byte
    ['\\8', '8'], // not octal
    ['\\n\\t\\\\\\?\\\'\\"', '\n\t\\?\'"'], // C escapes and the escaped punctuation
    ['\\q', 'q'], // an unknown escape loses its backslash
    ['end\\', 'end\\'], // a trailing backslash stays
  ])('%j → %j', (input, expected) => {
    expect(escapeSeqDecode(input)).toBe(expected);
  });
});
