#!/usr/bin/env node
// bulwark-threat-protection's engine against another build's, evaluation only (CRS 4 rules at PL1 with the
// detectors, the realistic mix and 10 KB JSON bodies of threat-traffic.ts), made for a shared, loaded machine: the
// two engines alternate request by request (which goes first alternates too), and each request's time is the
// minimum of K runs, which filters out the time slices the process lost to others. Both engines must return the
// same evaluation (score, rule ids, locations) on every request, or the bench stops. The engine's verdict cache
// (crs/engine.ts verdictCache) answers values seen in earlier requests, so each set is timed cold (a fresh engine,
// one run per request), steady (one run per request never seen, after other traffic) and seen (min of K). Last, both
// builds warm: never-seen requests in blocks of 200 per engine (the CPU caches hold one engine's tables per block).
// Usage: BASELINE_DIST=<a copy of dist/ from another commit, with a node_modules link next to it>
//   node dist/js/scripts/bench/threat-engine-ab.js [requests=2000] [K=3] [warm=20000]
import { join, resolve } from 'node:path';
import { compileCrsDirectory } from '../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../plugins/bulwark-threat-protection/crs/engine';
import type { RequestValue } from '../../plugins/bulwark-threat-protection/crs/model';
import { LIBINJECTION_DETECTORS } from '../../plugins/bulwark-threat-protection/libinjection';
import { defaultScanLimits } from '../../plugins/bulwark-threat-protection/config';
import { buildRequestModel } from '../../plugins/bulwark-threat-protection/request-model';
import { jsonBodyOfSize, realisticRequest, seeded } from './threat-traffic';
import { percentile } from './stats';
import { threatBuild } from './threat-build';

const ROOT = resolve(__dirname, '../../../..');
const RULES = join(ROOT, 'spec/fixtures/crs4/rules');
const N = Number(process.argv[2] ?? 2000);
const K = Number(process.argv[3] ?? 3);
/** Requests that warm each build before the sustained row. */
const WARM = Number(process.argv[4] ?? 20_000);
const LIMITS = defaultScanLimits();

interface Evaluator {
  evaluate(values: RequestValue[]): unknown;
}

/** Engines of another build, on one compile of the rules (a build without a verdict cache ignores the option). */
function baselineEngines(dist: string): (verdictCache?: number) => Evaluator {
  const build = threatBuild(dist);
  const ruleSet = build.compile(RULES);
  return (verdictCache) => build.engine(ruleSet, { verdictCache });
}

/** The evaluation and the least time (µs) of `k` runs. */
function timed(e: Evaluator, values: RequestValue[], k: number): [unknown, number] {
  let best = Infinity;
  let result: unknown;
  for (let i = 0; i < k; i++) {
    const t = process.hrtime.bigint();
    result = e.evaluate(values);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1000);
  }
  return [result, best];
}

/**
 * Times `requests` on both engines, alternating (which goes first alternates too), `k` runs each; stops when they
 * disagree. Prints p50/p99 before → now and, for an engine with a verdict cache, its hit rate over these requests.
 */
function compare(label: string, before: Evaluator, now: CrsEngine, requests: RequestValue[][], k: number): void {
  const a: number[] = [];
  const b: number[] = [];
  let lookups = 0;
  let hits = 0;
  requests.forEach((values, i) => {
    const stats = { ...now.verdictCacheStats };
    let x: [unknown, number];
    let y: [unknown, number];
    if (i % 2 === 0) {
      x = timed(before, values, k);
      y = timed(now, values, k);
    } else {
      y = timed(now, values, k);
      x = timed(before, values, k);
    }
    if (JSON.stringify(x[0]) !== JSON.stringify(y[0]))
      throw new Error(`the engines disagree on ${JSON.stringify(values).slice(0, 200)}`);
    a.push(x[1]);
    b.push(y[1]);
    lookups += now.verdictCacheStats.lookups - stats.lookups;
    hits += now.verdictCacheStats.hits - stats.hits;
  });
  const row = [0.5, 0.99].map((p) => {
    const x = percentile(a, p);
    const y = percentile(b, p);
    return `p${p * 100} ${x.toFixed(0)} → ${y.toFixed(0)} (${(y / x).toFixed(2)}×)`;
  });
  const rate = lookups === 0 ? '' : `, verdict cache hits ${((100 * hits) / lookups).toFixed(1)} % of ${lookups}`;
  console.log(`${label.padEnd(44)} ${row.join(', ')}${rate}`);
}

/**
 * Both engines warm: blocks of `block` requests alternate between them (which goes first alternates too), so each
 * engine runs back to back within a block, its tables in the CPU caches, as in the "alone" rows, while both builds
 * still share the machine's load. One run per request. Prints p50/p99 before → now.
 */
function compareInBlocks(
  label: string,
  before: Evaluator,
  now: Evaluator,
  requests: RequestValue[][],
  block: number,
): void {
  const a: number[] = [];
  const b: number[] = [];
  for (let start = 0, k = 0; start < requests.length; start += block, k++) {
    const slice = requests.slice(start, start + block);
    const run = (e: Evaluator, out: number[]): void => {
      for (const values of slice) out.push(timed(e, values, 1)[1]);
    };
    if (k % 2 === 0) {
      run(before, a);
      run(now, b);
    } else {
      run(now, b);
      run(before, a);
    }
  }
  const row = [0.5, 0.99].map((p) => {
    const x = percentile(a, p);
    const y = percentile(b, p);
    return `p${p * 100} ${x.toFixed(0)} → ${y.toFixed(0)} (${(y / x).toFixed(2)}×)`;
  });
  console.log(`${label.padEnd(44)} ${row.join(', ')}`);
}

