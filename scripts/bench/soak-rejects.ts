#!/usr/bin/env node
// Soak: N requests rejected by bulwark-transport (plain HTTP in reject mode → kong.response.exit(426)) through the
// Kong emulator, on the stock kong-js-pluginserver and on bulwark-pluginserver, side by side in one run.
// Kong never steps an exited event again, so the stock server keeps every rejected event forever.
// Usage: node dist/js/scripts/bench/soak-rejects.js [N=100000] [concurrency=32]
import * as fs from 'node:fs';
import { KongEmulator } from '../../kong/emulator/kong';
import { RpcClient } from '../../kong/emulator/rpc';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { pluginServerEntries, distPluginsDir } from '../../kong/emulator/plugin-server';
import * as os from 'node:os';
import * as path from 'node:path';

const CONFIG = `
_format_version: "3.0"
services:
  - name: s
    url: http://127.0.0.1:9
    routes: [{ name: r, paths: ["/"] }]
plugins:
  - name: bulwark-transport
    config: { https: { mode: reject } }
`;

export interface SoakResult {
  server: 'stock' | 'bulwark';
  requests: number;
  rejected: number;
  seconds: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** bulwark-pluginserver's live event count (GetStatus); undefined for the stock server, which has no such RPC. */
  eventsAfter?: number;
  heapBeforeMiB?: number;
  heapAfterMiB?: number;
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function status(kong: KongEmulator): Promise<{ Events: number; Heap: number } | undefined> {
  const rpc = new RpcClient(kong.plugins.get('bulwark-transport')!.entry.socket);
  try {
    return (await rpc.call('plugin.GetStatus', { Gc: true })) as { Events: number; Heap: number };
  } finally {
    rpc.close();
  }
}

async function gcSettle(kong: KongEmulator, server: string): Promise<void> {
  // Give the server a moment to finish writing replies and collect garbage (V8 runs GC when idle).
  if (server === 'bulwark') await status(kong);
  await new Promise((r) => setTimeout(r, 1500));
}

export async function soak(server: 'stock' | 'bulwark', requests: number, concurrency: number): Promise<SoakResult> {
  // node --expose-gc so that bulwark-pluginserver's GetStatus can collect garbage before reporting its heap.
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-soak-'));
  const entries = pluginServerEntries(server, prefix, ['bulwark-transport'], distPluginsDir).map((e) => ({
    ...e,
    startCmd: e.startCmd && [e.startCmd[0], '--expose-gc', ...e.startCmd.slice(1)],
  }));
  const kong = await KongEmulator.start({ server, entries, workers: 2 });
  try {
    kong.setConfig(loadDeclarative(CONFIG, { knownPlugins: new Set(kong.plugins.keys()) }));
    const pid = kong.processes[0].child.pid!;
    // Warm up (instances started, JIT warm) before the baseline.
    for (let i = 0; i < 200; i++) await kong.request({ path: '/warm' });
    await gcSettle(kong, server);
    const before = server === 'bulwark' ? await status(kong) : undefined;
    const rssBefore = rssMiB(pid);
    const t0 = Date.now();
    let sent = 0;
    let rejected = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (sent < requests) {
          sent++;
          const res = await kong.request({ path: '/x' });
          if (res.status === 426) rejected++;
        }
      }),
    );
    const seconds = (Date.now() - t0) / 1000;
    await gcSettle(kong, server);
    const after = server === 'bulwark' ? await status(kong) : undefined;
    return {
      server,
      requests,
      rejected,
      seconds,
      rssBeforeMiB: rssBefore,
      rssAfterMiB: rssMiB(pid),
      eventsAfter: after?.Events,
      heapBeforeMiB: before ? before.Heap / 2 ** 20 : undefined,
      heapAfterMiB: after ? after.Heap / 2 ** 20 : undefined,
    };
  } finally {
    await kong.stop();
  }
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 100_000);
  const c = Number(process.argv[3] ?? 32);
  (async () => {
    const rows: SoakResult[] = [];
    for (const server of ['stock', 'bulwark'] as const) rows.push(await soak(server, n, c));
    const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));
    process.stdout.write(`soak: ${n} rejected requests (426 exits), concurrency ${c}\n`);
    process.stdout.write(
      'server   | rejected | seconds | RSS before MiB | RSS after MiB | RSS growth | events after | heap before/after MiB\n',
    );
    for (const r of rows) {
      process.stdout.write(
        `${r.server.padEnd(8)} | ${String(r.rejected).padStart(8)} | ${r.seconds.toFixed(1).padStart(7)} | ${f(r.rssBeforeMiB).padStart(14)} | ${f(r.rssAfterMiB).padStart(13)} | ${f(r.rssAfterMiB - r.rssBeforeMiB).padStart(10)} | ${String(r.eventsAfter ?? '(no RPC)').padStart(12)} | ${f(r.heapBeforeMiB)}/${f(r.heapAfterMiB)}\n`,
      );
    }
    const [stock, ours] = rows;
    process.stdout.write(
      `RSS growth ratio stock/bulwark: ${((stock.rssAfterMiB - stock.rssBeforeMiB) / Math.max(0.1, ours.rssAfterMiB - ours.rssBeforeMiB)).toFixed(1)}\n`,
    );
  })().catch((e) => {
    process.stderr.write(String(e?.stack ?? e) + '\n');
    process.exit(1);
  });
}
