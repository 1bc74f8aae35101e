#!/usr/bin/env node
// The libinjection-class detectors (@detectSQLi / @detectXSS, rules 942100 / 941100): per-call CPU of the shipped
// detectors against the reference copy of the previous implementation (scripts/bench/libinjection-reference), in
// one process and one run, interleaved rounds, median CPU time per call (timings on a shared machine are noisy:
// read the ratios). Value sets: what CRS 4 PL1 actually hands the detectors on the realistic request mix (the transformation
// steps of 942100/941100 included), then short values by kind, then the attack lists.
// Usage: node dist/js/scripts/bench/libinjection.js [requests=300] [ms-per-round=60] [rounds=7]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compileCrsDirectory } from '../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../plugins/bulwark-threat-protection/crs/engine';
import { type RequestValue } from '../../plugins/bulwark-threat-protection/crs/model';
import { kongStringByteString } from '../../plugins/lib/kong-strings';
import { detectSqli, detectXss, LIBINJECTION_DETECTORS } from '../../plugins/bulwark-threat-protection/libinjection';
import { buildRequestModel } from '../../plugins/bulwark-threat-protection/request-model';
import { defaultScanLimits } from '../../plugins/bulwark-threat-protection/config';
import { detectSqli as referenceSqli } from './libinjection-reference/sqli';
import { detectXss as referenceXss } from './libinjection-reference/xss';
import { realisticRequest, seeded } from './threat-traffic';
import { median } from './stats';

const ROOT = resolve(__dirname, '../../../..');
const FIXTURES = join(ROOT, 'spec/fixtures');
const REQUESTS = Number(process.argv[2] ?? 300);
const ROUND_MS = Number(process.argv[3] ?? 60);
const ROUNDS = Number(process.argv[4] ?? 7);

const lines = (file: string): string[] =>
  readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(kongStringByteString);

const RULES = compileCrsDirectory(join(FIXTURES, 'crs4/rules'));
const LIMITS = defaultScanLimits();

/** The request values of `count` realistic requests (the plugin bench's mix, same seed). */
function mixValues(count: number): RequestValue[][] {
  const rnd = seeded(42);
  const out: RequestValue[][] = [];
  for (let i = 0; i < count; i++) {
    const m = buildRequestModel(realisticRequest(rnd), ['user-agent', 'referer'], LIMITS, 'refuse');
    if (m.ok) out.push(m.values);
  }
  return out;
}

/** The values CRS 4 PL1 passes to each detector over the realistic mix, in call order (repeats kept). */
function valuesAsCalled(requests: RequestValue[][]): { sqli: string[]; xss: string[] } {
  const sqli: string[] = [];
  const xss: string[] = [];
  const engine = new CrsEngine(RULES, {
    paranoiaLevel: 1,
    detectors: {
      sqli: (s) => (sqli.push(s), referenceSqli(s)),
      xss: (s) => (xss.push(s), referenceXss(s)),
    },
  });
  for (const values of requests) engine.evaluate(values);
  return { sqli, xss };
}

/**
 * The whole CRS 4 PL1 evaluation per request (as scripts/bench/threat-protection.ts times it, without the request
 * model) with the reference detectors and with the shipped ones: each request through both engines, in alternating
 * order, wall time; p50 and p99 of each.
 */
