#!/usr/bin/env node
// bulwark-audit's per-request cost, measured side by side in one run (the machine is shared: compare the ratios,
// not the absolute figures). Three routes behind the Kong emulator + the real bulwark-pluginserver, each with
// bulwark-rate-limit (a deciding plugin; limit never reached):
//   plain    without bulwark-audit
//   audited  with bulwark-audit (every decision shipped to a JSON-lines file)
//   abuse    the same with abuse detection on (memory counters)
// Rounds alternate between the routes so machine noise hits all alike. Each request waits for its log phase.
// Printed: the plugin server's CPU per request (user + system of its process, from /proc) and the ratio to plain;
// PDK round trips per request, split into the request (access) and the log phase (after the response).
// `--baseline <dir>`: a built checkout of another revision (its dist/js and dist/plugins) runs the same three
// routes in the same run, its rounds interleaved with this build's, so before/after ratios share the machine state.
// Usage: npm run build && node dist/js/scripts/bench/audit.js [--requests 200] [--rounds 5] [--baseline <dir>]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { KongEmulator } from '../../kong/emulator/kong';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { startEchoUpstream } from '../../kong/echo-upstream/server';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    baseline: { type: 'string' },
  },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const ROUTES = ['plain', 'audited', 'abuse'] as const;
type RouteName = (typeof ROUTES)[number];

/** CPU time (µs) a process has used so far: utime + stime of /proc/<pid>/stat, in clock ticks (100 per second). */
function processCpuMicros(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3 of the full line, utime 14 and stime 15 (1-based), i.e. 11 and 12 here.
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

type Emulator = typeof KongEmulator;
type Load = typeof loadDeclarative;

/** One build under test: its emulator (which starts that build's plugin server) with the three routes. */
interface Bench {
  label: string;
  kong: KongEmulator;
  serverCpu: () => number;
  cpu: Map<RouteName, number>;
  rpc: Map<RouteName, { access: number; log: number; auditLog: number }>;
}

async function startBench(label: string, Kong: Emulator, load: Load, dir: string, echoPort: number): Promise<Bench> {
  const kong = await Kong.start({ server: 'bulwark', plugins: ['bulwark-audit', 'bulwark-rate-limit'] });
  const limit = { limit_by: ['ip'], limits: [{ name: 'hour', limit: 1_000_000, window_seconds: 3600 }] };
  const audit = (file: string, abuse: boolean) => ({
    decisions: ['allow', 'deny', 'error', 'monitor-deny'],
    sinks: { file: { path: path.join(dir, `${label}-${file}`) } },
    ...(abuse ? { abuse: { enabled: true } } : {}),
  });
  kong.setConfig(
    load(
      JSON.stringify({
        _format_version: '3.0',
        services: [
          {
            name: 'svc',
            url: `http://127.0.0.1:${echoPort}`,
            routes: ROUTES.map((name) => ({ name, paths: [`/${name}`] })),
          },
        ],
        plugins: [
          ...ROUTES.map((route) => ({ name: 'bulwark-rate-limit', route, config: limit })),
          { name: 'bulwark-audit', route: 'audited', config: audit('audited.jsonl', false) },
          { name: 'bulwark-audit', route: 'abuse', config: audit('abuse.jsonl', true) },
        ],
      }),
      { knownPlugins: new Set(kong.plugins.keys()) },
    ),
  );
  const pids = kong.processes.map((p) => p.child.pid!).filter((pid) => pid !== undefined);
  return {
    label,
    kong,
    serverCpu: () => pids.reduce((sum, pid) => sum + processCpuMicros(pid), 0),
    cpu: new Map<RouteName, number>(ROUTES.map((r) => [r, 0])),
    rpc: new Map(),
  };
}

async function send(b: Bench, route: RouteName) {
  const res = await b.kong.request({ path: `/${route}/x` });
  const beforeLog = res.report.pdkCalls.length;
  await res.report.logDone;
  return { res, beforeLog };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-audit-bench-'));
  const echo = await startEchoUpstream(0);
  const benches: Bench[] = [];
  try {
    if (values.baseline !== undefined) {
      // The baseline's own compiled emulator: it finds its repository root (and so its plugin server and plugins)
      // from its own location.
      const root = path.resolve(values.baseline, 'dist', 'js', 'kong', 'emulator');
      /* eslint-disable @typescript-eslint/no-require-imports */
      const base = require(path.join(root, 'kong.js')) as { KongEmulator: Emulator };
      const baseLoad = require(path.join(root, 'declarative.js')) as { loadDeclarative: Load };
      /* eslint-enable @typescript-eslint/no-require-imports */
      benches.push(await startBench('before', base.KongEmulator, baseLoad.loadDeclarative, dir, echo.port));
    }
    benches.push(
      await startBench(values.baseline === undefined ? 'this' : 'after', KongEmulator, loadDeclarative, dir, echo.port),
    );
    for (const b of benches) for (let i = 0; i < 20; i++) for (const r of ROUTES) await send(b, r); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const b of benches) {
        for (const route of ROUTES) {
          const c0 = b.serverCpu();
          for (let i = 0; i < REQUESTS; i++) {
            const { res, beforeLog } = await send(b, route);
            if (i === 0 && round === 0) {
              const log = res.report.pdkCalls.slice(beforeLog);
              b.rpc.set(route, {
                access: beforeLog,
                log: log.length,
                auditLog: log.filter(([p]) => p === 'bulwark-audit').length,
              });
            }
          }
          b.cpu.set(route, b.cpu.get(route)! + (b.serverCpu() - c0));
        }
      }
    }
    const perRequest = (b: Bench, r: RouteName) => b.cpu.get(r)! / (REQUESTS * ROUNDS);
    const first = benches[0]!;
    process.stdout.write(
      `bulwark-audit cost, ${ROUNDS} rounds × ${REQUESTS} requests per route and build (bulwark-pluginserver, emulator)\n`,
    );
    process.stdout.write(
      `build   route     server CPU/request  ratio to plain${benches.length > 1 ? '  ratio to before' : ''}  RPCs: request  log phase (audit)\n`,
    );
    for (const b of benches) {
      for (const r of ROUTES) {
        const x = b.rpc.get(r)!;
        const vsBefore = benches.length > 1 ? (perRequest(b, r) / perRequest(first, r)).toFixed(2).padStart(17) : '';
        process.stdout.write(
          `${b.label.padEnd(7)} ${r.padEnd(9)} ${perRequest(b, r).toFixed(0).padStart(12)} µs  ${(perRequest(b, r) / perRequest(b, 'plain')).toFixed(2).padStart(14)}${vsBefore}  ${String(x.access).padStart(13)}  ${String(x.log).padStart(9)} (${x.auditLog})\n`,
        );
      }
    }
  } finally {
    for (const b of benches) await b.kong.stop();
    await echo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
