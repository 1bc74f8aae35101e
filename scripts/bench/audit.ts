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
// Usage: npm run build && node dist/js/scripts/bench/audit.js [--requests 200] [--rounds 5]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { KongEmulator } from '../../kong/emulator/kong';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { startEchoUpstream } from '../../kong/echo-upstream/server';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '200' }, rounds: { type: 'string', default: '5' } },
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

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-audit-bench-'));
  const echo = await startEchoUpstream(0);
  const kong = await KongEmulator.start({ server: 'bulwark', plugins: ['bulwark-audit', 'bulwark-rate-limit'] });
  try {
    const limit = { limit_by: ['ip'], limits: [{ name: 'hour', limit: 1_000_000, window_seconds: 3600 }] };
    const audit = (file: string, abuse: boolean) => ({
      decisions: ['allow', 'deny', 'error', 'monitor-deny'],
      sinks: { file: { path: path.join(dir, file) } },
      ...(abuse ? { abuse: { enabled: true } } : {}),
    });
    kong.setConfig(
      loadDeclarative(
        JSON.stringify({
          _format_version: '3.0',
          services: [
            {
              name: 'svc',
              url: `http://127.0.0.1:${echo.port}`,
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
    const serverCpu = () => pids.reduce((sum, pid) => sum + processCpuMicros(pid), 0);

    const cpu = new Map<RouteName, number>(ROUTES.map((r) => [r, 0]));
    const rpc = new Map<RouteName, { access: number; log: number; auditLog: number }>();
    const send = async (route: RouteName) => {
      const res = await kong.request({ path: `/${route}/x` });
      const beforeLog = res.report.pdkCalls.length;
      await res.report.logDone;
      return { res, beforeLog };
    };
    for (let i = 0; i < 20; i++) for (const r of ROUTES) await send(r); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const route of ROUTES) {
        const c0 = serverCpu();
        for (let i = 0; i < REQUESTS; i++) {
          const { res, beforeLog } = await send(route);
          if (i === 0 && round === 0) {
            const calls = res.report.pdkCalls;
            const log = calls.slice(beforeLog);
            rpc.set(route, {
              access: beforeLog,
              log: log.length,
              auditLog: log.filter(([p]) => p === 'bulwark-audit').length,
            });
          }
        }
        cpu.set(route, cpu.get(route)! + (serverCpu() - c0));
      }
    }
    const perRequest = (r: RouteName) => cpu.get(r)! / (REQUESTS * ROUNDS);
    process.stdout.write(
      `bulwark-audit cost, ${ROUNDS} rounds × ${REQUESTS} requests per route (bulwark-pluginserver, emulator)\n`,
    );
    process.stdout.write('route     server CPU/request  ratio to plain  RPCs: request  log phase (audit)\n');
    for (const r of ROUTES) {
      const x = rpc.get(r)!;
      process.stdout.write(
        `${r.padEnd(9)} ${perRequest(r).toFixed(0).padStart(12)} µs  ${(perRequest(r) / perRequest('plain')).toFixed(2).padStart(14)}  ${String(x.access).padStart(13)}  ${String(x.log).padStart(9)} (${x.auditLog})\n`,
      );
    }
  } finally {
    await kong.stop();
    await echo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
