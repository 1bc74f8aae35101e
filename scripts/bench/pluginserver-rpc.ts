// Benchmark (not a test): the per-RPC round-trip cost of
//   (a) a bare MessagePack echo server on a Unix socket (transport + codec floor),
//   (b) the stock kong-js-pluginserver (kong-pdk 0.6.0),
//   (c) bulwark-pluginserver,
// for the Kong sequence of one event of a plugin making 2 PDK calls: HandleEvent, Step, Step (3 RPCs),
// on one persistent connection as Kong's keep-alive pool uses it. Rounds alternate between the servers so
// that machine noise hits all three alike; the median round is reported.
//
//   npm run build && node dist/js/scripts/bench/pluginserver-rpc.js [--sequences 2000] [--rounds 7]
import { ChildProcess, spawn } from 'child_process';
import fs = require('fs');
import net = require('net');
import os = require('os');
import path = require('path');
import { parseArgs } from 'util';
import { decodeMultiStream, encode } from '@msgpack/msgpack';
import { RpcClient } from '../../kong/pluginserver/rpc-client';

const REPO = path.resolve(__dirname, '../../../..');
const CLI = path.join(REPO, 'dist/js/kong/pluginserver/cli.js');
const FIXTURES = path.join(REPO, 'spec/fixtures/pluginserver-plugins');
const STOCK_BIN = require.resolve('kong-pdk/bin/kong-js-pluginserver');

/** (a): replies to every request with its own argument. */
function runEchoServer(socketPath: string): void {
  const server = net.createServer(async (socket) => {
    try {
      for await (const message of decodeMultiStream(socket)) {
        const [, msgid, , params] = message as [number, number, string, unknown[]];
        socket.write(encode([1, msgid, null, params[0]]));
      }
    } catch {
      socket.destroy();
    }
  });
  server.listen(socketPath);
  process.on('SIGTERM', () => process.exit(0));
}

interface Target {
  name: string;
  child: ChildProcess;
  client: RpcClient;
  /** Runs one HandleEvent + Step + Step sequence. */
  sequence(): Promise<void>;
  samples: number[];
}

async function waitForFile(file: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(file)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${file} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function pluginTarget(name: string, args: string[], socketPath: string): Promise<Target> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForFile(socketPath, child);
  const client = await RpcClient.connect(socketPath);
  const start = (await client.call('plugin.StartInstance', { Name: 'echo', Config: '{"greeting":"hi"}' })) as { Id: number };
  return {
    name,
    child,
    client,
    samples: [],
    async sequence() {
      const first = (await client.call('plugin.HandleEvent', { InstanceId: start.Id, EventName: 'access' })) as { EventId: number };
      await client.call('plugin.Step', { EventId: first.EventId, Data: 'value' });
      const last = (await client.call('plugin.Step', { EventId: first.EventId })) as { Data: unknown };
      if (last.Data !== 'ret') throw new Error(`${name}: expected "ret", got ${JSON.stringify(last)}`);
    },
  };
}

async function echoTarget(socketPath: string): Promise<Target> {
  const child = spawn(process.execPath, [__filename, '--echo-server', socketPath], { stdio: 'inherit' });
  await waitForFile(socketPath, child);
  const client = await RpcClient.connect(socketPath);
  // The same three requests, answered with replies of a similar size.
  return {
    name: '(a) msgpack echo',
    child,
    client,
    samples: [],
    async sequence() {
      await client.call('plugin.HandleEvent', { InstanceId: 1, EventName: 'access', Method: 'kong.request.get_header' });
      await client.call('plugin.Step', { EventId: 1, Data: 'value', Method: 'kong.response.set_header' });
      await client.call('plugin.Step', { EventId: 1, Data: 'ret' });
    },
  };
}

async function timeSequences(target: Target, count: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await target.sequence();
  return Number(process.hrtime.bigint() - start) / 1000 / count; // µs per sequence
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sequences: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '7' } },
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
        [CLI, '-d', path.join(FIXTURES, 'good/echo'), '-p', dir],
        path.join(dir, 'echo.sock'),
      ),
    );
    for (const t of targets) await timeSequences(t, Math.min(500, sequences)); // warm-up (JIT)
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) t.samples.push(await timeSequences(t, sequences));
    }

    const perSequence = targets.map((t) => median(t.samples));
    console.log(`pluginserver RPC benchmark: ${rounds} rounds x ${sequences} sequences (HandleEvent + 2 Steps = 3 RPCs), median round`);
    console.log(`node ${process.version}, ${os.cpus().length} cpu(s)`);
    targets.forEach((t, i) => {
      const us = perSequence[i];
      console.log(`  ${t.name.padEnd(32)} ${us.toFixed(1).padStart(8)} µs/sequence ${(us / 3).toFixed(1).padStart(8)} µs/RPC`);
    });
    const [a, b, c] = perSequence;
    console.log(`  ratios: b/a = ${(b / a).toFixed(2)}   c/a = ${(c / a).toFixed(2)}   c/b = ${(c / b).toFixed(2)}`);
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
