// Benchmark (not a test): what a bulwark-threat-protection request costs the plugin-server process, all threads,
// through the Kong emulator and the real bulwark-pluginserver (one process, --workers 1), bulwark-threat-protection
// alone on the route (CRS 4 from spec/fixtures, defaults otherwise). Issue #17's targets are per request of the
// plugin server: p50 <= 100 µs and p99 <= 1 ms on a realistic mix, <= 2 ms for a 10 KB JSON body.
//
// Requests: the realistic mix of scripts/bench/threat-traffic.ts (half search GETs, half JSON POSTs; new requests
// every round, the same ones for every target) and 10 KB JSON bodies (jsonBodyOfSize). Targets, one request each in
// turn so that machine noise hits them alike:
//   threat        this build's bulwark-threat-protection;
//   rpc twin      scripts/bench/threat-rpc-twin.ts on a route of the same plugin server: the same PDK reads and the
//                 same decision record, nothing else (its RPC count is printed next to the threat plugin's): what
//                 the RPCs alone cost;
//   baseline      with --baseline DIR: the threat plugin of another build (DIR/dist/js/plugins/..., its node_modules
//                 in DIR; `cp -r dist DIR/dist && cp -al node_modules DIR/node_modules` before changing the plugin),
//                 loaded by this build's plugin server in a second emulator: before/after in one run.
//
// How CPU is measured: before and after each request (the emulator sends one at a time and the bench awaits the
// log phase), the bench reads every thread's time on a CPU from /proc/<pid>/task/<tid>/schedstat (ns). The deltas
// are the plugin server's CPU for that request, split into the event loop (the main thread, tid = pid), the engine
// thread (the thread with the most CPU after the main one once the rules are compiled: it compiled them) and the
// other threads (V8's GC and compiler helpers, libuv). The kernel brings a thread's sum up to date at a tick and
// when the thread leaves the CPU, and the samples are taken while the plugin server waits for the next request (its
// threads asleep but for background GC), so they are current; a process reading its own running thread's schedstat
// would not be (a throwaway in-process attempt saw 0 µs for work that never slept). Work a request leaves behind
// (garbage collected later) lands on a later request: the means are right, single samples are not exact. p50/p99
// are over every request of every round. The emulator's own CPU is not counted (another process).
//
//   npm run build && node dist/js/scripts/bench/threat-pluginserver.js [--requests 300] [--bodies 40] [--rounds 4]
//     [--baseline DIR]
import fs = require('fs');
import os = require('os');
import path = require('path');
import { parseArgs } from 'util';
import { KongEmulator } from '../../kong/emulator/kong';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { repoRoot } from '../../kong/emulator/plugin-server';
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import type { RequestSnapshot } from '../../plugins/bulwark-threat-protection/request-model';
import { threadRuntimesNs } from './process-cpu';
import { jsonBodyOfSize, realisticRequest, seeded } from './threat-traffic';

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    bodies: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '4' },
    baseline: { type: 'string' },
  },
});
const CRS4 = path.join(repoRoot, 'spec/fixtures/crs4/rules');
const THREAT = 'bulwark-threat-protection';
const TWIN = 'bulwark-bench-rpc-twin';

interface Samples {
  loop: number[];
  engine: number[];
  other: number[];
  total: number[];
  statuses: Map<number, number>;
  rpcs: number;
}

interface Target {
  name: string;
  emulator: KongEmulator;
  route: string;
  plugin: string;
  pid: number;
  engineTid: number;
  figures: Map<string, Samples>;
}

/** A plugins root for bulwark-pluginserver: one directory per plugin whose index.js loads `modules[name]`. */
function pluginsRoot(modules: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-bench-plugins-'));
  for (const [name, file] of Object.entries(modules)) {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(
      path.join(dir, name, 'index.js'),
      `'use strict';\nmodule.exports = require(${JSON.stringify(file)});\n`,
    );
  }
  return dir;
}