function main(): void {
  const dist = process.env.BASELINE_DIST;
  if (dist === undefined) throw new Error('set BASELINE_DIST to the dist/ of the build to compare with');
  const baseline = baselineEngines(dist);
  const ruleSet = compileCrsDirectory(RULES);
  const engine = (verdictCache?: number): CrsEngine =>
    new CrsEngine(ruleSet, { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS, verdictCache });
  const model = (r: Parameters<typeof buildRequestModel>[0]): RequestValue[] => {
    const m = buildRequestModel(r, ['user-agent', 'referer'], LIMITS, 'refuse');
    return m.ok ? m.values : [];
  };
  const mix = (seed: number): RequestValue[][] => {
    const rnd = seeded(seed);
    return Array.from({ length: N }, () => model(realisticRequest(rnd)));
  };
  const bodies = (seed: number): RequestValue[][] => {
    const rnd = seeded(seed);
    return Array.from({ length: 50 }, () => model(jsonBodyOfSize(rnd, 10_240)));
  };
  // Both builds' code and RE2 DFAs warmed on other requests (throwaway engines: their verdict caches are dropped).
  const warmBefore = baseline();
  const warmUp = engine();
  for (const values of [...mix(7).slice(0, 500), ...bodies(7).slice(0, 10)]) {
    warmBefore.evaluate(values);
    warmUp.evaluate(values);
  }
  console.log('per-request evaluation (µs), engines alternating, same evaluations on every request');
  // The engine's verdict cache makes a request it has seen cheap: "cold" is a fresh engine's single pass over
  // requests it never saw, "steady" a single pass over never-seen requests after N others of the same traffic, and
  // "seen" the minimum of K runs over requests already evaluated (what this bench measured before the cache);
  // "every lookup misses" a cache of 2 entries (the cache's cost when it never answers: keys built, looked up, stored).
  // Each row pairs engines of both builds in the same state (fresh, or having seen the same requests); a build
  // without a verdict cache is compared as it is.
  const missingBefore = baseline(2);
  const missing = engine(2);
  compare(`mix, every lookup misses (2 entries, min of ${K})`, missingBefore, missing, mix(41).slice(0, 500), K);
  compare(`10 KB, every lookup misses (2 entries, min of ${K})`, missingBefore, missing, bodies(41), K);
  const coldBefore = baseline();
  const cold = engine();
  compare(`mix, cold (fresh engine, ${N} new requests)`, coldBefore, cold, mix(42), 1);
  compare('mix, steady (then other new requests)', coldBefore, cold, mix(43), 1);
  compare(`mix, seen (the same again, min of ${K})`, coldBefore, cold, mix(43), K);
  const coldBodiesBefore = baseline();
  const coldBodies = engine();
  compare('10 KB, cold (fresh engine, 50 new bodies)', coldBodiesBefore, coldBodies, bodies(42), 1);
  compare('10 KB, after the mix (the mix engine)', coldBefore, cold, bodies(43), 1);
  compare(`10 KB, seen (the same again, min of ${K})`, coldBefore, cold, bodies(43), K);
  // Alternating two engines evicts each one's tables from the CPU caches between its requests; this build alone,
  // back to back, is the warm case of sustained traffic (the plugin-server bench, one request at a time with idle
  // gaps, is the cold case: README, "CPU per request: where it stands").
  const alone = engine();
  for (const [label, requests] of [
    [`mix, this build alone (fresh engine, ${N} new requests)`, mix(44)],
    ['mix, this build alone, steady (other new requests)', mix(45)],
    ['10 KB, this build alone (fresh engine, 50 new bodies)', bodies(44)],
  ] as const) {
    const engineFor = label.startsWith('10 KB') ? engine() : alone;
    const times = requests.map((values) => timed(engineFor, values, 1)[1]);
    console.log(
      `${label.padEnd(44)} p50 ${percentile(times, 0.5).toFixed(0)}, p99 ${percentile(times, 0.99).toFixed(0)}`,
    );
  }
  // The same warm case for both builds side by side: each engine warmed on other traffic first (its verdict cache
  // too), then the never-seen requests in blocks of 200 per engine.
  const blocksBefore = baseline();
  const blocksNow = engine();
  for (const values of mix(46)) {
    blocksBefore.evaluate(values);
    blocksNow.evaluate(values);
  }
  compareInBlocks(`mix, both builds in blocks of 200 (${N} new requests)`, blocksBefore, blocksNow, mix(47), 200);
  // Sustained traffic: after WARM requests in all the RE2 DFAs have found most of the transitions this traffic takes
  // (after 2,000 they still build states ~10 % of the time).
  for (let i = 1; i < WARM / N; i++) {
    for (const values of mix(47 + i)) {
      blocksBefore.evaluate(values);
      blocksNow.evaluate(values);
    }
  }
  compareInBlocks(`mix, the same after ${WARM} requests`, blocksBefore, blocksNow, mix(48 + Math.ceil(WARM / N)), 200);
}

main();
