#!/usr/bin/env node
// bulwark-threat-protection's phrase automata (crs/aho-corasick.ts PhraseMatcher) against another build's: the bytes,
// states and classes of every automaton an engine builds (CRS 4.28.0 and 3.3 at PL1, with the detectors), then the
// phrase-automaton calls the engine makes on the realistic mix (recorded once), replayed on both builds' automata
// over the same phrases: request by request, alternating which build goes first, each timed right after an untimed
// run of the same calls (warm) or after sweeping 8 MB (the CPU caches gone cold, as between sparse requests). Both
// must return the same results, or the bench stops.
// Usage: BASELINE_DIST=<a copy of dist/ from another commit, with a node_modules link next to it>
//   node dist/js/scripts/bench/phrase-tables.js [requests=1000] [rounds=3]
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CrsEngine } from '../../plugins/bulwark-threat-protection/crs/engine';
import { defaultScanLimits } from '../../plugins/bulwark-threat-protection/config';
import { buildRequestModel } from '../../plugins/bulwark-threat-protection/request-model';
import { median } from './stats';
import { threatBuild, type ThreatBuild } from './threat-build';
import { realisticRequest, seeded } from './threat-traffic';

const ROOT = resolve(__dirname, '../../../..');
const RULE_SETS: [string, string][] = [
  ['CRS 4.28.0', join(ROOT, 'spec/fixtures/crs4/rules')],
  ['CRS 3.3', '/usr/share/modsecurity-crs/rules'],
];
const N = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 3);

/** The automaton API both builds share. */
interface Matcher {
  readonly phrases: readonly string[];
  readonly stateCount: number;
  find(s: string): string | undefined;
  mayOccurIn(s: string): boolean;
  collect(s: string, seen: Uint8Array, found: number[]): boolean;
}
type MatcherClass = new (phrases: readonly string[]) => Matcher;

/** An engine of `build` on the rules of `dir`. */
const engineOn = (build: ThreatBuild, dir: string): CrsEngine => build.engine(build.compile(dir));

/** Every automaton reachable from `root` (the engine's plans and shared scan, the compiled rules' own lists). */
function matchersIn(root: object, type: MatcherClass): Map<Matcher, string> {
  const found = new Map<Matcher, string>();
  const seen = new Set<object>();
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length > 0) {
    const [o, path] = stack.pop()!;
    if (o === null || typeof o !== 'object' || seen.has(o) || ArrayBuffer.isView(o)) continue;
    seen.add(o);
    if (o instanceof type) {
      found.set(o, path);
      continue;
    }
    if (o instanceof Map) for (const [k, v] of o) stack.push([k, path], [v, path]);
    else if (o instanceof Set) for (const v of o) stack.push([v, path]);
    else if (Array.isArray(o)) for (const v of o) stack.push([v, path]);
    else for (const [k, v] of Object.entries(o)) stack.push([v, `${path}.${k}`]);
  }
  return found;
}

/** The bytes of an automaton's typed arrays (its tables; the phrase strings aside). */
function tableBytes(m: Matcher): number {
  return Object.values(m).reduce((sum: number, v) => sum + (ArrayBuffer.isView(v) ? v.byteLength : 0), 0);
}

/** What an automaton is for, from where the engine keeps it. */
function role(path: string): string {
  if (path === '.scan.matcher') return 'shared phrase scan';
  if (path.endsWith('.literals')) return 'literal prefilter, per value class';
  if (path.endsWith('.singleLiterals')) return 'multiMatch literals, per rule';
  return "rules' own @pm lists";
}

function sizes(label: string, rules: string, before: ThreatBuild | undefined, now: ThreatBuild): void {
  const rows = new Map<string, { n: number; states: number; classes: number[]; before: number; now: number }>();
  const all = { n: 0, states: 0, classes: [] as number[], before: 0, now: 0 };
  for (const [m, path] of matchersIn(engineOn(now, rules), now.PhraseMatcher)) {
    const row = rows.get(role(path)) ?? { n: 0, states: 0, classes: [], before: 0, now: 0 };
    rows.set(role(path), row);
    const classes = (m as unknown as { classCount: number }).classCount;
    const old = before === undefined ? 0 : tableBytes(new before.PhraseMatcher(m.phrases));
    for (const r of [row, all]) {
      r.n++;
      r.states += m.stateCount;
      r.classes.push(classes);
      r.before += old;
      r.now += tableBytes(m);
    }
  }
  const mb = (b: number): string => (b / 1e6).toFixed(2);
  for (const [name, r] of [...rows, ['all', all] as const]) {
    const bytes = before === undefined ? `${mb(r.now)} MB` : `${mb(r.before)} → ${mb(r.now)} MB`;
    console.log(
      `${`${label} PL1, ${name}:`.padEnd(52)} ${String(r.n).padStart(3)} automata, ${r.states} states, ` +
        `classes ${Math.min(...r.classes)}–${Math.max(...r.classes)}, ${bytes}`,
    );
  }
}