function engineAB(requests: RequestValue[][]): void {
  const before = new CrsEngine(RULES, { paranoiaLevel: 1, detectors: { sqli: referenceSqli, xss: referenceXss } });
  const after = new CrsEngine(RULES, { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS });
  const tb: number[] = [];
  const ta: number[] = [];
  const time = (engine: CrsEngine, values: RequestValue[], into: number[]) => {
    const t = performance.now();
    engine.evaluate(values);
    into.push((performance.now() - t) * 1000);
  };
  for (let round = 0; round < 3; round++) {
    tb.length = 0;
    ta.length = 0;
    requests.forEach((values, i) => {
      if (i % 2 === 0) {
        time(before, values, tb);
        time(after, values, ta);
      } else {
        time(after, values, ta);
        time(before, values, tb);
      }
    });
  }
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!;
  console.log(`\nCRS 4 PL1 evaluation per request, ${requests.length} realistic requests, µs (third pass, warm)`);
  console.log(`${''.padEnd(34)}${'p50'.padStart(10)}${'p99'.padStart(10)}`);
  console.log(
    `${'reference detectors'.padEnd(34)}${pct(tb, 0.5).toFixed(0).padStart(10)}${pct(tb, 0.99).toFixed(0).padStart(10)}`,
  );
  console.log(
    `${'shipped detectors'.padEnd(34)}${pct(ta, 0.5).toFixed(0).padStart(10)}${pct(ta, 0.99).toFixed(0).padStart(10)}`,
  );
  console.log(`${'ratio'.padEnd(34)}${`${(pct(tb, 0.5) / pct(ta, 0.5)).toFixed(2)}×`.padStart(10)}`);
}

/**
 * Considered and not shipped (the figures say why): a bounded memo of SQLi verdicts for short values, and skipping
 * values that are one plain word (never SQLi: the argument and its test are in
 * spec/plugins/bulwark-threat-protection/libinjection-equivalence.test.ts). One pass over the values as called (fresh strings, as each request brings), so a
 * memo hits only on real repeats; the memo holds values of at most 32 chars, 2,048 entries, emptied when full.
 */
function memoAndSkip(values: readonly string[]): void {
  const memo = new Map<string, string>();
  const memoized = (s: string): string | undefined => {
    if (s.length > 32) return detectSqli(s);
    let v = memo.get(s);
    if (v === undefined) {
      v = detectSqli(s) ?? '';
      if (memo.size >= 2048) memo.clear();
      memo.set(s, v);
    }
    return v === '' ? undefined : v;
  };
  const plainWord = /^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$/;
  const skipping = (s: string) => (plainWord.test(s) ? undefined : detectSqli(s));
  const onePass = (fn: (s: string) => unknown) => {
    const fresh = values.map((v) => Buffer.from(v, 'latin1').toString('latin1'));
    const start = process.cpuUsage();
    for (const v of fresh) fn(v);
    const u = process.cpuUsage(start);
    return ((u.user + u.system) * 1000) / fresh.length;
  };
  const runs: Record<string, number[]> = { plain: [], memo: [], skip: [] };
  for (let r = 0; r < ROUNDS; r++) {
    memo.clear();
    runs.memo!.push(onePass(memoized));
    runs.plain!.push(onePass(detectSqli));
    runs.skip!.push(onePass(skipping));
  }
  const [plain, memoNs, skipNs] = [median(runs.plain!), median(runs.memo!), median(runs.skip!)];
  const share = values.filter((v) => plainWord.test(v)).length / values.length;
  console.log(`\nnot shipped, detectSQLi ns per call over the values as called, one pass (median of ${ROUNDS}):`);
  console.log(`  shipped ${plain.toFixed(0)}; with a memo ${memoNs.toFixed(0)} (${(plain / memoNs).toFixed(2)}×);`);
  console.log(
    `  skipping plain words (${(100 * share).toFixed(0)} % of calls) ${skipNs.toFixed(0)} (${(plain / skipNs).toFixed(2)}×)`,
  );
}

