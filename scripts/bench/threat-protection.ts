#!/usr/bin/env node
// bulwark-threat-protection side by side, in one run (timings on a shared machine are noisy; read the ratios):
// Bulwark (CRS 4.28.0 and, if installed, Debian's CRS 3.3, PL1, RE2 sets) against a Kong-EE-style regex set (the
// injection-protection plugin's documented patterns for sql, js, ssi and java_exception, on V8 RegExp, case-
// insensitive) on the same requests: per-request CPU p50/p99 over a realistic mix (request model + evaluation,
// warm), a 10 KB JSON body, and detection / false positives over the same corpora as the detection test.
// Bulwark runs as shipped (with the libinjection-class detectors behind @detectSQLi/@detectXSS) and, for the
// before/after comparison, CRS 4 without them; the detectors alone are a row of their own. Then the C references
// on the same requests (native-references.ts, built with gcc against Debian's libmodsecurity3 when present):
// libinjection's C library against the detectors, verdict by verdict, and ModSecurity 3 with the same CRS 4 rules.
// Usage: node dist/js/scripts/bench/threat-protection.js [crs4-rules-dir] [requests=2000]
// A/B against another build, same run: BASELINE_DIST=<a copy of dist/ from another commit> (e.g. main's,
// a copy of its dist/ with a node_modules link next to it) adds a "CRS 4 baseline" row: that build's engine
// on the same rules and requests. Timings are the median over ROUNDS (default 3) rounds, the detectors interleaved.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compileCrsDirectory } from '../../plugins/bulwark-threat-protection/crs/compile';
import { PhraseMatcher } from '../../plugins/bulwark-threat-protection/crs/aho-corasick';
import { CrsEngine } from '../../plugins/bulwark-threat-protection/crs/engine';
import { detectSqli, detectXss, LIBINJECTION_DETECTORS } from '../../plugins/bulwark-threat-protection/libinjection';
import { type RequestValue } from '../../plugins/bulwark-threat-protection/crs/model';
import { kongStringByteString } from '../../plugins/lib/kong-strings';
import { buildRequestModel, type RequestSnapshot } from '../../plugins/bulwark-threat-protection/request-model';
import { defaultScanLimits } from '../../plugins/bulwark-threat-protection/config';
import { jsonBodyOfSize, realisticRequest, seeded } from './threat-traffic';
import { libinjectionC, modSecurityC, type NativeTimings } from './native-references';
import { median, percentiles, type Percentiles } from './stats';

const ROOT = resolve(__dirname, '../../../..');
const CRS4 = process.argv[2] ?? join(ROOT, 'spec/fixtures/crs4/rules');
const N = Number(process.argv[3] ?? 2000);
const FIXTURES = join(ROOT, 'spec/fixtures');
const LIMITS = defaultScanLimits();

/** Kong EE injection-protection's documented patterns (the Apigee RegularExpressionProtection set it adopts). */
const KONG_EE = [
  /[\s]*((delete)|(exec)|(drop\s*table)|(insert)|(shutdown)|(update)|(\bor\b))/i, // sql
  /<\s*script\b[^>]*>[^<]+<\s*\/\s*script\s*>/i, // js
  /<!--#(include|exec|echo|config|printenv)\s+.*/i, // ssi
  /.*?Exception in thread.*/i, // java_exception
];

type Detector = { name: string; blocks(values: RequestValue[]): boolean };

/** The median p50 and the median p99 of several rounds' percentiles. */
const medianOf = (rounds: Percentiles[]): Percentiles => ({
  p50: median(rounds.map((p) => p.p50)),
  p99: median(rounds.map((p) => p.p99)),
});

