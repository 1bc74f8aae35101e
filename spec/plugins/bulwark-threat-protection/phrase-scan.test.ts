// The shared phrase scan (crs/engine.ts PhraseScan): every `@pm` list and every multiMatch regex's literals in one
// automaton, run once per distinct transformed string of a value; a rule whose phrases did not occur is not run.
// It must change no verdict: the engine with it returns exactly the rule ids of the engine without it (each list
// scanning on its own), every value of the attack corpora (as argument, cookie, header and argument name),
// english-text.txt and generated API traffic (and values that are not byte strings), at PL1 and PL4, CRS 4.28.0
// and CRS 3.3.
import { compileCrsDirectory } from '../../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../../plugins/bulwark-threat-protection/crs/engine';
import { type RequestValue } from '../../../plugins/bulwark-threat-protection/crs/model';
import { attackPayloads, corpusValues, EQUIVALENCE_RULE_SETS } from './equivalence-corpus';

/** The shared per-value corpus, and values that are not byte strings (a char above 0xFF, which the lists' own
 * automata read as its low byte: U+0174 as 't'): the shared automaton cannot judge them and must leave the verdict
 * to each list. */
function phraseScanValues(): RequestValue[] {
  const values = corpusValues();
  attackPayloads().forEach((payload, i) => {
    if (i % 4 === 0) values.push({ collection: 'ARGS_GET', name: 'q', value: payload.replace(/t/g, '\u0174') });
  });
  return values;
}

const ids = (matches: readonly { id: number }[]): string => matches.map((m) => m.id).join(',');

describe('the shared phrase scan equals each list scanning on its own', () => {
  const values = phraseScanValues();
  for (const [name, dir, present] of EQUIVALENCE_RULE_SETS) {
    (present ? test : test.skip)(
      name,
      () => {
        const ruleSet = compileCrsDirectory(dir);
        const phraseRules = new Set(
          ruleSet.rules.filter((r) => r.operator.kind === 'pm' || r.multiMatch).map((r) => r.id),
        );
        for (const paranoiaLevel of [1, 4]) {
          // Without the detectors: the scan guards phrase lists and regexes only. Without the verdict cache, which
          // would answer a value seen before without running either.
          const shared = new CrsEngine(ruleSet, { paranoiaLevel, verdictCache: 0 });
          const own = new CrsEngine(ruleSet, { paranoiaLevel, sharedPhraseScan: false, verdictCache: 0 });
          const differing: string[] = [];
          let phraseMatches = 0;
          for (const v of values) {
            const want = own.evaluate([v]).matches;
            const got = ids(shared.evaluate([v]).matches);
            if (want.some((m) => phraseRules.has(m.id))) phraseMatches++;
            if (got !== ids(want) && differing.length < 10)
              differing.push(
                `PL${paranoiaLevel} ${v.collection} ${JSON.stringify(v.value).slice(0, 80)}: ${got} != ${ids(want)}`,
              );
          }
          expect(differing).toEqual([]);
          // The corpora do exercise the phrase lists.
          expect(phraseMatches).toBeGreaterThan(300);
        }
      },
      600_000,
    );
  }
});