type Call = [Matcher, 'find' | 'mayOccurIn' | 'collect', string];

/** The automaton calls of evaluating each request (the engine's verdict cache on, as in the plugin). */
function recordCalls(now: ThreatBuild): Call[][] {
  const engine = engineOn(now, RULE_SETS[0]![1]);
  const proto = now.PhraseMatcher.prototype as unknown as Record<string, unknown>;
  const originals: Record<string, unknown> = {};
  let log: Call[] = [];
  for (const name of ['find', 'mayOccurIn', 'collect'] as const) {
    const original = Object.getOwnPropertyDescriptor(proto, name)!.value as (...args: unknown[]) => unknown;
    originals[name] = original;
    proto[name] = function (this: Matcher, s: string, ...rest: unknown[]) {
      log.push([this, name, s]);
      return original.call(this, s, ...rest);
    };
  }
  const rnd = seeded(42);
  const requests: Call[][] = [];
  for (let i = 0; i < N; i++) {
    const m = buildRequestModel(realisticRequest(rnd), ['user-agent', 'referer'], defaultScanLimits(), 'refuse');
    log = [];
    engine.evaluate(m.ok ? m.values : []);
    requests.push(log);
  }
  for (const name of ['find', 'mayOccurIn', 'collect'] as const) proto[name] = originals[name];
  return requests;
}

const seen = new Uint8Array(1 << 16);
const found: number[] = [];

/** Runs a request's calls on `m(matcher)`; a checksum of the results. */
function replay(calls: Call[], m: (x: Matcher) => Matcher): number {
  let sum = 0;
  for (const [matcher, name, s] of calls) {
    const x = m(matcher);
    if (name === 'find') sum += x.find(s)?.length ?? 0;
    else if (name === 'mayOccurIn') sum += x.mayOccurIn(s) ? 1 : 0;
    else {
      sum += x.collect(s, seen, found) ? 1 : 0;
      for (const k of found) {
        seen[k] = 0;
        sum += k + 1;
      }
      found.length = 0;
    }
  }
  return sum;
}

function main(): void {
  const dist = process.env.BASELINE_DIST;
  if (dist === undefined) throw new Error('set BASELINE_DIST to the dist/ of the build to compare with');
  const before = threatBuild(dist);
  // This build through the same loader: the same modules as this file's imports.
  const now = threatBuild(resolve(__dirname, '../../..'));
  console.log('phrase automata an engine builds, table bytes before → now');
  for (const [label, rules] of RULE_SETS) if (existsSync(rules)) sizes(label, rules, before, now);

  const requests = recordCalls(now);
  const twins = new Map<Matcher, Matcher>();
  for (const calls of requests)
    for (const [m] of calls) if (!twins.has(m)) twins.set(m, new before.PhraseMatcher(m.phrases));
  const perRequest = requests.reduce((sum, calls) => sum + calls.length, 0) / requests.length;
  const bytes = requests.reduce((sum, calls) => sum + calls.reduce((b, c) => b + c[2].length, 0), 0) / requests.length;
  console.log(
    `\nCRS 4.28.0 PL1 over the mix: ${perRequest.toFixed(1)} automaton calls, ${bytes.toFixed(0)} bytes per request, ` +
      `${twins.size} automata; µs per request's calls, median, before → now (alternating request by request)`,
  );
  const sweep = new Uint8Array(8 << 20);
  const builds: [string, (x: Matcher) => Matcher][] = [
    ['before', (x) => twins.get(x)!],
    ['now', (x) => x],
  ];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const cold of [false, true]) {
      const times: number[][] = [[], []];
      requests.forEach((calls, i) => {
        const sums: number[] = [];
        for (const b of i % 2 === 0 ? [0, 1] : [1, 0]) {
          if (cold) for (let j = 0; j < sweep.length; j += 64) sweep[j]!++;
          else replay(calls, builds[b]![1]);
          const t = process.hrtime.bigint();
          sums[b] = replay(calls, builds[b]![1]);
          times[b]!.push(Number(process.hrtime.bigint() - t) / 1000);
        }
        if (sums[0] !== sums[1]) throw new Error(`the automata disagree on request ${i}`);
      });
      const [x, y] = times.map(median) as [number, number];
      const label = cold ? 'after an 8 MB sweep' : 'warm (run just before)';
      console.log(`round ${round}, ${label.padEnd(20)} ${x.toFixed(2)} → ${y.toFixed(2)} (${(y / x).toFixed(2)}×)`);
    }
  }
}

main();