function timePerRequest(d: Detector, requests: RequestSnapshot[]): Percentiles {
  const times: number[] = [];
  for (const r of requests) {
    const t = performance.now();
    const m = buildRequestModel(r, ['user-agent', 'referer'], LIMITS, 'refuse');
    if (m.ok) d.blocks(m.values);
    times.push((performance.now() - t) * 1000);
  }
  return percentiles(times);
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
      // Before/after for the literal prefilter (crs/literal-prefilter.ts), same rules, same run.
      const unfiltered = new CrsEngine(ruleSet, {
        paranoiaLevel: 1,
        detectors: LIBINJECTION_DETECTORS,
        literalPrefilter: false,
      });
      detectors.push({ name: 'CRS 4 no lit. prefilter', blocks: (v) => unfiltered.evaluate(v).score >= 5 });
      const without = new CrsEngine(ruleSet, { paranoiaLevel: 1 });
      detectors.push({ name: 'CRS 4 w/o detectors', blocks: (v) => without.evaluate(v).score >= 5 });
      const baselineDist = process.env.BASELINE_DIST;
      if (baselineDist !== undefined) {
        const baseline = loadBaseline(baselineDist, dir);
        detectors.splice(1, 0, { name: 'CRS 4 baseline', blocks: (v) => baseline.evaluate(v).score >= 5 });
      }
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
  for (const d of detectors) {
    timePerRequest(d, mix);
    timePerRequest(d, big);
  }
  const rounds = Number(process.env.ROUNDS ?? 3);
  const runs = detectors.map(() => [] as { a: Percentiles; b: Percentiles }[]);
  for (let round = 0; round < rounds; round++) {
    // Interleaved, the order reversed every other round: machine load drifts alike over every detector.
    const order = detectors.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order)
      runs[i]!.push({ a: timePerRequest(detectors[i]!, mix), b: timePerRequest(detectors[i]!, big) });
  }
  const measured = detectors.map((d, i) => ({
    d,
    a: medianOf(runs[i]!.map((r) => r.a)),
    b: medianOf(runs[i]!.map((r) => r.b)),
  }));
  const ee = measured.find((m) => m.d.name === 'Kong-EE-style regexes')!.a.p50;
  const base = measured.find((m) => m.d.name === 'CRS 4 baseline');
  const now = measured.find((m) => m.d.name === 'Bulwark CRS 4');
  if (base !== undefined && now !== undefined) {
    console.log(
      `Bulwark CRS 4 / baseline (same run): mix p50 ${(now.a.p50 / base.a.p50).toFixed(2)}×, ` +
        `mix p99 ${(now.a.p99 / base.a.p99).toFixed(2)}×, 10 KB p50 ${(now.b.p50 / base.b.p50).toFixed(2)}×, ` +
        `10 KB p99 ${(now.b.p99 / base.b.p99).toFixed(2)}×`,
    );
  }
  for (const { d, a, b } of measured) {
    const ratio = (a.p50 / ee).toFixed(1);
    rows.push([d.name, a.p50.toFixed(0), a.p99.toFixed(0), b.p50.toFixed(0), b.p99.toFixed(0), `${ratio}×`]);
  }
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(24) : c.padStart(9))).join(''));
  nativeComparison(mix, big, rounds, CRS4, now);

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
      const hit = p.filter((x) =>
        d.blocks([{ collection: 'ARGS_GET', name: 'q', value: kongStringByteString(x) }]),
      ).length;
      return `${((100 * hit) / p.length).toFixed(1)} %`.padStart(10);
    });
    const fp = mix.filter((r) => {
      const m = buildRequestModel(r, ['user-agent', 'referer'], LIMITS, 'refuse');
      return m.ok && d.blocks(m.values);
    }).length;
    const efp = english.filter((s) =>
      d.blocks([{ collection: 'ARGS_POST', name: 'text', value: kongStringByteString(s) }]),
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
  phraseMatcherAB(mix);
}

/**
 * The @pm automaton before (a Map of trie edges, failure links walked per byte) and now (crs/aho-corasick.ts: a dense
 * table with failure links folded in), on CRS 4's PL1 phrase lists and the values of the realistic mix, same run.
 */
