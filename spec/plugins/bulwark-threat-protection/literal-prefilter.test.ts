// The literal prefilter (crs/literal-prefilter.ts) must be conservative: a regex skipped because none of its
// literals occurs could not have matched. Checked two ways: the extraction on small patterns, and the engine with
// the prefilter against the engine without it, every CRS 4.28.0 and CRS 3.3 rule at PL4, over the attack corpora,
// english-text.txt and generated API traffic: the same rule ids must match on every value.
import { RE2Set } from 're2js';
import { compileCrsDirectory } from '../../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../../plugins/bulwark-threat-protection/crs/engine';
import { requiredLiterals, type RegexpNode } from '../../../plugins/bulwark-threat-protection/crs/literal-prefilter';
import { type RequestValue } from '../../../plugins/bulwark-threat-protection/crs/model';
import { corpusValues, EQUIVALENCE_RULE_SETS } from './equivalence-corpus';

function literalsOf(pattern: string): string[] | undefined {
  const set = new RE2Set(RE2Set.UNANCHORED);
  set.add(pattern);
  return requiredLiterals((set as unknown as { regexps: RegexpNode[] }).regexps[0]!);
}

describe('required literals of a regex', () => {
  test('a concatenation requires its most selective part; an alternation the union of its branches', () => {
    expect(literalsOf('xy\\s+select')).toEqual(['select']);
    expect(literalsOf('(?i)(?:foo|bar)\\(')?.sort()).toEqual(['bar(', 'foo(']);
    expect(literalsOf('un(?:i|y)on')?.sort()).toEqual(['union', 'unyon']);
    expect(literalsOf('<script|javascript:')?.sort()).toEqual(['<script', 'javascript:']);
  });

  test('optional or unbounded parts require nothing', () => {
    expect(literalsOf('a*')).toBeUndefined();
    expect(literalsOf('(?:abc)?')).toBeUndefined();
    expect(literalsOf('.+')).toBeUndefined();
    expect(literalsOf('abc|.')).toBeUndefined(); // one branch requires nothing
    expect(literalsOf('[a-z]+')).toBeUndefined(); // a class too large to list
    expect(literalsOf('(?:abc)+')).toEqual(['abc']);
  });

  test('case-folded non-ASCII letters are not compared (the automaton folds ASCII only)', () => {
    expect(literalsOf('(?i)é')).toBeUndefined();
    expect(literalsOf('(?i)xé')).toEqual(['x']);
    expect(literalsOf('é')).toEqual(['é']);
  });
});

function ids(engine: CrsEngine, v: RequestValue): string {
  return engine
    .evaluate([v])
    .matches.map((m) => m.id)
    .join(',');
}

describe('prefiltered evaluation equals full evaluation (every rule, PL4)', () => {
  const values = corpusValues();
  for (const [name, dir, present] of EQUIVALENCE_RULE_SETS) {
    (present ? test : test.skip)(
      name,
      () => {
        const ruleSet = compileCrsDirectory(dir);
        // Without the detectors: the prefilter guards regexes only, and the detectors would double the test's time.
        // Without the verdict cache, which would answer a value seen before without running either.
        const options = { paranoiaLevel: 4, verdictCache: 0 };
        const prefiltered = new CrsEngine(ruleSet, options);
        const full = new CrsEngine(ruleSet, { ...options, literalPrefilter: false });
        // The prefilter must actually filter: most CRS regexes have literals.
        const rx = ruleSet.rules.filter((r) => r.operator.kind === 'rx');
        const withLiterals = rx.filter((r) => r.operator.kind === 'rx' && r.operator.literals !== undefined);
        expect(withLiterals.length / rx.length).toBeGreaterThan(0.9);
        const differing: string[] = [];
        let matched = 0;
        for (const v of values) {
          const want = ids(full, v);
          const got = ids(prefiltered, v);
          if (want !== '') matched++;
          if (got !== want && differing.length < 10)
            differing.push(`${v.collection} ${JSON.stringify(v.value).slice(0, 80)}: ${got} != ${want}`);
        }
        expect(differing).toEqual([]);
        expect(matched).toBeGreaterThan(1000); // the corpora do exercise the rules
      },
      600_000,
    );
  }
});
