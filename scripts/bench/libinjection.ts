#!/usr/bin/env node
// The libinjection-class detectors (@detectSQLi / @detectXSS, rules 942100 / 941100): per-call CPU of the shipped
// detectors against the reference copy of the previous implementation (scripts/bench/libinjection-reference), in
// one process and one run, interleaved rounds, median CPU time per call (timings on a shared machine are noisy:
// read the ratios). Value sets: what CRS 4 PL1 actually hands the detectors on the realistic request mix (the transformation
// steps of 942100/941100 included), then short values by kind, then the attack lists.
// Usage: node dist/js/scripts/bench/libinjection.js [requests=300] [ms-per-round=60] [rounds=7]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compileCrsDirectory } from '../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../plugins/bulwark-threat-protection/crs/engine';
import { utf8Bytes } from '../../plugins/bulwark-threat-protection/crs/model';
import { detectSqli, detectXss } from '../../plugins/bulwark-threat-protection/libinjection';
import { buildRequestModel } from '../../plugins/bulwark-threat-protection/request-model';
import { DEFAULT_LIMITS } from '../../plugins/bulwark-threat-protection/schema';
import { DEFAULT_JSON_LIMITS } from '../../plugins/lib/json-guard';
import { detectSqli as referenceSqli } from './libinjection-reference/sqli';
import { detectXss as referenceXss } from './libinjection-reference/xss';
import { realisticRequest, seeded } from './threat-traffic';

const ROOT = resolve(__dirname, '../../../..');
const FIXTURES = join(ROOT, 'spec/fixtures');
const REQUESTS = Number(process.argv[2] ?? 300);
const ROUND_MS = Number(process.argv[3] ?? 60);
const ROUNDS = Number(process.argv[4] ?? 7);

const lines = (file: string): string[] =>
  readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(utf8Bytes);

/** The values CRS 4 PL1 passes to each detector over the realistic mix, in call order (repeats kept). */
function valuesAsCalled(): { sqli: string[]; xss: string[] } {
  const sqli: string[] = [];
  const xss: string[] = [];
  const engine = new CrsEngine(compileCrsDirectory(join(FIXTURES, 'crs4/rules')), {
    paranoiaLevel: 1,
    detectors: {
      sqli: (s) => (sqli.push(s), referenceSqli(s)),
      xss: (s) => (xss.push(s), referenceXss(s)),
    },
  });
  const limits = {
    maxBodySize: DEFAULT_LIMITS.max_body_size,
    maxValueBytes: DEFAULT_LIMITS.max_value_bytes,
    maxRequestBytes: DEFAULT_LIMITS.max_request_bytes,
    maxValues: DEFAULT_LIMITS.max_values,
    json: DEFAULT_JSON_LIMITS,
  };
  const rnd = seeded(42);
  for (let i = 0; i < REQUESTS; i++) {
    const m = buildRequestModel(realisticRequest(rnd), ['user-agent', 'referer'], limits, 'refuse');
    if (m.ok) engine.evaluate(m.values);
  }
  return { sqli, xss };
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
    utf8Bytes,
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
  while (used < ms * 1000) {
    for (let i = 0; i < values.length; i++) if (fn(values[i]!)) sink++;
    calls += values.length;
    const u = process.cpuUsage(start);
    used = u.user + u.system;
  }
  if (sink < 0) console.log(sink);
  return (used * 1000) / calls;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
  const called = valuesAsCalled();
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
}

main();
