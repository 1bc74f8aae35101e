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
//                 loaded by this build's plugin server in a second emulator: before/after in one run;
//   floor         the protocol floor: a bare MessagePack-RPC server (scripts/bench/echo-server.ts, its own process)
//                 answering the very RPCs the emulator sent the threat plugin for the same request (recorded: the
//                 HandleEvent and every Step with its data, headers and body included), over the emulator's own RPC
//                 client (kong/emulator/rpc.ts: one write per call, LIFO connection pool), each answered with a small
//                 Step reply like a plugin server's. It decodes each call and encodes a reply, nothing else: what the
//                 same round trips cost before any PDK dispatch or plugin logic.
//
// Two regimes:
//   one at a time (always; the first table): the emulator sends one request, the bench awaits its log phase and
//                 reads the CPU, then the next: sparse traffic, the plugin server idle between requests (caches, TLB
//                 and predictors go cold meanwhile: see the README). Per-request samples, p50/p99 over requests.
//   sustained     (--concurrency C[,C...]): back to back, C requests in flight, as a loaded Kong sends them, on
//                 requests of the same generator that the first regime never sent. The CPU is read around blocks
//                 of --block requests (10 KB bodies: a fifth of that) of one target (the targets take turns block
//                 by block); per-request CPU = the block's CPU / its requests. p50 and max are over blocks (each a
//                 block's mean per request, not single requests: with C in flight a request's own CPU cannot be
//                 told apart), the mean over all.
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
//     [--baseline DIR] [--concurrency 1,8] [--block 50]
import { spawn } from 'child_process';
import fs = require('fs');
import os = require('os');
import path = require('path');
import { parseArgs } from 'util';
import { KongEmulator } from '../../kong/emulator/kong';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { acceptsConnections, repoRoot } from '../../kong/emulator/plugin-server';
import { RpcClient } from '../../kong/emulator/rpc';
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import type { RequestSnapshot } from '../../plugins/bulwark-threat-protection/request-model';
import { runEchoServer } from './echo-server';
import { threadRuntimesNs } from './process-cpu';
import { mean, percentile } from './stats';
import { jsonBodyOfSize, realisticRequest, seeded } from './threat-traffic';

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    bodies: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '4' },
    baseline: { type: 'string' },
    concurrency: { type: 'string' },
    block: { type: 'string', default: '50' },
    'echo-server': { type: 'string' },
  },
});
const CRS4 = path.join(repoRoot, 'spec/fixtures/crs4/rules');
const THREAT = 'bulwark-threat-protection';
const TWIN = 'bulwark-bench-rpc-twin';
/** Issue #17's budget, µs of plugin-server CPU per request: [p50, p99]. */
const BUDGET: Record<string, [number, number]> = { 'realistic mix': [100, 1000], '10 KB JSON': [2000, 2000] };
/** What the floor answers every call with: a Step reply naming the next PDK call, as bulwark-pluginserver sends. */
const FLOOR_REPLY = { EventId: 1, Data: { Method: 'kong.request.get_headers', Args: [1000] } };

/** One call the emulator sent the threat plugin's socket. */
interface RecordedCall {
  method: string;
  arg: unknown;
}
/** While `calls` is set, every call the emulator makes on the threat plugin's socket is appended (the floor's input). */
const recorder: { calls: RecordedCall[] | null } = { calls: null };
const originalCall = RpcClient.prototype.call;
RpcClient.prototype.call = function (this: RpcClient, method: string, arg: unknown): Promise<unknown> {
  if (recorder.calls !== null && path.basename(this.socketPath) === `${THREAT}.sock`)
    recorder.calls.push({ method, arg });
  return originalCall.call(this, method, arg);
};

interface Samples {
  loop: number[];
  engine: number[];
  other: number[];
  total: number[];
  statuses: Map<number, number>;
  /** RPCs summed over the requests (the mean is rpcs / requests). */
  rpcs: number;
  requests: number;
}

const newSamples = (): Samples => ({
  loop: [],
  engine: [],
  other: [],
  total: [],
  statuses: new Map(),
  rpcs: 0,
  requests: 0,
});

function samplesFor(figures: Map<string, Samples>, key: string): Samples {
  let f = figures.get(key);
  if (f === undefined) figures.set(key, (f = newSamples()));
  return f;
}

/** The plugin server's CPU between two readings, µs: event loop (tid = pid), engine thread, the other threads. */
function cpuDelta(pid: number, engineTid: number, before: Map<number, number>, after: Map<number, number>) {
  const delta = (tid: number) => ((after.get(tid) ?? 0) - (before.get(tid) ?? 0)) / 1000;
  const loop = delta(pid);
  const engine = engineTid < 0 ? 0 : delta(engineTid);
  const other = (sumExcept(after, pid, engineTid) - sumExcept(before, pid, engineTid)) / 1000;
  return { loop, engine, other, total: loop + engine + other };
}

