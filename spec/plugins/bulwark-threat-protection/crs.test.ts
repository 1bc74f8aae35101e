// The CRS rule compiler, transformations, phrase matcher and anomaly scoring, against the CRS 4 release in
// spec/fixtures/crs4 and (when Debian's modsecurity-crs is installed, as .ci/run does) CRS 3.3.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PhraseMatcher } from '../../../plugins/bulwark-threat-protection/crs/aho-corasick';
import {
  canMatchOver,
  compileCrsDirectory,
  isFastPathValue,
  VALUE_CLASSES,
} from '../../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../../plugins/bulwark-threat-protection/crs/engine';
import type { RequestValue } from '../../../plugins/bulwark-threat-protection/crs/model';
import { parseActions, parseSecRules } from '../../../plugins/bulwark-threat-protection/crs/secrules';
import * as t from '../../../plugins/bulwark-threat-protection/crs/transforms';

export const CRS4_DIR = join(__dirname, '../../fixtures/crs4/rules');
export const CRS33_DIR = '/usr/share/modsecurity-crs/rules';

describe('SecRule parser', () => {
  it('joins continuations, unescapes only \\" in double quotes, keeps single-quoted action values whole', () => {
    const text = [
      '# comment',
      'SecRule ARGS|!ARGS:foo "@rx a\\"b\\x5c" \\',
      "    \"id:1,phase:2,block,t:none,t:lowercase,msg:'a, b',\\",
      "    setvar:'tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}',chain\"",
      '    SecRule MATCHED_VARS "@pm x y" "t:none"',
      'SecMarker END',
    ].join('\n');
    const rules = parseSecRules(text, 'f.conf');
    expect(rules).toHaveLength(1);
    expect(rules[0]!.source).toBe('f.conf:2');
    expect(rules[0]!.links[0]!.variables).toBe('ARGS|!ARGS:foo');
    expect(rules[0]!.links[0]!.operator).toBe('@rx a"b\\x5c');
    expect(rules[0]!.links[0]!.actions.find((a) => a.name === 'msg')!.value).toBe('a, b');
    expect(rules[0]!.links[1]!.operator).toBe('@pm x y');
  });

  it('parses actions with quoted values containing commas and colons', () => {
    expect(parseActions("id:5,tag:'a:b,c',t:none")).toEqual([
      { name: 'id', value: '5' },
      { name: 'tag', value: 'a:b,c' },
      { name: 't', value: 'none' },
    ]);
  });
});

describe('transformations (byte strings)', () => {
  it('urlDecodeUni keeps raw bytes and invalid escapes, maps %u full-width to ASCII', () => {
    expect(t.urlDecodeUni('a%A0b%zz+%u003c%uff1c')).toBe('a\xa0b%zz <<');
    expect(t.urlDecode('%u003c')).toBe('%u003c');
  });
  it('htmlEntityDecode, jsDecode, cssDecode, escapeSeqDecode', () => {
    expect(t.htmlEntityDecode('&lt;script&gt;&#x61;&#98&quot;&foo;')).toBe('<script>ab"&foo;');
    expect(t.jsDecode('\\x3cscript\\u003e\\n\\141\\q')).toBe('<script>\na q'.replace(' ', ''));
    expect(t.cssDecode('\\6a avascript\\3a\\\nx')).toBe('javascript:x');
    expect(t.escapeSeqDecode('\\x41\\101\\n\\q')).toBe('AA\nq');
  });
  it('cmdLine, compress/remove whitespace, comments, nulls, utf8toUnicode, lowercase', () => {
    expect(t.cmdLine('C^A"T  /ETC/p\'asswd ; ls ,x')).toBe('cat/etc/passwd ls x');
    expect(t.compressWhitespace('a \t\n b')).toBe('a b');
    expect(t.removeWhitespace('u n\ti\xa0on')).toBe('union');
    expect(t.replaceComments('un/**/ion/* x')).toBe('un ion ');
    expect(t.removeCommentsChar('un/**/ion--#')).toBe('union');
    expect(t.removeCommentsChar('<!--un-->ion')).toBe('union');
    expect(t.removeNulls('a\0b')).toBe('ab');
    expect(t.utf8toUnicode('a\xc3\xa9\xff')).toBe('a%u00e9\xff');
    expect(t.utf8toUnicode('\xf0\x9f\x98\x80')).toBe('%u1f600'); // as ModSecurity writes a code point over U+FFFF
    expect(t.lowercase('ABc\xc0')).toBe('abc\xc0');
  });
  it('normalizePath and normalizePathWin resolve . and .. but keep leading ..', () => {
    expect(t.normalizePath('/a/./b/../c//d')).toBe('/a/c/d');
    expect(t.normalizePath('../../etc/passwd')).toBe('../../etc/passwd');
    expect(t.normalizePathWin('a\\..\\..\\windows\\win.ini')).toBe('../windows/win.ini');
  });
});

