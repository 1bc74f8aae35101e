// No input takes more than linear time: 100 KB hostile inputs against the CRS 4 rules on which V8's backtracking
// RegExp is quadratic or worse (measured with scripts: 932230 on "${"×1000 takes 0.13 s at 2 KB and 1.5 s at
// 8 KB; at 100 KB minutes). Structural assertions, no wall time: every operator runs on an automaton (RE2 sets and
// regexes, Aho–Corasick), and the work counted (bytes handed to automata and transformations) grows in proportion
// to the input, from 10 KB to 100 KB.
import { join } from 'node:path';
import { RE2JS } from 're2js';
import { PhraseMatcher } from '../../../plugins/bulwark-threat-protection/crs/aho-corasick';
import { compileCrsDirectory } from '../../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine, type WorkCounter } from '../../../plugins/bulwark-threat-protection/crs/engine';

const set = compileCrsDirectory(join(__dirname, '../../fixtures/crs4/rules'));
/** Rules and the fillers on which V8 backtracks (scratch measurement, see the header). */
const BACKTRACKING: [number, string][] = [
  [932230, '${'],
  [932235, '${'],
  [932250, "'"],
  [932260, '${'],
  [932340, '${'],
  [933111, 'a='],
  [941140, 'on'],
  [941160, "'"],
];

describe('linear time on hostile inputs', () => {
  test('every operator is an RE2 regex, a phrase automaton or a detector: no V8 RegExp touches request data', () => {
    for (const r of set.rules) {
      const ops = [r.operator, ...r.chain.map((l) => l.operator)];
      for (const op of ops) {
        if (op.kind === 'rx') expect(op.regex).toBeInstanceOf(RE2JS);
        else if (op.kind === 'pm') expect(op.matcher).toBeInstanceOf(PhraseMatcher);
        else expect(['string', 'detect', 'unconditional']).toContain(op.kind);
      }
    }
  });

  const engine = new CrsEngine(set, { paranoiaLevel: 4 });
  const work = (value: string): number => {
    const w: WorkCounter = { matcherBytes: 0, transformBytes: 0 };
    engine.evaluate([{ collection: 'ARGS_GET', name: 'q', value }], w);
    return w.matcherBytes + w.transformBytes;
  };

  test.each(BACKTRACKING)(
    'rule %i with %j repeated to 100 KB: work 10× that of 10 KB (linear), all PL1-4 rules run',
    (id, filler) => {
      expect(set.rules.some((r) => r.id === id)).toBe(true);
      const small = filler.repeat(Math.ceil(10_000 / filler.length));
      const big = filler.repeat(Math.ceil(100_000 / filler.length));
      const ratio = work(big) / work(small);
      expect(ratio).toBeGreaterThan(9);
      expect(ratio).toBeLessThan(11);
      // The 100 KB input is scanned whole (not cut), several times (RE2 sets, transformations, the shared phrase
      // scan, which reads each distinct transformed string once for every @pm list: ~9.5× its length for "on").
      expect(work(big)).toBeGreaterThan(big.length * 5);
    },
    300_000,
  );
});
