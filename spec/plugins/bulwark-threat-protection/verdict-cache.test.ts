// A value seen in an earlier request is scored from the engine's verdict cache (crs/engine.ts verdictCache). That
// must change nothing a user sees: the engine with the cache returns exactly the evaluation (score, category scores,
// rule ids and their locations) of the engine without it, request after request, over the attack corpora,
// english-text.txt and generated API traffic, at PL1 (detectors, exclusions by name) and PL4, for CRS 4.28.0 and
// CRS 3.3; and the cache stays within its bounds under a flood of unique values.
import { join } from 'node:path';
import { compileCrsDirectory } from '../../../plugins/bulwark-threat-protection/crs/compile';
import {
  CrsEngine,
  type EngineOptions,
  MAX_CACHED_NAME,
  MAX_CACHED_VALUE,
  MAX_LOCATIONS,
  VERDICT_KEY_CHARS,
  type WorkCounter,
} from '../../../plugins/bulwark-threat-protection/crs/engine';
import { type RequestValue } from '../../../plugins/bulwark-threat-protection/crs/model';
import { kongStringByteString } from '../../../plugins/lib/kong-strings';
import { LIBINJECTION_DETECTORS } from '../../../plugins/bulwark-threat-protection/libinjection';
import { attackPayloads, englishSentences, EQUIVALENCE_RULE_SETS, generatedRequestValues } from './equivalence-corpus';

/** Requests whose values recur in later requests: each attack payload as arguments, a form field, an argument
 * name, both scored headers and cookies (the next request has it again under other names and collections); english
 * sentences as a form field, then as a query argument; generated requests (cookie names, user agents, enum values
 * recur across them). */
function requests(): RequestValue[][] {
  const out: RequestValue[][] = [];
  const attacks = attackPayloads().map(kongStringByteString);
  attacks.forEach((a, i) => {
    const b = attacks[(i + 1) % attacks.length]!;
    out.push([
      { collection: 'ARGS_GET', name: 'q', value: a },
      { collection: 'ARGS_GET', name: 'id', value: b },
      { collection: 'ARGS_POST_NAMES', name: a, value: a },
      { collection: 'REQUEST_HEADERS', name: i % 2 === 0 ? 'user-agent' : 'referer', value: a },
      { collection: 'REQUEST_COOKIES', name: i % 3 === 0 ? 'theme' : 'session', value: b },
    ]);
  });
  const english = englishSentences().map(kongStringByteString);
  english.forEach((s, i) => {
    out.push([
      { collection: 'ARGS_POST', name: 'text', value: s },
      { collection: 'ARGS_GET', name: 'q', value: english[Math.max(0, i - 1)]! },
    ]);
  });
  out.push(...generatedRequestValues(13, 300));
  return out;
}

/** Exclusions keyed on names: the argument and cookie collections then depend on names (keys with the name). */
const BY_NAME: EngineOptions['exclusions'] = [
  {
    ruleIds: new Set([930120, 932160, 941100, 942100, 942190, 942360, 942440]),
    targets: [{ collection: 'ARGS_GET', key: 'q' }],
  },
  { targets: [{ collection: 'REQUEST_COOKIES', key: 'theme' }] },
];

describe('scoring from the verdict cache equals scoring every value', () => {
  const all = requests();
  for (const [name, dir, present] of EQUIVALENCE_RULE_SETS) {
    (present ? test : test.skip)(
      name,
      () => {
        const ruleSet = compileCrsDirectory(dir);
        // [label, options, least share of lookups the cache answers]
        const configs: [string, EngineOptions, number][] = [
          // Room for every value: the second pass is answered from the cache.
          [
            'PL1, detectors, exclusions by name',
            { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS, exclusions: BY_NAME, verdictCache: 1 << 17 },
            0.5,
          ],
          // 64 entries: the generations turn over every few requests (evictions, hits in the old generation).
          ['PL1, 64 entries', { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS, verdictCache: 64 }, 0.05],
          // Every rule, the default size, without the detectors (they would double the test's time; PL1 has them).
          ['PL4', { paranoiaLevel: 4 }, 0.1],
        ];
        for (const [label, options, hitShare] of configs) {
          const cached = new CrsEngine(ruleSet, options);
          const reference = new CrsEngine(ruleSet, { ...options, verdictCache: 0 });
          const differing: string[] = [];
          let matched = 0;
          // Twice over: the second pass finds the first pass's values in the cache (those it kept).
          for (const request of [...all, ...all]) {
            const want = reference.evaluate(request);
            const got = cached.evaluate(request);
            if (want.matches.length > 0) matched++;
            if (JSON.stringify(got) !== JSON.stringify(want) && differing.length < 5)
              differing.push(
                `${label} ${JSON.stringify(request[0]!.value).slice(0, 60)}: ` +
                  `${JSON.stringify(got.matches)} != ${JSON.stringify(want.matches)}`,
              );
          }
          expect(differing).toEqual([]);
          expect(matched).toBeGreaterThan(2000); // the corpora do exercise the rules
          // And the cache did answer part of it.
          const { hits, lookups } = cached.verdictCacheStats;
          expect(hits / lookups).toBeGreaterThan(hitShare);
        }
      },
      900_000,
    );
  }
});

