#!/usr/bin/env node
// bulwark-threat-protection's request model (buildRequestModel: query, cookies, headers, JSON/form/multipart body
// into named values) against the reference copy of the previous builder (scripts/bench/request-model-reference), on
// the realistic mix and the 10 KB JSON bodies of threat-traffic.ts, in one run. Made for a shared machine: the two
// builders alternate request by request (which goes first alternates too) and each request's time is the minimum of
// K runs. Both must return the same model on every request, or the bench stops.
// Usage: node dist/js/scripts/bench/request-model.js [requests=2000] [K=5]
//   PROFILE=new|old [SET=mix|10kb]: only run that builder in a loop (for node --cpu-prof).
import { defaultScanLimits } from '../../plugins/bulwark-threat-protection/config';
import { buildRequestModel, type RequestSnapshot } from '../../plugins/bulwark-threat-protection/request-model';
import { referenceBuildRequestModel } from './request-model-reference/request-model';
import { jsonBodyOfSize, realisticRequest, seeded } from './threat-traffic';
import { mean, percentile } from './stats';

const N = Number(process.argv[2] ?? 2000);
const K = Number(process.argv[3] ?? 5);
const LIMITS = defaultScanLimits();
const HEADERS = ['user-agent', 'referer'];

type Builder = (r: RequestSnapshot) => unknown;
const now: Builder = (r) => buildRequestModel(r, HEADERS, LIMITS, 'refuse');
const before: Builder = (r) => referenceBuildRequestModel(r, HEADERS, LIMITS, 'refuse');

function minTime(build: Builder, r: RequestSnapshot): number {
  let best = Infinity;
  for (let k = 0; k < K; k++) {
    const t = process.hrtime.bigint();
    build(r);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1000);
  }
  return best;
}

function main(): void {
  const rnd = seeded(42);
  const sets: Record<string, RequestSnapshot[]> = {
    mix: Array.from({ length: N }, () => realisticRequest(rnd)),
    '10 KB': Array.from({ length: 100 }, () => jsonBodyOfSize(rnd, 10_240)),
  };
  const profile = process.env.PROFILE;
  if (profile !== undefined) {
    const build = profile === 'old' ? before : now;
    const t = process.hrtime.bigint();
    const only = process.env.SET; // mix or 10kb: profile that set alone
    const chosen = Object.entries(sets).filter(
      ([name]) => only === undefined || name.replace(' ', '').toLowerCase() === only,
    );
    for (let round = 0; round < 20; round++) for (const [, requests] of chosen) for (const r of requests) build(r);
    console.log(`${profile}: ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(0)} ms`);
    return;
  }
  for (const requests of Object.values(sets)) {
    for (const r of requests) {
      if (JSON.stringify(now(r)) !== JSON.stringify(before(r)))
        throw new Error(`the builders disagree on ${r.method} ${r.pathWithQuery}`);
    }
  }
  // Warm both up before timing.
  for (let round = 0; round < 3; round++)
    for (const requests of Object.values(sets))
      for (const r of requests) {
        now(r);
        before(r);
      }
  console.log(
    `buildRequestModel per request (µs, min of ${K} runs, builders alternating), same model on every request`,
  );
  for (const [name, requests] of Object.entries(sets)) {
    const a: number[] = [];
    const b: number[] = [];
    requests.forEach((r, i) => {
      if (i % 2 === 0) {
        a.push(minTime(before, r));
        b.push(minTime(now, r));
      } else {
        b.push(minTime(now, r));
        a.push(minTime(before, r));
      }
    });
    const row = (['mean', 0.5, 0.99] as const).map((p) => {
      const x = p === 'mean' ? mean(a) : percentile(a, p);
      const y = p === 'mean' ? mean(b) : percentile(b, p);
      const label = p === 'mean' ? 'mean' : `p${p * 100}`;
      return `${label} ${x.toFixed(1)} → ${y.toFixed(1)} (${(y / x).toFixed(2)}×)`;
    });
    console.log(`${name.padEnd(6)} ${row.join(', ')}`);
  }
  // Throughput, as the lead measured it: whole passes over the set (garbage collection included), the two
  // builders' passes alternating; the best pass of each.
  console.log(`whole passes over the set (µs per request, best of ${K} passes each, passes alternating)`);
  for (const [name, requests] of Object.entries(sets)) {
    let a = Infinity;
    let b = Infinity;
    for (let k = 0; k < K; k++) {
      a = Math.min(a, pass(before, requests));
      b = Math.min(b, pass(now, requests));
    }
    console.log(`${name.padEnd(6)} ${a.toFixed(1)} → ${b.toFixed(1)} (${(b / a).toFixed(2)}×)`);
  }
}

function pass(build: Builder, requests: RequestSnapshot[]): number {
  const t = process.hrtime.bigint();
  for (const r of requests) build(r);
  return Number(process.hrtime.bigint() - t) / 1000 / requests.length;
}

main();
