// Benchmark (not a test): the JavaScript cost of bulwark-pluginserver's per-RPC dispatch, without the socket, for an
// A/B of two builds in one process. Each build's PluginServer answers the RPCs of events of the fixture plugin `echo`
// (HandleEvent, Step, Step: two PDK calls, then "ret") through handleRequest, which is everything between a decoded
// request and its encoded reply: method dispatch, the event channel, the PDK bridge, the handler, the reply encoding.
// The socket write and read (most of a round trip's CPU, and the same for any server) and the framer's decoding are
// not in it, so the ratio shows what a change to the dispatch path saves, without the machine's I/O noise.
// Rounds alternate between the builds; the median of the per-round CPU ratios is printed.
//
//   npm run build && node dist/js/scripts/bench/pluginserver-dispatch.js --baseline DIR [--events 20000] [--rounds 9]
//     [--alloc]
//
// --alloc: also one round per build under V8's sampling heap profiler, counting objects already collected, which prints
// the bytes allocated per RPC (what the GC has to clear; the bench's own decoding of one reply per event included).
//
// DIR holds the other build's `dist` and a `node_modules` it resolves from (see chain.ts --baseline).
import inspector = require('inspector');
import path = require('path');
import { parseArgs } from 'util';
import { decode } from '@msgpack/msgpack';
import { median } from './stats';

const REPO = path.resolve(__dirname, '../../../..');
const ECHO_PLUGIN = path.join(REPO, 'spec/fixtures/pluginserver-plugins/good/echo');

const { values: opts } = parseArgs({
  options: {
    baseline: { type: 'string' },
    events: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '9' },
    alloc: { type: 'boolean', default: false },
  },
});

interface Server {
  handleRequest(message: unknown, conn: unknown): Promise<Uint8Array | null>;
}

interface Build {
  name: string;
  server: Server;
  instanceId: number;
  cpuUs: number[];
}

async function load(name: string, dist: string): Promise<Build> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { PluginServer } = require(path.join(dist, 'js/kong/pluginserver/server.js')) as {
    PluginServer: new (plugins: unknown, log: unknown) => Server;
  };
  const { loadPlugins } = require(path.join(dist, 'js/kong/pluginserver/plugins.js')) as {
    loadPlugins: (dirs: string[]) => unknown;
  };
  const { JsonLogger } = require(path.join(dist, 'js/kong/pluginserver/log.js')) as {
    JsonLogger: new (level: string) => unknown;
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const server = new PluginServer(loadPlugins([ECHO_PLUGIN]), new JsonLogger('warn'));
  const conn = newConnection();
  const reply = decode((await server.handleRequest(request('StartInstance', { Name: 'echo', Config: '{}' }), conn))!);
  const instanceId = (reply as [number, number, unknown, { Id: number }])[3].Id;
  return { name, server, instanceId, cpuUs: [] };
}

let msgid = 0;
const request = (method: string, arg: unknown): unknown[] => [0, ++msgid, `plugin.${method}`, [arg]];
const newConnection = () => ({ scope: null, alive: true, current: null, onClose: null });

/** One event: HandleEvent, then Steps until "ret" (the reply is decoded only to read the event id, once). */
async function runEvent(b: Build, conn: unknown): Promise<void> {
  const first = decode(
    (await b.server.handleRequest(request('HandleEvent', { InstanceId: b.instanceId, EventName: 'access' }), conn))!,
  ) as [number, number, unknown, { EventId: number }];
  const eventId = first[3].EventId;
  await b.server.handleRequest(request('Step', { EventId: eventId, Data: 'v' }), conn);
  const last = await b.server.handleRequest(request('Step', { EventId: eventId }), conn);
  if (!last || last[last.length - 1] !== 0x74) throw new Error(`${b.name}: the event did not end with "ret"`); // ...'ret'
}

async function round(b: Build, events: number): Promise<number> {
  const conn = newConnection();
  const before = process.cpuUsage();
  for (let i = 0; i < events; i++) await runEvent(b, conn);
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

/** Bytes allocated per RPC over one round (sampled every 256 bytes, collected objects included). */
async function allocatedPerRpc(b: Build, events: number): Promise<number> {
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await round(b, events);
  const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: HeapNode } };
  session.disconnect();
  const sum = (n: HeapNode): number => n.selfSize + n.children.reduce((t, c) => t + sum(c), 0);
  return sum(profile.head) / (events * 3);
}

interface HeapNode {
  selfSize: number;
  children: HeapNode[];
}

async function main(): Promise<void> {
  if (!opts.baseline) throw new Error('--baseline DIR is required (the build to compare with)');
  const events = Number(opts.events);
  const rounds = Number(opts.rounds);
  const builds = [
    await load('this build', path.join(REPO, 'dist')),
    await load(`baseline ${opts.baseline}`, path.resolve(opts.baseline, 'dist')),
  ];
  for (const b of builds) await round(b, Math.min(events, 5000)); // warm-up
  for (let r = 0; r < rounds; r++) for (const b of builds) b.cpuUs.push(await round(b, events));
  const rpcs = events * 3;
  console.log(`dispatch benchmark: ${rounds} rounds x ${events} events (3 RPCs each), node ${process.version}`);
  for (const b of builds)
    console.log(`  ${b.name.padEnd(40)} ${(median(b.cpuUs) / rpcs).toFixed(2).padStart(6)} µs CPU per RPC`);
  const ratios = builds[0].cpuUs.map((v, i) => v / builds[1].cpuUs[i]);
  console.log(`  this build / baseline: median of per-round ratios ${median(ratios).toFixed(2)}x`);
  if (opts.alloc) {
    for (const b of builds) {
      const bytes = await allocatedPerRpc(b, Math.min(events, 20000));
      console.log(`  ${b.name.padEnd(40)} ${bytes.toFixed(0).padStart(6)} bytes allocated per RPC (sampled)`);
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