describe('the verdict cache', () => {
  const ruleSet = compileCrsDirectory(join(__dirname, '../../fixtures/crs4/rules'));
  const base: EngineOptions = { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS };
  const sqli = attackPayloads()
    .map(kongStringByteString)
    .filter((p) => p.length <= MAX_CACHED_VALUE);

  test('a value evaluated while its rule had all its locations is not cached without that rule', () => {
    // 942100 (libinjection's SQLi verdict) runs as a single rule, skipped for a value once its locations are full:
    // the sixth payload's matches in that request lack 942100, and the next request must still find it.
    const probe = new CrsEngine(ruleSet, { ...base, verdictCache: 0 });
    const detected = sqli.filter((p) =>
      probe.evaluate([{ collection: 'ARGS_GET', name: 'x', value: p }]).matches.some((m) => m.id === 942100),
    );
    const payloads = [...new Set(detected)].slice(0, MAX_LOCATIONS + 1);
    expect(payloads).toHaveLength(MAX_LOCATIONS + 1);
    const first = payloads.map((value, i) => ({ collection: 'ARGS_GET' as const, name: `a${i}`, value }));
    const again = [{ collection: 'ARGS_GET' as const, name: 'later', value: payloads[MAX_LOCATIONS]! }];
    const cached = new CrsEngine(ruleSet, base);
    const reference = new CrsEngine(ruleSet, { ...base, verdictCache: 0 });
    expect(cached.evaluate(first)).toEqual(reference.evaluate(first));
    const later = cached.evaluate(again);
    expect(later).toEqual(reference.evaluate(again));
    expect(later.matches.map((m) => m.id)).toContain(942100);
  });

  test('a flood of unique values keeps it within its entries and key chars, and costs each value the same work', () => {
    const entries = 500;
    const engine = new CrsEngine(ruleSet, { ...base, verdictCache: entries });
    const fresh = (): CrsEngine => new CrsEngine(ruleSet, { ...base, verdictCache: entries });
    const work = (e: CrsEngine, values: RequestValue[]): number => {
      const w: WorkCounter = { matcherBytes: 0, transformBytes: 0 };
      e.evaluate(values, w);
      return w.matcherBytes + w.transformBytes;
    };
    let largest = 0;
    for (let i = 0; i < 5_000; i++) {
      engine.evaluate([
        { collection: 'ARGS_GET', name: 'q', value: `item-${i}` },
        { collection: 'REQUEST_COOKIES', name: 'session', value: `${i.toString(36)}x${'y'.repeat(i % 200)}` },
      ]);
      largest = Math.max(largest, engine.verdictCacheSize);
    }
    expect(largest).toBeLessThanOrEqual(entries);
    expect(largest).toBeGreaterThan(entries / 4);
    // Values of the cap's length: the key-char budget (entries × VERDICT_KEY_CHARS) holds fewer of them.
    for (let i = 0; i < 2_000; i++) {
      const value = `${i}-`.padEnd(MAX_CACHED_VALUE, 'z');
      engine.evaluate([{ collection: 'ARGS_GET', name: 'q', value }]);
      largest = Math.max(largest, engine.verdictCacheSize);
    }
    expect(engine.verdictCacheSize).toBeLessThanOrEqual((entries * VERDICT_KEY_CHARS) / MAX_CACHED_VALUE + 1);
    // A new value costs a churned cache what it costs an empty one (the same bytes through the same automata).
    const request: RequestValue[] = [{ collection: 'ARGS_GET', name: 'q', value: 'never-seen-value 1' }];
    expect(work(engine, request)).toBe(work(fresh(), request));
    // Seen again, it costs its key's bytes only.
    const hits = engine.verdictCacheStats.hits;
    const again = work(engine, request);
    expect(engine.verdictCacheStats.hits).toBe(hits + 1);
    expect(again).toBeGreaterThan(0);
    expect(again).toBeLessThanOrEqual(request[0]!.value.length + request[0]!.name.length + 3);
  });

  test('values over MAX_CACHED_VALUE bytes and names over MAX_CACHED_NAME are not cached', () => {
    const engine = new CrsEngine(ruleSet, { ...base, exclusions: BY_NAME });
    const evaluateTwice = (v: RequestValue): [number, number] => {
      const before = { ...engine.verdictCacheStats };
      engine.evaluate([v]);
      engine.evaluate([v]);
      return [engine.verdictCacheStats.lookups - before.lookups, engine.verdictCacheStats.hits - before.hits];
    };
    expect(evaluateTwice({ collection: 'ARGS_GET', name: 'q', value: 'a'.repeat(MAX_CACHED_VALUE) })).toEqual([2, 1]);
    expect(evaluateTwice({ collection: 'ARGS_GET', name: 'q', value: 'b'.repeat(MAX_CACHED_VALUE + 1) })).toEqual([
      0, 0,
    ]);
    // ARGS_GET depends on names here (an exclusion names ARGS_GET:q): the name is part of the key.
    expect(evaluateTwice({ collection: 'ARGS_GET', name: 'n'.repeat(MAX_CACHED_NAME), value: 'c' })).toEqual([2, 1]);
    expect(evaluateTwice({ collection: 'ARGS_GET', name: 'n'.repeat(MAX_CACHED_NAME + 1), value: 'd' })).toEqual([
      0, 0,
    ]);
    expect(engine.verdictCacheSize).toBe(2);
  });

  test('verdictCache 0 disables it; a negative or fractional size is refused, naming the option', () => {
    const off = new CrsEngine(ruleSet, { ...base, verdictCache: 0 });
    off.evaluate([{ collection: 'ARGS_GET', name: 'q', value: 'x' }]);
    off.evaluate([{ collection: 'ARGS_GET', name: 'q', value: 'x' }]);
    expect(off.verdictCacheSize).toBe(0);
    expect(off.verdictCacheStats.lookups).toBe(0);
    expect(() => new CrsEngine(ruleSet, { ...base, verdictCache: -1 })).toThrow(/verdictCache/);
    expect(() => new CrsEngine(ruleSet, { ...base, verdictCache: 1.5 })).toThrow(/verdictCache/);
  });
});