/** Adds one sample: a request's CPU, or a block's divided by its `requests`. */
function addSample(f: Samples, cpu: ReturnType<typeof cpuDelta>, requests: number): void {
  f.loop.push(cpu.loop / requests);
  f.engine.push(cpu.engine / requests);
  f.other.push(cpu.other / requests);
  f.total.push(cpu.total / requests);
}

interface Target {
  name: string;
  emulator: KongEmulator;
  route: string;
  plugin: string;
  pid: number;
  engineTid: number;
  /** One at a time, by workload; sustained, by `${concurrency}|${workload}`. */
  figures: Map<string, Samples>;
  sustained: Map<string, Samples>;
}

/** The protocol floor: the echo server's process and the emulator's RPC client to it. */
interface Floor {
  name: string;
  pid: number;
  /** None: the echo server's work is all on its main thread. */
  engineTid: -1;
  rpc: RpcClient;
  figures: Map<string, Samples>;
  sustained: Map<string, Samples>;
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

/** One request through the emulator, its log phase awaited; counted in `f` (status, RPCs), CPU not read. */
async function request(t: Target, s: RequestSnapshot, f: Samples): Promise<void> {
  const r = await t.emulator.request(asRequest(t.route, s));
  await r.report.logDone;
  if (r.report.failOpen.length > 0) throw new Error(`${t.name}: fail-open ${JSON.stringify(r.report.failOpen)}`);
  if (r.status !== 200 && r.status !== 403) throw new Error(`${t.name}: status ${r.status} ${r.body.toString()}`);
  f.statuses.set(r.status, (f.statuses.get(r.status) ?? 0) + 1);
  f.rpcs += r.report.rpcCallsByPlugin[t.plugin] ?? 0;
  f.requests++;
}

/** One request alone, its CPU sampled around it; returns the calls the threat plugin's socket got (threat only). */
async function send(t: Target, workload: string, s: RequestSnapshot): Promise<RecordedCall[]> {
  const f = samplesFor(t.figures, workload);
  const calls: RecordedCall[] = [];
  if (t.name === 'threat') recorder.calls = calls;
  const before = threadRuntimesNs(t.pid);
  try {
    await request(t, s, f);
  } finally {
    recorder.calls = null;
  }
  addSample(f, cpuDelta(t.pid, t.engineTid, before, threadRuntimesNs(t.pid)), 1);
  return calls;
}

/** The recorded calls of one request, one after the other, as the emulator sends them. */
async function replay(floor: Floor, calls: RecordedCall[], f: Samples): Promise<void> {
  for (const c of calls) await floor.rpc.call(c.method, c.arg);
  f.rpcs += calls.length;
  f.requests++;
}

async function sendFloor(floor: Floor, workload: string, calls: RecordedCall[]): Promise<void> {
  const f = samplesFor(floor.figures, workload);
  const before = threadRuntimesNs(floor.pid);
  await replay(floor, calls, f);
  addSample(f, cpuDelta(floor.pid, -1, before, threadRuntimesNs(floor.pid)), 1);
}

/** `count` jobs, `concurrency` of them in flight. */
async function inFlight(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

/** One block of the sustained regime: `n` requests back to back, `concurrency` in flight, CPU read around it. */
async function block(
  who: { pid: number; engineTid: number; sustained: Map<string, Samples> },
  key: string,
  n: number,
  concurrency: number,
  job: (i: number, f: Samples) => Promise<void>,
): Promise<void> {
  const f = samplesFor(who.sustained, key);
  const before = threadRuntimesNs(who.pid);
  await inFlight(n, concurrency, (i) => job(i, f));
  addSample(f, cpuDelta(who.pid, who.engineTid, before, threadRuntimesNs(who.pid)), n);
}

async function startFloor(dir: string): Promise<Floor> {
  const socket = path.join(dir, 'floor.sock');
  const child = spawn(process.execPath, [__filename, '--echo-server', socket], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(socket) || !(await acceptsConnections(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nothing listens on ${socket}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    name: 'floor',
    pid: child.pid!,
    engineTid: -1,
    rpc: new RpcClient(socket),
    figures: new Map(),
    sustained: new Map(),
  };
}

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1)).padStart(6);

function workloads(round: number): [string, RequestSnapshot[]][] {
  const mixRnd = seeded(1000 + round);
  const bodyRnd = seeded(2000 + round);
  return [
    ['realistic mix', Array.from({ length: Number(opts.requests) }, () => realisticRequest(mixRnd))],
    ['10 KB JSON', Array.from({ length: Number(opts.bodies) }, () => jsonBodyOfSize(bodyRnd, 10 * 1024))],
  ];
}

/** The sustained regime's rounds use other requests than the first regime's (the verdict cache has not seen them). */
const SUSTAINED_ROUND = 100;

const three = (xs: number[]) => `${fmt(percentile(xs, 0.5))} ${fmt(percentile(xs, 0.99))} ${fmt(mean(xs))}`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** One table: a row per target, then the ratios to the budget and to each other (p50 and mean). */
function printTable(
  title: string,
  spread: string,
  rows: { name: string; f: Samples | undefined; split: boolean }[],
  workload: string,
): void {
  console.log(`\n  ${title}`);
  console.log(
    `  ${'target'.padEnd(10)} ${'RPCs'.padStart(5)} ${'event loop'.padStart(20)} ${'engine thread'.padStart(20)}` +
      ` ${'other'.padStart(6)} ${'all threads'.padStart(20)}  statuses   (each: p50 ${spread} mean)`,
  );
  for (const { name, f, split } of rows) {
    if (f === undefined) continue;
    const statuses = [...f.statuses].map(([st, n]) => `${st}: ${n}`).join(', ');
    const dash = `${'–'.padStart(6)} ${'–'.padStart(6)} ${'–'.padStart(6)}`;
    console.log(
      `  ${name.padEnd(10)} ${(f.rpcs / f.requests).toFixed(2).padStart(5)} ${split ? three(f.loop) : dash}` +
        ` ${split ? three(f.engine) : dash} ${fmt(mean(f.other))} ${three(f.total)}  ${statuses}`,
    );
  }
  const by = new Map(rows.filter((r) => r.f !== undefined).map((r) => [r.name, r.f!]));
  const threat = by.get('threat')!;
  const twin = by.get('rpc twin')!;
  const floor = by.get('floor')!;
  const baseline = by.get('baseline');
  const [b50, b99] = BUDGET[workload]!;
  const p50 = (f: Samples) => percentile(f.total, 0.5);
  const m = (f: Samples) => mean(f.total);
  console.log(
    `  / budget (p50 ${b50} µs, ${spread} ${b99} µs), all threads: threat ${ratio(p50(threat), b50)}, ${spread} ` +
      `${ratio(percentile(threat.total, 0.99), b99)}; rpc twin ${ratio(p50(twin), b50)}; floor ${ratio(p50(floor), b50)}`,
  );
  console.log(
    `  to each other (p50 | mean), all threads: threat / rpc twin ${ratio(p50(threat), p50(twin))} | ` +
      `${ratio(m(threat), m(twin))}; rpc twin / floor ${ratio(p50(twin), p50(floor))} | ${ratio(m(twin), m(floor))}; ` +
      `threat / floor ${ratio(p50(threat), p50(floor))} | ${ratio(m(threat), m(floor))}; event loop threat / rpc twin ` +
      `${ratio(mean(threat.loop), mean(twin.loop))} (mean)`,
  );
  const perRpc = (f: Samples) => (m(f) / (f.rpcs / f.requests)).toFixed(1);
  console.log(
    `  mean CPU per RPC: rpc twin ${perRpc(twin)} µs, floor ${perRpc(floor)} µs; the RPCs' share of the threat ` +
      `plugin's CPU (rpc twin / threat, mean): ${((100 * m(twin)) / m(threat)).toFixed(0)} %`,
  );
  if (baseline !== undefined) {
    console.log(
      `  threat / baseline, mean: event loop ${ratio(mean(threat.loop), mean(baseline.loop))}, all threads ` +
        `${ratio(m(threat), m(baseline))}`,
    );
  }
}

async function main(): Promise<void> {
  const dist = path.join(repoRoot, 'dist/js');
  if (!fs.existsSync(path.join(dist, 'kong/pluginserver/cli.js'))) throw new Error('run npm run build first');
  const rounds = Number(opts.rounds);
  const concurrencies = (opts.concurrency ?? '')
    .split(',')
    .filter((c) => c !== '')
    .map(Number);
  if (concurrencies.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`--concurrency ${opts.concurrency}`);
  const blockOf = (workload: string) =>
    Math.max(1, workload === '10 KB JSON' ? Math.round(Number(opts.block) / 5) : Number(opts.block));
  console.log(
    `threat-protection plugin-server CPU: node ${process.version}, ${os.availableParallelism()} cpu(s), ` +
      `load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ${rounds} rounds x (${opts.requests} mix requests + ` +
      `${opts.bodies} 10 KB bodies) one at a time` +
      (concurrencies.length > 0 ? `, then the same again per concurrency ${concurrencies.join(', ')}` : ''),
  );
  const echo = await startEchoUpstream(0);
  const roots: string[] = [];
  const targets: Target[] = [];
  let floor: Floor | undefined;
  const floorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-bench-floor-'));
  const target = (name: string, emulator: KongEmulator, plugin: string): Target => ({
    name,
    emulator,
    route: plugin,
    plugin,
    pid: emulator.processes[0]!.child.pid!,
    engineTid: -1,
    figures: new Map(),
    sustained: new Map(),
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
    floor = await startFloor(floorDir);
    const fl = floor;
    // The threat plugin's calls per request, by workload: the floor replays them.
    const recorded = new Map<string, RecordedCall[][]>();
    const record = (workload: string, calls: RecordedCall[]) => {
      if (calls.length === 0) throw new Error('no RPC recorded for a threat request');
      const list = recorded.get(workload) ?? [];
      list.push(calls);
      recorded.set(workload, list);
    };
    // Warm-up (JIT), then the engine thread: the one with the most CPU after the main thread (it compiled the rules).
    for (const warmUp of [-1, -2, -3]) {
      for (const [, requests] of workloads(warmUp)) {
        for (const s of requests) {
          for (const t of targets) {
            const calls = await send(t, 'warm-up', s);
            if (t.name === 'threat') await sendFloor(fl, 'warm-up', calls);
          }
        }
      }
    }
    for (const t of [...targets, fl]) t.figures.clear();
    for (const t of targets) {
      let best = -1;
      for (const [tid, ns] of threadRuntimesNs(t.pid)) if (tid !== t.pid && ns > best) [best, t.engineTid] = [ns, tid];
    }
    for (let round = 0; round < rounds; round++) {
      for (const [name, requests] of workloads(round)) {
        // Request by request in turn (the order rotating), so that the machine's load varies alike for all; the
        // floor last, replaying what the threat plugin was just sent.
        for (let i = 0; i < requests.length; i++) {
          for (let k = 0; k < targets.length; k++) {
            const t = targets[(i + k) % targets.length]!;
            const calls = await send(t, name, requests[i]!);
            if (t.name === 'threat') record(name, calls);
          }
          const calls = recorded.get(name)!;
          await sendFloor(fl, name, calls[calls.length - 1]!);
        }
      }
    }
    for (const c of concurrencies) {
      for (let round = 0; round < rounds; round++) {
        for (const [name, requests] of workloads(SUSTAINED_ROUND + round)) {
          const size = blockOf(name);
          const calls = recorded.get(name)!;
          const key = `${c}|${name}`;
          // Block by block, the targets taking turns (the order rotating).
          for (let from = 0, b = 0; from < requests.length; from += size, b++) {
            const part = requests.slice(from, from + size);
            const all = [...targets, fl];
            for (let k = 0; k < all.length; k++) {
              const t = all[(b + k) % all.length]!;
              if (t === fl) {
                await block(fl, key, part.length, c, (i, f) => replay(fl, calls[(from + i) % calls.length]!, f));
              } else {
                const et = t as Target;
                await block(et, key, part.length, c, (i, f) => request(et, part[i]!, f));
              }
            }
          }
        }
      }
    }
    const rowsOf = (key: string, sustained: boolean) => [
      ...targets.map((t) => ({ name: t.name, f: (sustained ? t.sustained : t.figures).get(key), split: true })),
      { name: 'floor', f: (sustained ? fl.sustained : fl.figures).get(key), split: false },
    ];
    console.log(
      '\nµs of plugin-server CPU per request; floor: the echo server answering the same recorded calls; ' +
        'RPCs: mean per request',
    );
    for (const [name] of workloads(0)) {
      printTable(`${name}, one at a time (p50 / p99 over requests)`, 'p99', rowsOf(name, false), name);
      for (const c of concurrencies) {
        printTable(
          `${name}, sustained, ${c} in flight (blocks of ${blockOf(name)} requests; p50 / max over blocks)`,
          'max',
          rowsOf(`${c}|${name}`, true),
          name,
        );
      }
    }
    console.log(
      `\nload at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    for (const t of new Set(targets.map((x) => x.emulator))) await t.stop();
    if (floor !== undefined) {
      floor.rpc.close();
      process.kill(floor.pid, 'SIGTERM');
    }
    await echo.close();
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
    fs.rmSync(floorDir, { recursive: true, force: true });
  }
}

if (opts['echo-server'] !== undefined) {
  runEchoServer(opts['echo-server'], FLOOR_REPLY);
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