async function startEmulator(root: string, plugins: string[], echoPort: number): Promise<KongEmulator> {
  const emulator = await KongEmulator.start({ server: 'bulwark', plugins, pluginsRoot: root, luaPlugins: [] });
  const routes = plugins.map((p) => `      - { name: ${p}, paths: ["/${p}"], strip_path: false }`).join('\n');
  const attached = plugins
    .map(
      (p) =>
        `  - name: ${p}\n    route: ${p}\n    config: ${p === THREAT ? `{ crs_path: ${JSON.stringify(CRS4)} }` : '{}'}`,
    )
    .join('\n');
  emulator.setConfig(
    loadDeclarative(
      `_format_version: "3.0"\nservices:\n  - name: echo\n    url: http://127.0.0.1:${echoPort}\n    routes:\n${routes}\nplugins:\n${attached}\n`,
      { knownPlugins: new Set(emulator.plugins.keys()) },
    ),
  );
  // The engine compiles in the background from the first request on: wait until the route answers.
  for (let i = 0; ; i++) {
    const r = await emulator.request({ path: `/${THREAT}/start`, headers: { 'content-length': '0' } });
    if (r.status === 200) break;
    if (i > 1200) throw new Error(`the rules are not ready after 60 s: ${r.status} ${r.body.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return emulator;
}

function asRequest(route: string, s: RequestSnapshot): Parameters<KongEmulator['request']>[0] {
  return {
    method: s.method,
    path: `/${route}${s.pathWithQuery}`,
    headers: s.headers as Record<string, string[]>,
    body: s.body === undefined ? undefined : Buffer.from(s.body),
  };
}

function sumExcept(m: Map<number, number>, ...skip: number[]): number {
  let s = 0;
  for (const [tid, ns] of m) if (!skip.includes(tid)) s += ns;
  return s;
}

async function send(t: Target, workload: string, s: RequestSnapshot): Promise<void> {
  const before = threadRuntimesNs(t.pid);
  const r = await t.emulator.request(asRequest(t.route, s));
  await r.report.logDone;
  const after = threadRuntimesNs(t.pid);
  if (r.report.failOpen.length > 0) throw new Error(`${t.name}: fail-open ${JSON.stringify(r.report.failOpen)}`);
  if (r.status !== 200 && r.status !== 403) throw new Error(`${t.name}: status ${r.status} ${r.body.toString()}`);
  const delta = (tid: number) => ((after.get(tid) ?? 0) - (before.get(tid) ?? 0)) / 1000;
  let f = t.figures.get(workload);
  if (f === undefined) {
    f = { loop: [], engine: [], other: [], total: [], statuses: new Map(), rpcs: 0 };
    t.figures.set(workload, f);
  }
  const loop = delta(t.pid);
  const engine = delta(t.engineTid);
  const other = (sumExcept(after, t.pid, t.engineTid) - sumExcept(before, t.pid, t.engineTid)) / 1000;
  f.loop.push(loop);
  f.engine.push(engine);
  f.other.push(other);
  f.total.push(loop + engine + other);
  f.statuses.set(r.status, (f.statuses.get(r.status) ?? 0) + 1);
  f.rpcs = Math.max(f.rpcs, r.report.rpcCallsByPlugin[t.plugin] ?? 0);
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1)).padStart(6);

function workloads(round: number): [string, RequestSnapshot[]][] {
  const mixRnd = seeded(1000 + round);
  const bodyRnd = seeded(2000 + round);
  return [
    ['realistic mix', Array.from({ length: Number(opts.requests) }, () => realisticRequest(mixRnd))],
    ['10 KB JSON', Array.from({ length: Number(opts.bodies) }, () => jsonBodyOfSize(bodyRnd, 10 * 1024))],
  ];
}

async function main(): Promise<void> {
  const dist = path.join(repoRoot, 'dist/js');
  if (!fs.existsSync(path.join(dist, 'kong/pluginserver/cli.js'))) throw new Error('run npm run build first');
  const rounds = Number(opts.rounds);
  console.log(
    `threat-protection plugin-server CPU: node ${process.version}, ${os.availableParallelism()} cpu(s), ` +
      `load ${os.loadavg()[0].toFixed(2)}; ${rounds} rounds x (${opts.requests} mix requests + ${opts.bodies} 10 KB bodies)`,
  );
  const echo = await startEchoUpstream(0);
  const roots: string[] = [];
  const targets: Target[] = [];
  const target = (name: string, emulator: KongEmulator, plugin: string): Target => ({
    name,
    emulator,
    route: plugin,
    plugin,
    pid: emulator.processes[0]!.child.pid!,
    engineTid: -1,
    figures: new Map(),
  });
  try {
    roots.push(
      pluginsRoot({
        [THREAT]: path.join(dist, 'plugins/bulwark-threat-protection/index.js'),
        [TWIN]: path.join(dist, 'scripts/bench/threat-rpc-twin.js'),
      }),
    );
    const own = await startEmulator(roots[0]!, [THREAT, TWIN], echo.port);
    targets.push(target('threat', own, THREAT), target('rpc twin', own, TWIN));
    if (opts.baseline !== undefined) {
      const file = path.resolve(opts.baseline, 'dist/js/plugins/bulwark-threat-protection/index.js');
      if (!fs.existsSync(file)) throw new Error(`${file} is missing`);
      roots.push(pluginsRoot({ [THREAT]: file }));
      targets.push(target('baseline', await startEmulator(roots[1]!, [THREAT], echo.port), THREAT));
    }
    // Warm-up (JIT), then the engine thread: the one with the most CPU after the main thread (it compiled the rules).
    for (const warmUp of [-1, -2, -3]) {
      for (const [, requests] of workloads(warmUp)) {
        for (const t of targets) for (const s of requests) await send(t, 'warm-up', s);
      }
    }
    for (const t of targets) {
      t.figures.clear();
      let best = -1;
      for (const [tid, ns] of threadRuntimesNs(t.pid)) if (tid !== t.pid && ns > best) [best, t.engineTid] = [ns, tid];
    }
    for (let round = 0; round < rounds; round++) {
      for (const [name, requests] of workloads(round)) {
        // Request by request in turn (the order rotating), so that the machine's load varies alike for all.
        for (let i = 0; i < requests.length; i++) {
          for (let k = 0; k < targets.length; k++) await send(targets[(i + k) % targets.length]!, name, requests[i]!);
        }
      }
    }
    console.log('µs of plugin-server CPU per request (p50 / p99 / mean):');
    for (const [name] of workloads(0)) {
      console.log(`\n  ${name}`);
      console.log(
        `  ${'target'.padEnd(10)} ${'RPCs'.padStart(4)} ${'event loop'.padStart(22)} ${'engine thread'.padStart(22)}` +
          ` ${'other'.padStart(6)} ${'all threads'.padStart(22)}  statuses`,
      );
      for (const t of targets) {
        const f = t.figures.get(name)!;
        const three = (xs: number[]) => `${fmt(pct(xs, 0.5))} ${fmt(pct(xs, 0.99))} ${fmt(mean(xs))}`;
        const statuses = [...f.statuses].map(([s, n]) => `${s}: ${n}`).join(', ');
        console.log(
          `  ${t.name.padEnd(10)} ${String(f.rpcs).padStart(4)} ${three(f.loop)} ${three(f.engine)}` +
            ` ${fmt(mean(f.other))} ${three(f.total)}  ${statuses}`,
        );
      }
      const [threat, twin, baseline] = targets.map((t) => t.figures.get(name)!);
      const m = (f: Samples, k: 'loop' | 'total') => mean(f[k]);
      console.log(
        `  threat / rpc twin, mean: event loop ${(m(threat!, 'loop') / m(twin!, 'loop')).toFixed(2)}x, ` +
          `all threads ${(m(threat!, 'total') / m(twin!, 'total')).toFixed(2)}x; the RPCs' share of the threat ` +
          `plugin's CPU: ${((100 * m(twin!, 'total')) / m(threat!, 'total')).toFixed(0)} %`,
      );
      if (baseline !== undefined) {
        console.log(
          `  threat / baseline, mean: event loop ${(m(threat!, 'loop') / m(baseline, 'loop')).toFixed(2)}x, ` +
            `all threads ${(m(threat!, 'total') / m(baseline, 'total')).toFixed(2)}x`,
        );
      }
    }
  } finally {
    for (const t of new Set(targets.map((x) => x.emulator))) await t.stop();
    await echo.close();
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