const rnd = seeded(7);
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join('');
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
const SHORT: Record<string, string[]> = {
  'JSON keys': ['id', 'name', 'email', 'phone', 'customer', 'shipping', 'address', 'notes', 'items', 'sku', 'qty']
    .concat(['price', 'tags', 'comment', 'website', 'avatar', 'token', 'created_at', 'userId', 'page', 'sort', 'q'])
    .map((k) => `json.${k}`)
    .concat(['customer', 'created_at', 'sort', 'utm_source', 'page']),
  names: ["Jane O'Brien", 'John Smith-Jones', 'José García', 'Priya van der Berg', 'Li Union', 'Kwame Select'].map(
    kongStringByteString,
  ),
  emails: ['jane.12@example.com', 'kwame.731@example.com', 'li.5@example.org', 'priya+news@example.co.uk'],
  numbers: Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? `${digits(3)}.${digits(2)}` : digits(1 + (i % 6)))),
  UUIDs: Array.from({ length: 20 }, () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`),
  'prose (english-text)': lines('benign/english-text.txt'),
  'attacks sqli.txt': lines('attacks/sqli.txt'),
  'attacks xss.txt': lines('attacks/xss.txt'),
};

/**
 * ns per call of `fn` over `values`, looping over them for `ms` of CPU. Process CPU time (user + system), not wall
 * time: on a loaded machine the wall clock counts the time other processes had the core.
 */
function nsPerCall(fn: (s: string) => unknown, values: readonly string[], ms: number): number {
  let calls = 0;
  let sink = 0;
  const start = process.cpuUsage();
  let used = 0;
  // At least 2,000 calls between clock reads: reading the CPU clock is a system call of about a microsecond.
  const passes = Math.ceil(2000 / values.length);
  while (used < ms * 1000) {
    for (let p = 0; p < passes; p++) for (let i = 0; i < values.length; i++) if (fn(values[i]!)) sink++;
    calls += passes * values.length;
    const u = process.cpuUsage(start);
    used = u.user + u.system;
  }
  if (sink < 0) console.log(sink);
  return (used * 1000) / calls;
}

/** Old and new, interleaved round by round (load changes hit both), medians. */
function compare(old: (s: string) => unknown, now: (s: string) => unknown, values: readonly string[]) {
  const o: number[] = [];
  const n: number[] = [];
  nsPerCall(old, values, ROUND_MS);
  nsPerCall(now, values, ROUND_MS);
  for (let r = 0; r < ROUNDS; r++) {
    o.push(nsPerCall(old, values, ROUND_MS));
    n.push(nsPerCall(now, values, ROUND_MS));
  }
  return { old: median(o) / 1000, now: median(n) / 1000 };
}

function row(label: string, count: number, r: { old: number; now: number }): string {
  const f = (x: number) => x.toFixed(3).padStart(10);
  return `${label.padEnd(34)}${String(count).padStart(7)}${f(r.old)}${f(r.now)}${`${(r.old / r.now).toFixed(1)}×`.padStart(9)}`;
}

function main(): void {
  const requests = mixValues(REQUESTS);
  const called = valuesAsCalled(requests);
  const distinct = (xs: string[]) => new Set(xs).size;
  console.log(
    `CRS 4 PL1, ${REQUESTS} realistic requests: detectSQLi ${called.sqli.length} calls (${distinct(called.sqli)} ` +
      `distinct values), detectXSS ${called.xss.length} calls (${distinct(called.xss)} distinct)`,
  );
  console.log(`\nµs per call, median of ${ROUNDS} interleaved rounds of ${ROUND_MS} ms (reference = main before)`);
  console.log(
    `${'values'.padEnd(34)}${'n'.padStart(7)}${'reference'.padStart(10)}${'now'.padStart(10)}${'ratio'.padStart(9)}`,
  );
  console.log(row('detectSQLi, values as called', called.sqli.length, compare(referenceSqli, detectSqli, called.sqli)));
  console.log(row('detectXSS, values as called', called.xss.length, compare(referenceXss, detectXss, called.xss)));
  for (const [label, values] of Object.entries(SHORT)) {
    console.log(row(`detectSQLi, ${label}`, values.length, compare(referenceSqli, detectSqli, values)));
    console.log(row(`detectXSS, ${label}`, values.length, compare(referenceXss, detectXss, values)));
  }
  memoAndSkip(called.sqli);
  engineAB(requests);
}

main();
