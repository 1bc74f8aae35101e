// Value classes (crs/compile.ts VALUE_CLASSES, alphabetAfter; crs/engine.ts): a value made only of a class's chars
// skips the rules proven unable to match any value of the class. The proof must change no verdict: the engine with
// the classes returns exactly the rule ids of the engine that runs every rule on every value, for every value of the
// attack corpora (as argument, cookie, header and argument name), english-text.txt, generated API traffic and values
// at the edges of the classes (one char outside, `+` that URL decoding turns into a space, escapes, non-ASCII, chars
// above 0xFF), at PL1 and PL4, CRS 4.28.0 and CRS 3.3.
import {
  alphabetAfter,
  compileCrsDirectory,
  VALUE_CLASSES,
} from '../../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../../plugins/bulwark-threat-protection/crs/engine';
import { type RequestValue } from '../../../plugins/bulwark-threat-protection/crs/model';
import { LIBINJECTION_DETECTORS } from '../../../plugins/bulwark-threat-protection/libinjection';
import { attackPayloads, corpusValues, EQUIVALENCE_RULE_SETS } from './equivalence-corpus';

/** Values at the edges of the classes: class members with one char of an attack or an escape in them. */
function edgeValues(): string[] {
  const members = [
    '3f2a9c1e-7b4d-4e2a-9f1c-2d3e4f5a6b7c',
    '12345',
    '+1 (555) 701-6387',
    '2024-01-02 10:30',
    'priority',
    'select',
    'union.select',
    'john.doe+tag@example.com',
    '/v1/orders/42',
    '/etc/passwd',
    '../../etc/passwd',
    'javascript:alert',
    "it's a nice day, isn't it?",
    'Ren\xc3\xa9e',
    'cat+/etc/passwd',
    'select+1+from+users',
    '1+or+1',
    'sleep(5)',
    '(1)',
    '1)+or+(1',
    'eval(1)',
    'system:exec',
  ];
  const inserts = [
    '%',
    '%27',
    '%3c',
    '&',
    '&lt;',
    '\\',
    '\\x3c',
    "'",
    '"',
    '<',
    ';',
    '|',
    '`',
    '$',
    '\0',
    '\x80',
    '\u0174',
    '+',
    ' ',
    '/',
    '(',
    '*',
    '#',
    '--',
    '/*',
  ];
  const values = [...members];
  for (const m of members) {
    for (const ins of inserts) {
      values.push(m + ins);
      values.push(ins + m);
      values.push(m.slice(0, m.length >> 1) + ins + m.slice(m.length >> 1));
    }
  }
  return values;
}

function classValues(): RequestValue[] {
  const values = corpusValues();
  for (const value of edgeValues()) {
    values.push({ collection: 'ARGS_GET', name: 'q', value });
    values.push({ collection: 'ARGS_POST_NAMES', name: value, value });
    values.push({ collection: 'REQUEST_HEADERS', name: 'referer', value });
    values.push({ collection: 'REQUEST_FILENAME', name: '', value });
  }
  // Attack payloads with `+` for spaces (URL decoding turns them back) and with spaces removed.
  for (const payload of attackPayloads()) {
    values.push({ collection: 'ARGS_GET', name: 'q', value: payload.replace(/ /g, '+') });
    values.push({ collection: 'ARGS_GET', name: 'q', value: payload.replace(/[^A-Za-z0-9_.@:+/-]/g, '') });
  }
  return values;
}

const ids = (matches: readonly { id: number }[]): string => matches.map((m) => m.id).join(',');

describe('value classes change no verdict', () => {
  const values = classValues();
  for (const [name, dir, present] of EQUIVALENCE_RULE_SETS) {
    (present ? test : test.skip)(
      name,
      () => {
        const ruleSet = compileCrsDirectory(dir);
        for (const paranoiaLevel of [1, 4]) {
          const detectors = LIBINJECTION_DETECTORS;
          // No verdict cache: a repeat answered from it would not run the classes' plans.
          const classes = new CrsEngine(ruleSet, { paranoiaLevel, detectors, verdictCache: 0 });
          const every = new CrsEngine(ruleSet, { paranoiaLevel, detectors, valueClasses: false, verdictCache: 0 });
          const differing: string[] = [];
          let matched = 0;
          for (const v of values) {
            const want = ids(every.evaluate([v]).matches);
            const got = ids(classes.evaluate([v]).matches);
            if (want !== '') matched++;
            if (got !== want && differing.length < 10)
              differing.push(
                `PL${paranoiaLevel} ${v.collection} ${JSON.stringify(v.value).slice(0, 80)}: ${got} != ${want}`,
              );
          }
          expect(differing).toEqual([]);
          expect(matched).toBeGreaterThan(1000);
        }
      },
      900_000,
    );
  }
});

describe('alphabetAfter', () => {
  const bytes = (s: string): Uint8Array => {
    const b = new Uint8Array(256);
    for (const ch of s) b[ch.charCodeAt(0)] = 1;
    return b;
  };
  const chars = (b: Uint8Array | undefined): string | undefined =>
    b === undefined ? undefined : String.fromCharCode(...[...b.keys()].filter((c) => b[c] === 1));
  it('a decoding whose escape char the alphabet holds may produce any byte', () => {
    expect(alphabetAfter(['urldecodeuni'], bytes('a%'))).toBeUndefined();
    expect(alphabetAfter(['htmlentitydecode'], bytes('a&'))).toBeUndefined();
    expect(alphabetAfter(['jsdecode'], bytes('a\\'))).toBeUndefined();
    expect(alphabetAfter(['utf8tounicode'], bytes('a\xc3'))).toBeUndefined();
    expect(alphabetAfter(['base64decode'], bytes('a'))).toBeUndefined();
    expect(alphabetAfter(['no-such-transformation'], bytes('a'))).toBeUndefined();
  });
  it('URL decoding turns `+` into a space, lowercase and cmdLine add lower-case letters', () => {
    expect(chars(alphabetAfter(['urldecode'], bytes('a+')))).toBe(' +a');
    expect(chars(alphabetAfter(['urldecode'], bytes('a')))).toBe('a');
    expect(chars(alphabetAfter(['lowercase'], bytes('A')))).toBe('Aa');
    expect(chars(alphabetAfter(['cmdline'], bytes('A,')))).toBe(' ,Aa');
    expect(chars(alphabetAfter(['normalizepathwin'], bytes('a\\')))).toBe('/\\a');
  });
  it('classes are byte masks; the numeric class holds no letter', () => {
    expect(VALUE_CLASSES[0]!.bytes['a'.charCodeAt(0)]).toBe(0);
    for (const c of VALUE_CLASSES) expect(c.bytes.length).toBe(256);
  });
});
