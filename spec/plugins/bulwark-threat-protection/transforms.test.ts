// Edge cases of the two escape decoders, which follow two different ModSecurity transformations and share only
// their `\xHH` branch: jsDecode (JavaScript escapes) and escapeSeqDecode (ANSI C escapes). And the trigger chars
// the engine skips transformations by: a transformation must return a string without them unchanged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CHAR_SPACE,
  charBits,
  escapeSeqDecode,
  jsDecode,
  RESULT_BITS,
  TRANSFORMS,
  TRIGGERS,
} from '../../../plugins/bulwark-threat-protection/crs/transforms';
import { kongStringByteString } from '../../../plugins/lib/kong-strings';

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

describe('transformation triggers (the engine skips a transformation whose trigger chars are absent)', () => {
  const FIXTURES = join(__dirname, '../../fixtures');
  const corpus = [
    'attacks/sqli.txt',
    'attacks/xss.txt',
    'attacks/traversal.txt',
    'attacks/cmdi.txt',
    'attacks/nosqli.txt',
  ]
    .flatMap((f) => readFileSync(join(FIXTURES, f), 'utf8').split('\n'))
    .concat(readFileSync(join(FIXTURES, 'benign/english-text.txt'), 'utf8').split('\n').slice(0, 1000))
    .map(kongStringByteString);
  // Every byte alone and between letters, a char above 0xFF, the corpus, and what each transformation makes of it
  // (the engine applies triggers to intermediate results too).
  const bytes = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c));
  const inputs = [...bytes, ...bytes.map((b) => `a${b}B${b}${b}`), '\u0100', 'x\u2028 y', ...corpus];
  for (const s of corpus) for (const fn of TRANSFORMS.values()) inputs.push(fn(s));

  test.each([...TRIGGERS])('%s returns its input when none of its trigger chars occurs', (name, trigger) => {
    const fn = TRANSFORMS.get(name)!;
    const changed = inputs.filter((s) => (charBits(s) & trigger) === 0 && fn(s) !== s);
    expect(changed.slice(0, 5)).toEqual([]);
    // The check can fail: inputs with the trigger chars exist that the transformation changes.
    expect(inputs.some((s) => (charBits(s) & trigger) !== 0 && fn(s) !== s)).toBe(true);
  });

  // The engine takes these outputs' bits from their inputs' instead of scanning them: a bit missing there would skip
  // a later transformation that changes the string.
  test.each([...RESULT_BITS])("%s's output bits are within those derived from its input's", (name, [keep, from]) => {
    const fn = TRANSFORMS.get(name)!;
    const derived = (s: string): number => {
      const bits = charBits(s);
      return (bits & keep) | ((bits & from) !== 0 ? CHAR_SPACE : 0);
    };
    const missed = inputs.filter((s) => (charBits(fn(s)) & ~derived(s)) !== 0);
    expect(missed.slice(0, 5)).toEqual([]);
    // Not vacuous: the derivation drops bits that inputs have.
    expect(inputs.some((s) => derived(s) !== charBits(s))).toBe(true);
  });
});
