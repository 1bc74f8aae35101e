// Another build's bulwark-threat-protection engine, for the benches that compare builds in one process
// (threat-engine-ab.ts, phrase-tables.ts): `dist` is a copy of that build's dist/ with a node_modules link next to it.
import { join, resolve } from 'node:path';
import type { PhraseMatcher } from '../../plugins/bulwark-threat-protection/crs/aho-corasick';
import type { compileCrsDirectory } from '../../plugins/bulwark-threat-protection/crs/compile';
import type { CrsEngine, EngineOptions } from '../../plugins/bulwark-threat-protection/crs/engine';
import type { LIBINJECTION_DETECTORS } from '../../plugins/bulwark-threat-protection/libinjection';

export interface ThreatBuild {
  /** That build's automaton class (its API may differ in private members only). */
  PhraseMatcher: typeof PhraseMatcher;
  /** A compile of a rule directory by that build. */
  compile: typeof compileCrsDirectory;
  /** An engine of that build at PL1 with its detectors, on a rule set it compiled. */
  engine(ruleSet: ReturnType<typeof compileCrsDirectory>, options?: Partial<EngineOptions>): CrsEngine;
}

export function threatBuild(dist: string): ThreatBuild {
  const base = resolve(dist, 'js/plugins/bulwark-threat-protection');
  /* eslint-disable @typescript-eslint/no-require-imports */
  const compile = require(join(base, 'crs/compile')) as { compileCrsDirectory: typeof compileCrsDirectory };
  const engine = require(join(base, 'crs/engine')) as { CrsEngine: typeof CrsEngine };
  const detectors = require(join(base, 'libinjection')) as { LIBINJECTION_DETECTORS: typeof LIBINJECTION_DETECTORS };
  const ac = require(join(base, 'crs/aho-corasick')) as { PhraseMatcher: typeof PhraseMatcher };
  /* eslint-enable @typescript-eslint/no-require-imports */
  return {
    PhraseMatcher: ac.PhraseMatcher,
    compile: compile.compileCrsDirectory,
    engine: (ruleSet, options) =>
      new engine.CrsEngine(ruleSet, { paranoiaLevel: 1, detectors: detectors.LIBINJECTION_DETECTORS, ...options }),
  };
}