/** A seeded generator (an LCG): `next(n)` in 0..n-1, `word(alphabet, len)` a string of the alphabet's chars. */
function randomWords(seed: number) {
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const word = (alphabet: string, len: number) =>
    Array.from({ length: len }, () => alphabet[next(alphabet.length)]).join('');
  return { next, word };
}

describe('phrase matcher (@pm, Aho–Corasick)', () => {
  it('finds any phrase case-insensitively, overlapping ones too', () => {
    const m = new PhraseMatcher(['etc/passwd', 'she', 'hers', 'win.ini']);
    expect(m.find('x/ETC/PASSWD')).toBe('etc/passwd');
    expect(m.find('ushers')).toBe('she');
    expect(m.find('c:\\WIN.INI')).toBe('win.ini');
    expect(m.find('nothing here')).toBeUndefined();
  });
  it('stays linear: 100 KB of near-misses against a few thousand phrases', () => {
    const phrases = Array.from({ length: 3000 }, (_, i) => `${'a'.repeat(20)}#${i}#`);
    const m = new PhraseMatcher(phrases);
    expect(m.find('a'.repeat(100_000))).toBeUndefined();
    expect(m.find(`${'a'.repeat(100_000)}#2999#`)).toBe(`${'a'.repeat(20)}#2999#`);
  });
  it('agrees with a naive search on random inputs (the dense table folds in the failure links)', () => {
    const { next, word } = randomWords(7);
    for (let round = 0; round < 50; round++) {
      const phrases = Array.from({ length: 1 + next(30) }, () => word('abAB/.', 1 + next(5)));
      const m = new PhraseMatcher(phrases);
      const lower = phrases.map((p) => p.toLowerCase());
      for (let j = 0; j < 40; j++) {
        const input = word('aAbBc/.', next(25));
        const s = input.toLowerCase();
        // Naive: the phrases that end first in the input; find reports one of them (none: undefined).
        let endingFirst: string[] = [];
        for (let end = 1; end <= s.length && endingFirst.length === 0; end++) {
          endingFirst = lower.filter((p) => s.slice(0, end).endsWith(p));
        }
        const found = m.find(input);
        if (endingFirst.length === 0) expect(found).toBeUndefined();
        else expect(endingFirst).toContain(found);
      }
    }
  });
  /** Every phrase of `lower` that occurs in `input` (case-insensitively), by index, sorted. */
  const naiveCollect = (lower: string[], input: string) => {
    const s = input.toLowerCase();
    return lower.flatMap((p, i) => (p !== '' && s.includes(p) && lower.indexOf(p) === i ? [i] : []));
  };
  const collected = (m: PhraseMatcher, input: string): number[] | false => {
    const seen = new Uint8Array(m.phrases.length);
    const found: number[] = [];
    if (!m.collect(input, seen, found)) return false;
    expect(found.every((i) => seen[i] === 1)).toBe(true);
    return [...found].sort((a, b) => a - b);
  };
  it('collect reports every distinct phrase found, mayOccurIn whether one is; a char above 0xFF is unknown', () => {
    const { next, word } = randomWords(11);
    for (let round = 0; round < 50; round++) {
      const phrases = Array.from({ length: 1 + next(30) }, () => word('abAB/.', 1 + next(5)));
      const m = new PhraseMatcher(phrases);
      const lower = phrases.map((p) => p.toLowerCase());
      for (let j = 0; j < 40; j++) {
        const input = word('aAbBc/.', next(25));
        const expected = naiveCollect(lower, input);
        expect(collected(m, input)).toEqual(expected);
        expect(m.mayOccurIn(input)).toBe(expected.length > 0);
        expect(collected(m, `${input}\u0100`)).toBe(false);
        expect(m.mayOccurIn(`${input}\u0100`)).toBe(true);
      }
    }
  });
  it('over 65,536 states (past a 16-bit table) finds the phrases ending in the last states as well as the first', () => {
    let seed = 5;
    const next = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const phrases = Array.from({ length: 7500 }, () =>
      Array.from({ length: 12 }, () => 'abcdefghijklmnopqrstuvwxyz'[next(26)]).join(''),
    );
    const m = new PhraseMatcher(phrases);
    expect(m.stateCount).toBeGreaterThan(65_536);
    for (const i of [0, 1, 3750, 7498, 7499]) {
      const input = `--${phrases[i]!.toUpperCase()}--`;
      expect(m.find(input)).toBe(phrases[i]);
      expect(m.mayOccurIn(input)).toBe(true);
      expect(collected(m, input)).toEqual(naiveCollect(phrases, input));
    }
    const near = phrases.map((p) => p.slice(0, 11)).join('-');
    // Every phrase's first 11 chars: deep states, no phrase.
    expect(m.find(near)).toBeUndefined();
    expect(m.mayOccurIn(near)).toBe(false);
    expect(collected(m, near)).toEqual([]);
  });
});

