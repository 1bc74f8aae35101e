#!/usr/bin/env node
// bulwark-threat-protection instance start, side by side in one run (timings on a shared machine are noisy; read
// the ratios). Kong's StartInstance is the plugin's constructor; Kong skips a plugin whose start takes over 10 s, and
// everything the constructor does holds the plugin server's one event loop.
//   before: the rules compiled in the constructor (compileCrsDirectory + new CrsEngine: what instance start did);
//   after:  the constructor as shipped (config checked, content key hashed, the build posted to the engine thread,
//           plugins/bulwark-threat-protection/engine-load.ts, which compiles in slices of its own).
// Each against a trivial plugin's start (bulwark-response-headers), with a CRS copy no earlier start compiled (the
// process-wide cache by content cannot help), and the longest stall of this (the main) event loop during the build
// (a 1 ms timer's worst lateness) before and after; `slice` is the engine thread's longest build step.
// Usage: node dist/js/scripts/bench/threat-start.js [crs4-rules-dir] [rounds=3]
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Plugin as ResponseHeaders } from '../../plugins/bulwark-response-headers';
import { Plugin as ThreatProtection } from '../../plugins/bulwark-threat-protection';
import { compileCrsDirectory } from '../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../plugins/bulwark-threat-protection/crs/engine';
import { LIBINJECTION_DETECTORS } from '../../plugins/bulwark-threat-protection/libinjection';

const ROOT = resolve(__dirname, '../../../..');
const CRS4 = process.argv[2] ?? join(ROOT, 'spec/fixtures/crs4/rules');
const ROUNDS = Number(process.argv[3] ?? 3);

let copies = 0;
function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-bench-crs-'));
  cpSync(CRS4, dir, { recursive: true });
  appendFileSync(join(dir, 'REQUEST-942-APPLICATION-ATTACK-SQLI.conf'), `\n# bench ${process.pid} ${copies++}\n`);
  return dir;
}

function trivialStartMs(): number {
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    new ResponseHeaders({});
    samples.push(performance.now() - t);
  }
  return samples.sort((a, b) => a - b)[100]!;
}

/** Longest event-loop stall (ms) while `run` goes on. */
async function stallDuring(run: () => Promise<unknown>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await run();
  h.disable();
  return h.max / 1e6;
}

async function main(): Promise<void> {
  const trivial = trivialStartMs();
  const rows: string[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const before = freshCopy();
    let beforeStart = 0;
    const beforeStall = await stallDuring(async () => {
      await new Promise((r) => setTimeout(r, 5));
      const t = performance.now();
      const ruleSet = compileCrsDirectory(before);
      new CrsEngine(ruleSet, { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS });
      beforeStart = performance.now() - t;
      await new Promise((r) => setTimeout(r, 5));
    });
    const after = freshCopy();
    let afterStart = 0;
    let ready = 0;
    let longestSlice = 0;
    const afterStall = await stallDuring(async () => {
      const t = performance.now();
      const { conf } = new ThreatProtection({ crs_path: after });
      afterStart = performance.now() - t;
      await conf.rules.ready;
      ready = performance.now() - t;
      longestSlice = conf.rules.stats.longestMs;
    });
    rmSync(before, { recursive: true, force: true });
    rmSync(after, { recursive: true, force: true });
    rows.push([
      String(round + 1),
      `${beforeStart.toFixed(0)} ms = ${(beforeStart / trivial).toFixed(0)}x`,
      `${afterStart.toFixed(1)} ms = ${(afterStart / trivial).toFixed(0)}x`,
      `${(beforeStart / afterStart).toFixed(0)}x`,
      `${ready.toFixed(0)} ms`,
      `${beforeStall.toFixed(0)} ms`,
      `${afterStall.toFixed(1)} ms (slice ${longestSlice.toFixed(1)} ms)`,
      `${(beforeStall / afterStall).toFixed(0)}x`,
    ]);
  }
  console.log(`trivial plugin start (bulwark-response-headers, median of 200): ${(trivial * 1000).toFixed(0)} µs`);
  console.log(`CRS: ${CRS4} (fresh copy per start; default families, PL1)`);
  const head = [
    'round',
    'start before (vs trivial)',
    'start after (vs trivial)',
    'before/after',
    'rules ready after',
    'longest stall before',
    'longest stall after',
    'before/after',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join(' | '));
}

void main();
