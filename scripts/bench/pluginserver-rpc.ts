// Benchmark (not a test): the per-RPC round-trip cost of
//   (a) a bare MessagePack echo server on a Unix socket (transport + codec floor; same framer as (c)),
//   (b) the stock kong-js-pluginserver (kong-pdk 0.6.0),
//   (c) bulwark-pluginserver,
// for the Kong sequence of one event of a plugin making 2 PDK calls: HandleEvent, Step, Step (3 RPCs),
// on one persistent connection as Kong's keep-alive pool uses it. Short rounds alternate between the
// servers so that machine noise hits all three alike; the median round is reported. Wall time on a shared
// 2-core machine is noisy, so the CPU time each server process spent (Linux /proc/<pid>/stat, 10 ms ticks,
// summed over all rounds) is reported too: it is the server's own cost, whatever else runs.
//
//   npm run build && node dist/js/scripts/bench/pluginserver-rpc.js [--sequences 400] [--rounds 15]
import { ChildProcess, spawn } from 'child_process';
import fs = require('fs');
import os = require('os');
import path = require('path');
import { parseArgs } from 'util';
import { runEchoServer } from './echo-server';
import { acceptsConnections } from '../../kong/emulator/plugin-server';
import { RpcTestClient } from '../../kong/test-tools/rpc-test-client';
import { median } from './stats';

const REPO = path.resolve(__dirname, '../../../..');
const CLI = path.join(REPO, 'dist/js/kong/pluginserver/cli.js');
const FIXTURES = path.join(REPO, 'spec/fixtures/pluginserver-plugins');
const STOCK_BIN = require.resolve('kong-pdk/bin/kong-js-pluginserver');

/** (a): replies to every request with its own argument, synchronously on each read. */
interface Target {
  name: string;
  child: ChildProcess;
  client: RpcTestClient;
  /** Runs one HandleEvent + Step + Step sequence. */
  sequence(): Promise<void>;
  samples: number[];
  cpuMs: number;
}

/** CPU time (user + system) a process has used, in ms, or NaN where /proc is not available. */
function processCpuMs(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100) ticks
  } catch {
    return NaN;
  }
}

async function waitForListening(socket: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(socket) || !(await acceptsConnections(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nothing listens on ${socket}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function pluginTarget(name: string, args: string[], socketPath: string): Promise<Target> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForListening(socketPath, child);
  const client = await RpcTestClient.connect(socketPath);
  const start = (await client.call('plugin.StartInstance', { Name: 'echo', Config: '{"greeting":"hi"}' })) as {
    Id: number;
  };
  return {
    name,
    child,
    client,
    samples: [],
    cpuMs: 0,
    async sequence() {
      const first = (await client.call('plugin.HandleEvent', { InstanceId: start.Id, EventName: 'access' })) as {
        EventId: number;
      };
      await client.call('plugin.Step', { EventId: first.EventId, Data: 'value' });
      const last = (await client.call('plugin.Step', { EventId: first.EventId })) as { Data: unknown };
      if (last.Data !== 'ret') throw new Error(`${name}: expected "ret", got ${JSON.stringify(last)}`);
    },
  };
}

async function echoTarget(socketPath: string): Promise<Target> {
  const child = spawn(process.execPath, [__filename, '--echo-server', socketPath], { stdio: 'inherit' });
  await waitForListening(socketPath, child);
  const client = await RpcTestClient.connect(socketPath);
  // The same three requests, answered with replies of a similar size.
  return {
    name: '(a) msgpack echo',
    child,
    client,
    samples: [],
    cpuMs: 0,
    async sequence() {
      await client.call('plugin.HandleEvent', {
        InstanceId: 1,
        EventName: 'access',
        Method: 'kong.request.get_header',
      });
      await client.call('plugin.Step', { EventId: 1, Data: 'value', Method: 'kong.response.set_header' });
      await client.call('plugin.Step', { EventId: 1, Data: 'ret' });
    },
  };
}

async function timeSequences(target: Target, count: number): Promise<number> {
  const cpuBefore = processCpuMs(target.child.pid);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await target.sequence();
  const us = Number(process.hrtime.bigint() - start) / 1000 / count; // µs per sequence
  target.cpuMs += processCpuMs(target.child.pid) - cpuBefore;
  return us;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sequences: { type: 'string', default: '400' }, rounds: { type: 'string', default: '15' } },
  });
  const sequences = Number(values.sequences);
  const rounds = Number(values.rounds);
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-bench-'));
  const targets: Target[] = [];
  try {
    targets.push(await echoTarget(path.join(dir, 'echo-server.sock')));
    targets.push(
      await pluginTarget(
        '(b) stock kong-js-pluginserver',
        [STOCK_BIN, '-d', path.join(FIXTURES, 'stock-layout'), '-p', dir, '--sock-name', 'stock.sock'],
        path.join(dir, 'stock.sock'),
      ),
    );
    targets.push(
      await pluginTarget(
        '(c) bulwark-pluginserver',
        // One process, like the stock server's: /proc/<pid> below reads this pid only (the default --workers forks).
        [CLI, '-d', path.join(FIXTURES, 'good/echo'), '-p', dir, '--workers', '1'],
        path.join(dir, 'echo.sock'),
      ),
    );
    for (const t of targets) {
      await timeSequences(t, 1000); // warm-up (JIT)
      t.cpuMs = 0;
    }
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) t.samples.push(await timeSequences(t, sequences));
    }

    const rpcs = rounds * sequences * 3;
    const wall = targets.map((t) => median(t.samples) / 3);
    const cpu = targets.map((t) => (t.cpuMs * 1000) / rpcs);
    const ratios = (xs: number[]): string =>
      `b/a = ${(xs[1] / xs[0]).toFixed(2)}   c/a = ${(xs[2] / xs[0]).toFixed(2)}   c/b = ${(xs[2] / xs[1]).toFixed(2)}`;
    console.log(
      `pluginserver RPC benchmark: ${rounds} rounds x ${sequences} sequences of HandleEvent + 2 Steps (3 RPCs)`,
    );
    console.log(`node ${process.version}, ${os.cpus().length} cpu(s), load average ${os.loadavg()[0].toFixed(2)}`);
    console.log(`  ${''.padEnd(32)} ${'round trip'.padStart(12)} ${'server CPU'.padStart(12)}`);
    targets.forEach((t, i) => {
      console.log(
        `  ${t.name.padEnd(32)} ${wall[i].toFixed(1).padStart(7)} µs/RPC ${cpu[i].toFixed(1).padStart(7)} µs/RPC`,
      );
    });
    console.log(`  round trip (median round): ${ratios(wall)}`);
    console.log(`  server CPU (all rounds):   ${ratios(cpu)}`);
  } finally {
    for (const t of targets) {
      t.client.close();
      t.child.kill('SIGTERM');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--echo-server') {
  runEchoServer(process.argv[3]);
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
