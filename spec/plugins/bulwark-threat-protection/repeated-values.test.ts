// A value that occurs again in a request is scored from its first occurrence's matches (crs/engine.ts
// repeatedValueMemo). That must change nothing a user sees: the engine with the memo returns exactly the evaluation
// (score, category scores, rule ids and their locations) of the engine without it, on requests whose values repeat
// under other names and in other collections (where rules and exclusions differ by name: User-Agent vs Referer,
// an argument excluded by name), over the attack corpora, english-text.txt and generated API traffic, at PL1 (with
// the detectors and exclusions) and PL4, for CRS 4.28.0 and CRS 3.3.
import { compileCrsDirectory } from '../../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine, type EngineOptions, MAX_LOCATIONS } from '../../../plugins/bulwark-threat-protection/crs/engine';
import { type RequestValue } from '../../../plugins/bulwark-threat-protection/crs/model';
import { kongStringByteString } from '../../../plugins/lib/kong-strings';
import { LIBINJECTION_DETECTORS } from '../../../plugins/bulwark-threat-protection/libinjection';
import { attackPayloads, englishSentences, EQUIVALENCE_RULE_SETS, generatedRequestValues } from './equivalence-corpus';

/** Requests whose values repeat: each attack payload as two arguments, a form field, an argument name, both
 * scored headers and a cookie, next to its neighbour in the list; some payloads MAX_LOCATIONS + 2 times (the
 * locations cap); english sentences as a form field and a query argument; generated requests with their values
 * twice, the second time under other names. */
function requests(): RequestValue[][] {
  const out: RequestValue[][] = [];
  const attacks = attackPayloads().map(kongStringByteString);
  attacks.forEach((a, i) => {
    const b = attacks[(i + 1) % attacks.length]!;
    out.push([
      { collection: 'ARGS_GET', name: 'q', value: a },
      { collection: 'ARGS_GET', name: 'id', value: b },
      { collection: 'ARGS_POST', name: 'text', value: a },
      { collection: 'ARGS_GET', name: 'next', value: a },
      { collection: 'ARGS_POST_NAMES', name: a, value: a },
      { collection: 'REQUEST_HEADERS', name: 'user-agent', value: a },
      { collection: 'REQUEST_HEADERS', name: 'referer', value: a },
      { collection: 'REQUEST_COOKIES', name: 'session', value: b },
      { collection: 'REQUEST_COOKIES', name: 'theme', value: b },
      { collection: 'ARGS_GET', name: 'q2', value: b },
    ]);
    if (i % 25 === 0) {
      out.push(
        Array.from({ length: MAX_LOCATIONS + 2 }, (_, k) => ({ collection: 'ARGS_GET', name: `a${k}`, value: a })),
      );
    }
  });
  const english = englishSentences().map(kongStringByteString);
  for (let i = 0; i + 1 < english.length; i += 2) {
    out.push([
      { collection: 'ARGS_POST', name: 'text', value: english[i]! },
      { collection: 'ARGS_GET', name: 'q', value: english[i]! },
      { collection: 'ARGS_POST', name: 'note', value: english[i + 1]! },
      { collection: 'ARGS_POST', name: 'text2', value: english[i]! },
    ]);
  }
  for (const values of generatedRequestValues(11, 50)) {
    out.push([...values, ...values.map((v) => ({ ...v, name: v.name === '' ? '' : `${v.name}_again` }))]);
  }
  return out;
}

describe('scoring a repeated value once equals scoring every occurrence', () => {
  const all = requests();
  for (const [name, dir, present] of EQUIVALENCE_RULE_SETS) {
    (present ? test : test.skip)(
      name,
      () => {
        const ruleSet = compileCrsDirectory(dir);
        const configs: EngineOptions[] = [
          {
            paranoiaLevel: 1,
            detectors: LIBINJECTION_DETECTORS,
            // Exclusions by name make the argument and cookie collections depend on names.
            exclusions: [
              {
                ruleIds: new Set([930120, 932160, 941100, 942100, 942190, 942360, 942440]),
                targets: [{ collection: 'ARGS_GET', key: 'q' }],
              },
              { targets: [{ collection: 'REQUEST_COOKIES', key: 'theme' }] },
            ],
          },
          // Every rule, without the detectors (they would double the test's time; PL1 has them).
          { paranoiaLevel: 4 },
        ];
        for (const options of configs) {
          // Without the cross-request verdict cache (verdict-cache.test.ts compares that): the memo alone.
          const memo = new CrsEngine(ruleSet, { ...options, verdictCache: 0 });
          const reference = new CrsEngine(ruleSet, { ...options, repeatedValueMemo: false, verdictCache: 0 });
          const differing: string[] = [];
          let matched = 0;
          for (const request of all) {
            const want = reference.evaluate(request);
            const got = memo.evaluate(request);
            if (want.matches.length > 0) matched++;
            if (JSON.stringify(got) !== JSON.stringify(want) && differing.length < 5)
              differing.push(
                `PL${options.paranoiaLevel} ${JSON.stringify(request[0]!.value).slice(0, 60)}: ` +
                  `${JSON.stringify(got.matches)} != ${JSON.stringify(want.matches)}`,
              );
          }
          expect(differing).toEqual([]);
          expect(matched).toBeGreaterThan(1000); // the corpora do exercise the rules
        }
      },
      900_000,
    );
  }
});
