#!/usr/bin/env node
// bulwark-threat-protection side by side, in one run (timings on a shared machine are noisy; read the ratios):
// Bulwark (CRS 4.28.0 and, if installed, Debian's CRS 3.3, PL1, RE2 sets) against a Kong-EE-style regex set (the
// injection-protection plugin's documented patterns for sql, js, ssi and java_exception, on V8 RegExp, case-
// insensitive) on the same requests: per-request CPU p50/p99 over a realistic mix (request model + evaluation,
// warm), a 10 KB JSON body, and detection / false positives over the same corpora as the detection test.
// Bulwark runs as shipped (with the libinjection-class detectors behind @detectSQLi/@detectXSS) and, for the
// before/after comparison, CRS 4 without them; the detectors alone are a row of their own. libinjection through
// its C library is not measured: no binding is installed here (no native builds).
// Usage: node dist/js/scripts/bench/threat-protection.js [crs4-rules-dir] [requests=2000]
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compileCrsDirectory } from '../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../plugins/bulwark-threat-protection/crs/engine';
import { detectSqli, detectXss, LIBINJECTION_DETECTORS } from '../../plugins/bulwark-threat-protection/libinjection';
import { type RequestValue, utf8Bytes } from '../../plugins/bulwark-threat-protection/crs/model';
import { buildRequestModel, type RequestSnapshot } from '../../plugins/bulwark-threat-protection/request-model';
import { DEFAULT_LIMITS } from '../../plugins/bulwark-threat-protection/schema';
import { DEFAULT_JSON_LIMITS } from '../../plugins/lib/json-guard';
import { jsonBodyOfSize, realisticRequest, seeded } from './threat-traffic';

const ROOT = resolve(__dirname, '../../../..');
const CRS4 = process.argv[2] ?? join(ROOT, 'spec/fixtures/crs4/rules');
const N = Number(process.argv[3] ?? 2000);
const FIXTURES = join(ROOT, 'spec/fixtures');
const LIMITS = {
  maxBodySize: DEFAULT_LIMITS.max_body_size,
  maxValueBytes: DEFAULT_LIMITS.max_value_bytes,
  maxRequestBytes: DEFAULT_LIMITS.max_request_bytes,
  maxValues: DEFAULT_LIMITS.max_values,
  json: DEFAULT_JSON_LIMITS,
};

/** Kong EE injection-protection's documented patterns (the Apigee RegularExpressionProtection set it adopts). */
const KONG_EE = [
  /[\s]*((delete)|(exec)|(drop\s*table)|(insert)|(shutdown)|(update)|(\bor\b))/i, // sql
  /<\s*script\b[^>]*>[^<]+<\s*\/\s*script\s*>/i, // js
  /<!--#(include|exec|echo|config|printenv)\s+.*/i, // ssi
  /.*?Exception in thread.*/i, // java_exception
];

type Detector = { name: string; blocks(values: RequestValue[]): boolean };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function timePerRequest(d: Detector, requests: RequestSnapshot[]): { p50: number; p99: number } {
  const times: number[] = [];
  for (const r of requests) {
    const t = performance.now();
    const m = buildRequestModel(r, ['user-agent', 'referer'], LIMITS, 'refuse');
    if (m.ok) d.blocks(m.values);
    times.push((performance.now() - t) * 1000);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

function lines(file: string): string[] {
  return readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

function main(): void {
  const detectors: Detector[] = [];
  for (const [label, dir] of [
    ['Bulwark CRS 4', CRS4],
    ['Bulwark CRS 3.3', '/usr/share/modsecurity-crs/rules'],
  ] as const) {
    if (!existsSync(dir)) continue;
    const t = performance.now();
    const ruleSet = compileCrsDirectory(dir);
    const engine = new CrsEngine(ruleSet, { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS });
    console.log(
      `${label}: compiled in ${((performance.now() - t) / 1000).toFixed(1)} s (${engine.activeRules.length} PL1 rules)`,
    );
    detectors.push({ name: label, blocks: (v) => engine.evaluate(v).score >= 5 });
    if (label === 'Bulwark CRS 4') {
      const without = new CrsEngine(ruleSet, { paranoiaLevel: 1 });
      detectors.push({ name: 'CRS 4 w/o detectors', blocks: (v) => without.evaluate(v).score >= 5 });
    }
  }
  detectors.push({
    name: 'libinjection-class only',
    blocks: (v) => v.some((x) => detectSqli(x.value) !== undefined || detectXss(x.value)),
  });
  detectors.push({
    name: 'Kong-EE-style regexes',
    blocks: (v) => v.some((x) => KONG_EE.some((re) => re.test(x.value))),
  });

  const rnd = seeded(42);
  const mix = Array.from({ length: N }, () => realisticRequest(rnd));
  const big = Array.from({ length: 50 }, () => jsonBodyOfSize(rnd, 10_240));
  console.log(`\nper-request CPU (µs), ${N} realistic requests (warm: one pass first) and 50 × 10 KB JSON bodies`);
  const rows: string[][] = [['detector', 'mix p50', 'mix p99', '10KB p50', '10KB p99', 'p50 / EE']];
  const measured = detectors.map((d) => {
    timePerRequest(d, mix);
    timePerRequest(d, big);
    return { d, a: timePerRequest(d, mix), b: timePerRequest(d, big) };
  });
  const ee = measured.find((m) => m.d.name === 'Kong-EE-style regexes')!.a.p50;
  for (const { d, a, b } of measured) {
    const ratio = (a.p50 / ee).toFixed(1);
    rows.push([d.name, a.p50.toFixed(0), a.p99.toFixed(0), b.p50.toFixed(0), b.p99.toFixed(0), `${ratio}×`]);
  }
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(24) : c.padStart(9))).join(''));

  console.log('\ndetection (payload as one query argument) and false positives');
  const cats = ['sqli', 'xss', 'traversal', 'cmdi', 'nosqli'];
  const english = lines('benign/english-text.txt');
  console.log(
    ['detector'.padEnd(24), ...cats.map((c) => c.padStart(10)), 'API FP'.padStart(9), 'english FP'.padStart(11)].join(
      '',
    ),
  );
  for (const d of detectors) {
    const cells = cats.map((c) => {
      const p = lines(`attacks/${c}.txt`);
      const hit = p.filter((x) => d.blocks([{ collection: 'ARGS_GET', name: 'q', value: utf8Bytes(x) }])).length;
      return `${((100 * hit) / p.length).toFixed(1)} %`.padStart(10);
    });
    const fp = mix.filter((r) => {
      const m = buildRequestModel(r, ['user-agent', 'referer'], LIMITS, 'refuse');
      return m.ok && d.blocks(m.values);
    }).length;
    const efp = english.filter((s) =>
      d.blocks([{ collection: 'ARGS_POST', name: 'text', value: utf8Bytes(s) }]),
    ).length;
    console.log(
      [
        d.name.padEnd(24),
        ...cells,
        `${((100 * fp) / mix.length).toFixed(1)} %`.padStart(9),
        `${((100 * efp) / english.length).toFixed(1)} %`.padStart(11),
      ].join(''),
    );
  }
}

main();