class MapEdgesPhraseMatcher {
  private readonly edges = new Map<number, number>();
  private readonly fail: number[] = [0];
  private readonly output: number[] = [-1];
  constructor(phrases: readonly string[]) {
    const children: number[][] = [[]];
    phrases.forEach((p, index) => {
      let state = 0;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i) & 0xff;
        let to = this.edges.get(state * 256 + c);
        if (to === undefined) {
          to = this.output.length;
          this.output.push(-1);
          this.fail.push(0);
          children.push([]);
          children[state]!.push(c);
          this.edges.set(state * 256 + c, to);
        }
        state = to;
      }
      if (this.output[state] === -1) this.output[state] = index;
    });
    const queue = children[0]!.map((c) => this.edges.get(c)!);
    for (let q = 0; q < queue.length; q++) {
      const state = queue[q]!;
      for (const c of children[state]!) {
        const to = this.edges.get(state * 256 + c)!;
        let f = this.fail[state]!;
        while (f !== 0 && !this.edges.has(f * 256 + c)) f = this.fail[f]!;
        const target = this.edges.get(f * 256 + c);
        this.fail[to] = target !== undefined && target !== to ? target : 0;
        if (this.output[to] === -1) this.output[to] = this.output[this.fail[to]!]!;
        queue.push(to);
      }
    }
  }
  find(s: string): number {
    let state = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i) & 0xff;
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      let to = this.edges.get(state * 256 + c);
      while (to === undefined && state !== 0) {
        state = this.fail[state]!;
        to = this.edges.get(state * 256 + c);
      }
      state = to ?? 0;
      if (this.output[state] !== -1) return this.output[state]!;
    }
    return -1;
  }
}

/** The CRS engine of another build (BASELINE_DIST: its dist/ directory), compiled from the same rules. */
/** p50 and p99 of each round, then the median over rounds (as the table above does). */
function medianOfRounds(rounds: number[][]): Percentiles {
  return medianOf(rounds.map(percentiles));
}

const cells = (p: Percentiles) => `p50 ${p.p50.toFixed(1)}, p99 ${p.p99.toFixed(1)}`;

/**
 * The C references on the same requests (scripts/bench/native-references.ts): libinjection's C library against the
 * libinjection-class detectors on the same values (the request model's, detectors alone, no model build on either
 * side), verdict by verdict; and ModSecurity 3 with the same CRS 4 rule files against this engine, whole requests
 * (ModSecurity parses the request and the JSON body itself; the engine's row includes the request model). C rows are
 * thread CPU time, the engine's rows wall time on an otherwise idle process.
 */