describe('fast-path proof', () => {
  const alphabet = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@:+-'].map((c) =>
    c.charCodeAt(0),
  );
  it('a regex that needs a character outside the alphabet cannot match; one over letters can', () => {
    expect(canMatchOver('(?i)<script', alphabet)).toBe(false);
    expect(canMatchOver('\\bunion\\s+select', alphabet)).toBe(false);
    expect(canMatchOver('(?i)\\bdatabase\\b', alphabet)).toBe(true);
    expect(canMatchOver('x*', alphabet)).toBe(true);
  });
  it('fast-path values: letters, digits and _.@:+- only', () => {
    expect(isFastPathValue('jane.doe+tag@example.com')).toBe(true);
    expect(isFastPathValue("O'Brien")).toBe(false);
  });
});

describe.each([
  ['CRS 4.28.0', CRS4_DIR, '4.28.0'],
  ['CRS 3.3 (Debian modsecurity-crs)', CRS33_DIR, '3.3'],
])('%s', (_label, dir, version) => {
  const run = existsSync(dir) ? it : it.skip;
  run(
    'compiles into data: ids, PL, severity, targets, transformations, operators; regexes RE2 refuses are reported',
    () => {
      const set = compileCrsDirectory(dir);
      expect(set.version).toContain(version);
      expect(set.rules.length).toBeGreaterThan(100);
      const r930120 = set.rules.find((r) => r.id === 930120)!;
      expect(r930120).toMatchObject({ paranoiaLevel: 1, severity: 'CRITICAL', score: 5, category: 'lfi' });
      expect(r930120.operator.kind).toBe('pm');
      expect(r930120.transforms).toContain('urldecodeuni');
      expect(r930120.targets.map((x) => x.collection)).toEqual(
        expect.arrayContaining(['ARGS_GET', 'ARGS_POST', 'REQUEST_COOKIES']),
      );
      expect(set.rules.find((r) => r.id === 942100)!.operator).toEqual({ kind: 'detect', detector: 'sqli' });
      expect(set.rules.some((r) => r.paranoiaLevel === 2)).toBe(true);
      // Every regex is accounted for: compiled, or listed with the reason.
      const failed = set.skipped.filter((s) => s.reason.startsWith('regex does not compile'));
      expect(set.regexCompiled + failed.length).toBe(set.regexCount);
      if (version === '4.28.0') expect(failed).toEqual([]);
      else expect(failed.map((f) => f.id).sort()).toEqual([942130, 942260]);
    },
  );

  run('every scoring rule is compiled or listed as skipped, chained rules that score in their last link too', () => {
    const set = compileCrsDirectory(dir);
    // The rules that add to the anomaly score, in any link (CRS 4's 933150, 941310, 944120 score in the chain's
    // last link; they were dropped as bookkeeping before, unlisted).
    const scoring = readdirSync(dir)
      .filter((f) => /^REQUEST-9(3[0-4]|4[1-4])-.*\.conf$/.test(f))
      .flatMap((f) => parseSecRules(readFileSync(join(dir, f), 'latin1'), f))
      .filter((r) => r.links.some((l) => l.actions.some((a) => a.name === 'setvar' && /anomaly_score/i.test(a.value))))
      .map((r) => Number(r.links[0]!.actions.find((a) => a.name === 'id')!.value));
    const accounted = [...set.rules.map((r) => r.id), ...set.skipped.map((r) => r.id)];
    expect(accounted.sort()).toEqual(scoring.sort());
    if (version !== '4.28.0') return;
    const engine = new CrsEngine(set, { paranoiaLevel: 1 });
    const ids = (value: string) =>
      engine.evaluate([{ collection: 'ARGS_GET', name: 'q', value }]).matches.map((m) => m.id);
    // 933150: a high-risk PHP function name (@pmFromFile), chained on a parenthesis (@pm "( )") in MATCHED_VARS.
    expect(ids(':phpversion();')).toContain(933150);
    expect(ids('phpversion')).not.toContain(933150);
  });

  run('anomaly scoring: a critical rule adds 5, sub-scores per category, PL1 leaves PL2 rules out', () => {
    const set = compileCrsDirectory(dir);
    const pl1 = new CrsEngine(set, { paranoiaLevel: 1 });
    const attack = pl1.evaluate([{ collection: 'ARGS_GET', name: 'file', value: '../../../../etc/passwd' }]);
    expect(attack.score).toBeGreaterThanOrEqual(5);
    expect(attack.categoryScores.lfi).toBeGreaterThanOrEqual(5);
    expect(attack.matches.find((m) => m.id === 930120)!.locations).toEqual(['ARGS:file']);
    expect(pl1.evaluate([{ collection: 'ARGS_GET', name: 'q', value: 'hello world, how are you?' }]).score).toBe(0);
    expect(pl1.activeRules.every((r) => r.paranoiaLevel === 1)).toBe(true);
    const pl2 = new CrsEngine(set, { paranoiaLevel: 2 });
    expect(pl2.activeRules.length).toBeGreaterThan(pl1.activeRules.length);
  });

  run('exclusions: a rule removed for one argument still fires on another; removed by id it never fires', () => {
    const set = compileCrsDirectory(dir);
    const v = '../../../../etc/passwd';
    const byTarget = new CrsEngine(set, {
      paranoiaLevel: 1,
      exclusions: [{ targets: [{ collection: 'ARGS_GET', key: 'file' }] }],
    });
    expect(byTarget.evaluate([{ collection: 'ARGS_GET', name: 'file', value: v }]).score).toBe(0);
    expect(byTarget.evaluate([{ collection: 'ARGS_GET', name: 'other', value: v }]).score).toBeGreaterThanOrEqual(5);
    const lfiIds = new Set(set.rules.filter((r) => r.category === 'lfi').map((r) => r.id));
    const byId = new CrsEngine(set, { paranoiaLevel: 1, exclusions: [{ ruleIds: lfiIds }] });
    expect(
      byId.evaluate([{ collection: 'ARGS_GET', name: 'file', value: v }]).matches.filter((m) => lfiIds.has(m.id)),
    ).toEqual([]);
  });

  run(
    "a rule's own `!` target and a configured exclusion still apply to rules run one by one (multiMatch, @pm)",
    () => {
      // The engine skips the per-value target check for rules that apply to a whole collection: not for these.
      const set = compileCrsDirectory(dir);
      const engine = new CrsEngine(set, { paranoiaLevel: 1 });
      const traversal = '../../../../etc/passwd';
      const idsOn = (e: CrsEngine, v: RequestValue): number[] => e.evaluate([v]).matches.map((m) => m.id);
      // 930110 (multiMatch) targets REQUEST_HEADERS|!REQUEST_HEADERS:Referer.
      expect(idsOn(engine, { collection: 'REQUEST_HEADERS', name: 'user-agent', value: traversal })).toContain(930110);
      expect(idsOn(engine, { collection: 'REQUEST_HEADERS', name: 'referer', value: traversal })).not.toContain(930110);
      const excluded = new CrsEngine(set, {
        paranoiaLevel: 1,
        exclusions: [{ ruleIds: new Set([930110, 930120]), targets: [{ collection: 'ARGS_GET', key: 'file' }] }],
      });
      const file = idsOn(excluded, { collection: 'ARGS_GET', name: 'file', value: traversal });
      expect(file).not.toContain(930110);
      expect(file).not.toContain(930120); // @pmFromFile lfi-os-files.data
      const other = idsOn(excluded, { collection: 'ARGS_GET', name: 'other', value: traversal });
      expect(other).toEqual(expect.arrayContaining([930110, 930120]));
    },
  );

  run(
    'the fast path skips only rules proven unable to match: a fast-path value gets the same verdict either way',
    () => {
      const set = compileCrsDirectory(dir);
      const engine = new CrsEngine(set, { paranoiaLevel: 1 });
      const immuneTo = (name: string) => {
        const bit = 1 << VALUE_CLASSES.findIndex((c) => c.name === name);
        return set.rules.filter((r) => (r.immuneClasses & bit) !== 0);
      };
      const proven = immuneTo('fast path');
      expect(proven.length).toBeGreaterThan(30);
      for (const value of [
        'user_42@example.com',
        'SELECT',
        'etc.passwd',
        'alert',
        'boot.ini',
        'a-b:c+d',
        '.htaccess',
      ]) {
        const ids = engine.evaluate([{ collection: 'ARGS_GET', name: 'q', value }]).matches.map((m) => m.id);
        for (const r of proven) {
          if (r.operator.kind !== 'rx') continue;
          expect([r.id, r.operator.regex.matcher(value).find()]).toEqual([r.id, false]);
        }
        expect(ids.every((id) => !proven.some((r) => r.id === id))).toBe(true);
      }
      // The prose tier (space, `,'!?`, non-ASCII bytes too): rules proven unable to match prose skip such values.
      const proseProven = immuneTo('prose');
      expect(proseProven.length).toBeGreaterThan(10);
      for (const value of ["it's a nice day, isn't it?", "Ren\xc3\xa9e O'Brien", 'select the best option, or not!']) {
        for (const r of proseProven) {
          if (r.operator.kind !== 'rx') continue;
          expect([r.id, r.operator.regex.test(value)]).toEqual([r.id, false]);
        }
      }
    },
  );
});
