#!/usr/bin/env node
// bulwark-threat-protection's engine against another build's, evaluation only (CRS 4 rules at PL1 with the
// detectors, the realistic mix and 10 KB JSON bodies of threat-traffic.ts), made for a shared, loaded machine: the
// two engines alternate request by request (which goes first alternates too), and each request's time is the
// minimum of K runs, which filters out the time slices the process lost to others. Both engines must return the
// same evaluation (score, rule ids, locations) on every request, or the bench stops.
// Usage: BASELINE_DIST=<a copy of dist/ from another commit, with a node_modules link next to it>
//   node dist/js/scripts/bench/threat-engine-ab.js [requests=2000] [K=3]
import { join, resolve } from 'node:path';
import { compileCrsDirectory } from '../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../plugins/bulwark-threat-protection/crs/engine';
import type { RequestValue } from '../../plugins/bulwark-threat-protection/crs/model';
import { LIBINJECTION_DETECTORS } from '../../plugins/bulwark-threat-protection/libinjection';
import { defaultScanLimits } from '../../plugins/bulwark-threat-protection/config';
import { buildRequestModel } from '../../plugins/bulwark-threat-protection/request-model';
import { jsonBodyOfSize, realisticRequest, seeded } from './threat-traffic';

const ROOT = resolve(__dirname, '../../../..');
const RULES = join(ROOT, 'spec/fixtures/crs4/rules');
const N = Number(process.argv[2] ?? 2000);
const K = Number(process.argv[3] ?? 3);
const LIMITS = defaultScanLimits();

interface Evaluator {
  evaluate(values: RequestValue[]): unknown;
}

function baselineEngine(dist: string): Evaluator {
  const base = resolve(dist, 'js/plugins/bulwark-threat-protection');
  /* eslint-disable @typescript-eslint/no-require-imports */
  const compile = require(join(base, 'crs/compile')) as { compileCrsDirectory: typeof compileCrsDirectory };
  const engine = require(join(base, 'crs/engine')) as { CrsEngine: typeof CrsEngine };
  const detectors = require(join(base, 'libinjection')) as { LIBINJECTION_DETECTORS: typeof LIBINJECTION_DETECTORS };
  /* eslint-enable @typescript-eslint/no-require-imports */
  return new engine.CrsEngine(compile.compileCrsDirectory(RULES), {
    paranoiaLevel: 1,
    detectors: detectors.LIBINJECTION_DETECTORS,
  });
}

function minTime(e: Evaluator, values: RequestValue[]): number {
  let best = Infinity;
  for (let k = 0; k < K; k++) {
    const t = process.hrtime.bigint();
    e.evaluate(values);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1000);
  }
  return best;
}

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function main(): void {
  const dist = process.env.BASELINE_DIST;
  if (dist === undefined) throw new Error('set BASELINE_DIST to the dist/ of the build to compare with');
  const before = baselineEngine(dist);
  const now = new CrsEngine(compileCrsDirectory(RULES), { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS });
  const rnd = seeded(42);
  const model = (r: Parameters<typeof buildRequestModel>[0]): RequestValue[] => {
    const m = buildRequestModel(r, ['user-agent', 'referer'], LIMITS, 'refuse');
    return m.ok ? m.values : [];
  };
  const sets = {
    mix: Array.from({ length: N }, () => model(realisticRequest(rnd))),
    '10 KB': Array.from({ length: 50 }, () => model(jsonBodyOfSize(rnd, 10_240))),
  };
  for (const requests of Object.values(sets)) {
    for (const values of requests) {
      if (JSON.stringify(now.evaluate(values)) !== JSON.stringify(before.evaluate(values)))
        throw new Error(`the engines disagree on ${JSON.stringify(values).slice(0, 200)}`);
    }
  }
  console.log(`per-request evaluation (µs, min of ${K} runs, engines alternating), same evaluations on every request`);
  for (const [name, requests] of Object.entries(sets)) {
    const a: number[] = [];
    const b: number[] = [];
    requests.forEach((values, i) => {
      if (i % 2 === 0) {
        a.push(minTime(before, values));
        b.push(minTime(now, values));
      } else {
        b.push(minTime(now, values));
        a.push(minTime(before, values));
      }
    });
    const row = [0.5, 0.99].map((p) => {
      const x = percentile(a, p);
      const y = percentile(b, p);
      return `p${p * 100} ${x.toFixed(0)} → ${y.toFixed(0)} (${(y / x).toFixed(2)}×)`;
    });
    console.log(`${name.padEnd(6)} ${row.join(', ')}`);
  }
}

main();