function nativeComparison(
  mix: RequestSnapshot[],
  big: RequestSnapshot[],
  rounds: number,
  crs4: string,
  bulwark: { a: Percentiles; b: Percentiles } | undefined,
): void {
  console.log("\nC references, same requests, µs per request (median over rounds of each round's p50/p99)");
  const modelValues = (rs: RequestSnapshot[]) =>
    rs.map((r) => {
      const m = buildRequestModel(r, ['user-agent', 'referer'], LIMITS, 'refuse');
      return m.ok ? m.values.map((v) => v.value) : [];
    });
  for (const [label, requests] of [
    ['mix', mix],
    ['10 KB', big],
  ] as const) {
    const values = modelValues(requests);
    const c = libinjectionC(values, rounds);
    if ('error' in c) {
      console.log(`libinjection C: not measured (${c.error})`);
      break;
    }
    const port: number[][] = [];
    for (let round = 0; round < rounds + 1; round++) {
      const times = values.map((vs) => {
        const t = performance.now();
        for (const v of vs) {
          detectSqli(v);
          detectXss(v);
        }
        return (performance.now() - t) * 1000;
      });
      if (round > 0) port.push(times); // the first round warms the JIT
    }
    let calls = 0;
    let differ = 0;
    values.forEach((vs, i) =>
      vs.forEach((v, j) => {
        calls++;
        const ref = c.verdicts[i]![j]!;
        if ((detectSqli(v) !== undefined) !== ref.sqli || detectXss(v) !== ref.xss) differ++;
      }),
    );
    const ts = medianOfRounds(port);
    const cc = medianOfRounds(c.rounds);
    console.log(
      `${label.padEnd(6)} detectors alone: TypeScript port ${cells(ts)}; libinjection C ${cells(cc)}; ` +
        `port / C p50 ${(ts.p50 / cc.p50).toFixed(2)}×; verdicts differ on ${differ} of ${calls} values`,
    );
  }
  const modsec: [string, NativeTimings | { error: string }][] = [
    ['mix', modSecurityC(crs4, mix, rounds)],
    ['10 KB', modSecurityC(crs4, big, rounds)],
  ];
  for (const [label, m] of modsec) {
    if ('error' in m) {
      console.log(`ModSecurity: not measured (${m.error})`);
      break;
    }
    const ms = medianOfRounds(m.rounds);
    const ours = bulwark === undefined ? undefined : label === 'mix' ? bulwark.a : bulwark.b;
    console.log(
      `${label.padEnd(6)} whole request, CRS 4 PL1: ModSecurity 3 (C) ${cells(ms)}` +
        (ours === undefined
          ? ''
          : `; Bulwark ${cells(ours)}; ModSecurity / Bulwark p50 ${(ms.p50 / ours.p50).toFixed(1)}×, p99 ${(ms.p99 / ours.p99).toFixed(1)}×`),
    );
  }
}

function loadBaseline(dist: string, rulesDir: string): { evaluate(values: RequestValue[]): { score: number } } {
  const root = resolve(dist, 'js/plugins/bulwark-threat-protection');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- another build, chosen at run time
  const compile = require(join(root, 'crs/compile')) as { compileCrsDirectory: typeof compileCrsDirectory };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const engine = require(join(root, 'crs/engine')) as { CrsEngine: typeof CrsEngine };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lib = require(join(root, 'libinjection')) as { LIBINJECTION_DETECTORS: typeof LIBINJECTION_DETECTORS };
  return new engine.CrsEngine(compile.compileCrsDirectory(rulesDir), {
    paranoiaLevel: 1,
    detectors: lib.LIBINJECTION_DETECTORS,
  });
}

function phraseMatcherAB(mix: RequestSnapshot[]): void {
  const lists: string[][] = [];
  for (const rule of compileCrsDirectory(CRS4).rules) {
    if (rule.paranoiaLevel === 1 && rule.operator.kind === 'pm') lists.push([...rule.operator.matcher.phrases]);
  }
  const now = lists.map((l) => new PhraseMatcher(l));
  const before = lists.map((l) => new MapEdgesPhraseMatcher(l));
  const values = mix.flatMap((r) => {
    const m = buildRequestModel(r, ['user-agent', 'referer'], LIMITS, 'refuse');
    return m.ok ? m.values.map((v) => v.value) : [];
  });
  const run = (find: (i: number, s: string) => unknown): number => {
    const t = performance.now();
    for (let round = 0; round < 3; round++) for (const v of values) for (let i = 0; i < lists.length; i++) find(i, v);
    return performance.now() - t;
  };
  run((i, s) => before[i]!.find(s));
  run((i, s) => now[i]!.find(s));
  const b = run((i, s) => before[i]!.find(s));
  const a = run((i, s) => now[i]!.find(s));
  const calls = 3 * values.length * lists.length;
  console.log(
    `\n@pm automaton, ${lists.length} CRS 4 PL1 phrase lists × ${values.length} values × 3: Map edges (before) ` +
      `${((b * 1000) / calls).toFixed(2)} µs/call, dense table (now) ${((a * 1000) / calls).toFixed(2)} µs/call: ` +
      `${(b / a).toFixed(1)}× faster`,
  );
}

main();
