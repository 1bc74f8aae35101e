// Benchmark (not a test): what the repository's kong.yml chain (bulwark-transport → bulwark-jwt → bulwark-rate-limit →
// bulwark-authz → bulwark-validator on the orders route) costs the plugin server, per request:
//
//   1. through the Kong emulator, bulwark-pluginserver vs the stock kong-js-pluginserver: PDK round trips per request
//      (per plugin, from the emulator's per-request count) and the plugin-server processes' CPU per request, for the
//      accepted request and the reject paths, and for each plugin alone (a route with only that plugin);
//   2. a synthetic Kong-side RPC driver replaying the recorded RPC traffic of accepted chain requests against a
//      plugin server it starts itself (no emulator in the way: the driver only sends recorded bytes and checks the
//      replies name the recorded PDK calls), bulwark-pluginserver with 1 and N workers, the stock server, and a bare
//      MessagePack echo server answering the same requests (the transport + codec floor);
//   3. the emulator's own CPU per request.
//
// The machine is shared and noisy: every figure of one kind comes from the same run, rounds alternate between the
// targets, and ratios are what to compare. Plugin-server CPU is read from /proc (10 ms ticks) over all the server's
// processes (the stock server runs one per plugin; bulwark-pluginserver with --workers N forks N).
// The rate-limit limits are raised and its Redis store removed (in-memory store), so that the accepted request stays
// accepted; everything else is kong.yml as shipped.
//
//   npm run build && node dist/js/scripts/bench/chain.js [--requests 300] [--rounds 5] [--workers 1,2]
//     [--driver-requests 4000] [--concurrency 16] [--driver c|js] [--cpu-prof-dir DIR] [--baseline DIR,...] [--no-stock]
//     [--driver-rounds N]
//
// --cpu-prof-dir: bulwark-pluginserver with --workers 1 runs under `node --cpu-prof` and leaves its profile there.
// --baseline DIR,...: section 2 also drives other builds' bulwark-pluginserver with 1 worker, for an A/B in one run:
//   each DIR holds that build's `dist` and a `node_modules` it resolves from (before changing the server: `cp -r dist
//   DIR/dist && cp -al node_modules DIR/node_modules`); the ratios this build / DIR are printed.
// --no-stock: section 2 leaves out the stock kong-js-pluginserver (section 1 still compares it).
// --driver-rounds N: section 2's rounds (default: --rounds), e.g. many driver rounds after a short section 1.
//
// The synthetic driver's replay loop is C (scripts/bench/chain-driver.c, compiled here with `gcc -O2` into a temp
// dir): the JS driver costs about as much CPU per RPC as the server it drives, which on a 2-core machine leaves no core
// for a second worker. Without gcc (or with --driver js) the JS driver below runs instead, with a note.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { generateKeyPairSync } from 'crypto';
import fs = require('fs');
import net = require('net');
import os = require('os');
import path = require('path');
import { parseArgs } from 'util';
import { encode } from '@msgpack/msgpack';
import YAML = require('yaml');
import { MessageFramer } from '../../kong/pluginserver/framer';
import { runEchoServer } from './echo-server';
import { startGatewayServer, RunningGateway } from '../../kong/emulator/gateway';
import { RpcClient } from '../../kong/emulator/rpc';
import type { EmulatedResponse } from '../../kong/emulator/kong';
import { acceptsConnections, repoRoot } from '../../kong/emulator/plugin-server';
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import { treeCpuMs } from './process-cpu';
import { median } from './stats';

const CLI = path.join(repoRoot, 'dist/js/kong/pluginserver/cli.js');
const PLUGINS_ROOT = path.join(repoRoot, 'dist/plugins');
const STOCK_BIN = require.resolve('kong-pdk/bin/kong-js-pluginserver');
const CHAIN = ['bulwark-transport', 'bulwark-jwt', 'bulwark-rate-limit', 'bulwark-authz', 'bulwark-validator'];

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1,2' },
    'driver-requests': { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '16' },
    driver: { type: 'string', default: 'c' },
    'cpu-prof-dir': { type: 'string' },
    'echo-server': { type: 'string' },
    baseline: { type: 'string' },
    'no-stock': { type: 'boolean', default: false },
    'driver-rounds': { type: 'string' },
  },
});

// ------------------------------------------------------------------------------------------------ process CPU

const sumCpu = (pids: number[]): number => pids.reduce((s, p) => s + treeCpuMs(p), 0);

// ------------------------------------------------------------------------------------------------ the chain config

/** kong.yml with the rate limits raised and the Redis store dropped, plus one route per chain plugin alone. */
function benchConfig(): string {
  const doc = YAML.parse(fs.readFileSync(path.join(repoRoot, 'kong.yml'), 'utf8')) as {
    services: { name: string; url: string; routes?: unknown[]; plugins?: { name: string; config: unknown }[] }[];
  };
  // Only the token service and the orders API (the other demo services use plugins outside the chain).
  for (const key of Object.keys(doc))
    if (key !== '_format_version' && key !== 'services') delete (doc as Record<string, unknown>)[key];
  doc.services = doc.services.filter((s) => s.name === 'auth' || s.name === 'orders');
  // The driver replays recorded requests, token included: a day-long token outlives any run (kong.yml: 300 s).
  const oauth2 = doc.services.find((s) => s.name === 'auth')?.plugins?.find((p) => p.name === 'bulwark-oauth2');
  if (!oauth2) throw new Error('kong.yml has no auth service with bulwark-oauth2');
  (oauth2.config as Record<string, unknown>).token_ttl = 86400;
  const orders = doc.services.find((s) => s.name === 'orders');
  if (!orders?.plugins) throw new Error('kong.yml has no orders service with plugins');
  // bulwark-threat-protection and bulwark-docs sit on the orders route too; they are outside the chain #22
  // measures (threat-protection's own cost is scripts/bench/threat-protection.ts; docs answers only its own paths).
  orders.plugins = orders.plugins.filter((p) => CHAIN.includes(p.name));
  const names = orders.plugins.map((p) => p.name);
  if (names.join() !== CHAIN.join()) throw new Error(`kong.yml's orders chain changed: ${names.join(', ')}`);
  const rl = orders.plugins.find((p) => p.name === 'bulwark-rate-limit')!.config as Record<string, unknown>;
  delete rl.redis;
  delete rl.on_redis_error;
  rl.limits = [{ name: 'second', limit: 1_000_000_000, window_seconds: 1 }];
  for (const plugin of orders.plugins) {
    doc.services.push({
      name: `alone-${plugin.name}`,
      url: orders.url,
      routes: [
        { name: `alone-${plugin.name}`, hosts: [`${plugin.name}.alone`], paths: ['/orders'], strip_path: false },
      ],
      plugins: [plugin],
    });
  }
  return YAML.stringify(doc);
}

// ------------------------------------------------------------------------------------------------ recording

interface RecordedCall {
  socket: string;
  method: string;
  arg: unknown;
  result: unknown;
  /** The event the call belongs to (HandleEvent: the id it returned; a Step: the id it names); 0 for other calls. */
  eventId: number;
}

/** Everything the emulator sends to plugin servers while `recording` is set (the emulator's RpcClient, wrapped). */
const recorder: { recording: RecordedCall[] | null; starts: RecordedCall[] } = { recording: null, starts: [] };
const originalCall = RpcClient.prototype.call;
RpcClient.prototype.call = async function (this: RpcClient, method: string, arg: unknown): Promise<unknown> {
  const result = await originalCall.call(this, method, arg);
  const eventId =
    method === 'plugin.HandleEvent'
      ? (result as { EventId: number }).EventId
      : method.startsWith('plugin.Step')
        ? (arg as { EventId: number }).EventId
        : 0;
  const entry = { socket: path.basename(this.socketPath), method, arg, result, eventId };
  if (method === 'plugin.StartInstance') recorder.starts.push(entry);
  recorder.recording?.push(entry);
  return result;
};

// ------------------------------------------------------------------------------------------------ emulator runs

interface Scenario {
  name: string;
  expect: number;
  request: (token: string) => Parameters<RunningGateway['kong']['request']>[0];
}

function scenarios(): Scenario[] {
  const get = (p: string, headers: Record<string, string>) => ({
    method: 'GET',
    path: p,
    scheme: 'https' as const,
    headers,
  });
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const list: Scenario[] = [
    { name: 'chain: accepted GET', expect: 200, request: (t) => get('/orders?limit=10', auth(t)) },
    {
      name: 'chain: accepted POST',
      expect: 200,
      request: (t) => ({
        method: 'POST',
        path: '/orders',
        scheme: 'https',
        headers: { ...auth(t), 'Content-Type': 'application/json' },
        body: JSON.stringify({ item: 'book', quantity: 1 }),
      }),
    },
    {
      name: 'chain: plain HTTP (transport 301)',
      expect: 301,
      request: (t) => ({ ...get('/orders', auth(t)), scheme: 'http' }),
    },
    { name: 'chain: no token (jwt 401)', expect: 401, request: () => get('/orders?limit=10', {}) },
    { name: 'chain: bad query (validator 400)', expect: 400, request: (t) => get('/orders?limit=1000', auth(t)) },
  ];
  for (const plugin of CHAIN) {
    list.push({
      name: `alone: ${plugin}`,
      // bulwark-authz alone has no identity to authorise: its refusal is the path measured.
      expect: plugin === 'bulwark-authz' ? 403 : 200,
      request: (t) => get('/orders?limit=10', { ...auth(t), Host: `${plugin}.alone` }),
    });
  }
  return list;
}

interface EmulatorTarget {
  kind: 'bulwark' | 'stock';
  gw: RunningGateway;
  token: string;
  pids: number[];
}

async function startEmulator(kind: 'bulwark' | 'stock', config: string, echoPort: number): Promise<EmulatorTarget> {
  const gw = await startGatewayServer({
    declarativeConfig: config,
    proxyPort: 0,
    adminPort: 0,
    selfProxyPort: 8000,
    server: kind,
    plugins: [...CHAIN, 'bulwark-oauth2'],
    luaPlugins: [],
    upstreamAliases: { echo: { host: '127.0.0.1', port: echoPort } },
  });
  const t: EmulatorTarget = { kind, gw, token: '', pids: gw.kong.processes.map((p) => p.child.pid!).filter(Boolean) };
  await refreshToken(t);
  return t;
}

/** A new token from bulwark-oauth2 (token_ttl is 300 s: a slow run outlives one). */
async function refreshToken(t: EmulatorTarget): Promise<void> {
  const r = await t.gw.kong.request({
    method: 'POST',
    path: '/oauth2/token',
    scheme: 'https',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body:
      'grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret-change-me' +
      '&scope=orders%3Aread%20orders%3Awrite',
  });
  if (r.status !== 200) throw new Error(`token request: ${r.status} ${r.body.toString()}`);
  t.token = (JSON.parse(r.body.toString()) as { access_token: string }).access_token;
}

async function runScenario(t: EmulatorTarget, s: Scenario): Promise<EmulatedResponse> {
  const r = await t.gw.kong.request(s.request(t.token));
  if (r.status !== s.expect) throw new Error(`${t.kind} ${s.name}: status ${r.status} ${r.body.toString()}`);
  if (r.report.failOpen.length > 0)
    throw new Error(`${t.kind} ${s.name}: fail-open ${JSON.stringify(r.report.failOpen)}`);
  await r.report.logDone;
  return r;
}

interface ScenarioFigures {
  rpcs: Record<string, number>;
  serverCpuUs: number[];
  emulatorCpuUs: number[];
}

async function emulatorSection(targets: EmulatorTarget[], config: string, echoPort: number): Promise<RecordedCall[][]> {
  const requests = Number(opts.requests);
  const rounds = Number(opts.rounds);
  const recorded: RecordedCall[][] = [];
  let recordingNote = '';
  {
    targets.push(await startEmulator('bulwark', config, echoPort));
    targets.push(await startEmulator('stock', config, echoPort));
    const list = scenarios();
    const figures = new Map<string, ScenarioFigures>();
    for (const t of targets) {
      for (const s of list) {
        for (let i = 0; i < 200; i++) await runScenario(t, s); // warm-up: instances, JWKS, JIT
        const r = await runScenario(t, s);
        figures.set(`${t.kind}|${s.name}`, { rpcs: r.report.rpcCallsByPlugin, serverCpuUs: [], emulatorCpuUs: [] });
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const t of targets) await refreshToken(t);
      for (const s of list) {
        for (const t of targets) {
          const f = figures.get(`${t.kind}|${s.name}`)!;
          const cpu0 = sumCpu(t.pids);
          const own0 = process.cpuUsage();
          for (let i = 0; i < requests; i++) await runScenario(t, s);
          const own = process.cpuUsage(own0);
          f.serverCpuUs.push(((sumCpu(t.pids) - cpu0) * 1000) / requests);
          f.emulatorCpuUs.push((own.user + own.system) / requests);
        }
      }
    }
    // The accepted GET, recorded on bulwark for the driver, with a fresh token (valid for the driver's 300 s).
    const bulwark = targets[0];
    await refreshToken(bulwark);
    for (let i = 0; i < 20; i++) {
      recorder.recording = [];
      await runScenario(bulwark, list[0]);
      // Only the chain's events: a call to another plugin (bulwark-oauth2 serving a JWKS fetch) is not the chain's.
      const chainCalls = recorder.recording.filter(
        (c) =>
          c.eventId !== 0 &&
          CHAIN.includes(c.socket.replace(/\.sock$/, '')) &&
          (c.method === 'plugin.HandleEvent' || c.method.startsWith('plugin.Step')),
      );
      recorded.push(chainCalls);
      if (i === 0) {
        const events = new Set(chainCalls.map((c) => c.eventId));
        let switches = 0;
        for (let k = 1; k < chainCalls.length; k++) if (chainCalls[k].eventId !== chainCalls[k - 1].eventId) switches++;
        recordingNote =
          `recording: ${recorder.recording.length} RPCs, ${chainCalls.length} of the chain in ${events.size} events` +
          ` (${switches + 1 > events.size ? 'interleaved' : 'not interleaved'}; other calls dropped: ` +
          `${[...new Set(recorder.recording.filter((c) => !chainCalls.includes(c)).map((c) => `${c.socket} ${c.method}`))].join(', ') || 'none'})`;
      }
      recorder.recording = null;
    }
    console.log(`\n${recordingNote}`);
    console.log(`\n1. Through the Kong emulator: ${rounds} rounds x ${requests} requests per scenario and server`);
    console.log(
      `  ${'scenario'.padEnd(36)} ${'RPCs bulwark'.padStart(13)} ${'RPCs stock'.padStart(11)}` +
        ` ${'CPU bulwark'.padStart(12)} ${'CPU stock'.padStart(10)} ${'stock/bulwark'.padStart(14)} ${'emulator CPU'.padStart(13)}`,
    );
    for (const s of list) {
      const b = figures.get(`bulwark|${s.name}`)!;
      const st = figures.get(`stock|${s.name}`)!;
      const total = (r: Record<string, number>) => Object.values(r).reduce((a, c) => a + c, 0);
      const cb = median(b.serverCpuUs);
      const cs = median(st.serverCpuUs);
      console.log(
        `  ${s.name.padEnd(36)} ${String(total(b.rpcs)).padStart(13)} ${String(total(st.rpcs)).padStart(11)}` +
          ` ${cb.toFixed(0).padStart(9)} µs ${cs.toFixed(0).padStart(7)} µs ${(cs / cb).toFixed(2).padStart(13)}x` +
          ` ${median(b.emulatorCpuUs).toFixed(0).padStart(10)} µs`,
      );
      if (s.name.startsWith('chain')) {
        console.log(`  ${''.padEnd(36)} per plugin: ${CHAIN.map((p) => `${p.slice(8)} ${b.rpcs[p] ?? 0}`).join(', ')}`);
      }
    }
  }
  return recorded;
}

// ------------------------------------------------------------------------------------------------ synthetic driver

/** One Kong-side connection: one request at a time, written with one write, as mp_rpc.lua does. */
class DriverConnection {
  private readonly framer = new MessageFramer();
  private waiter: ((reply: unknown[]) => void) | null = null;
  private failure: ((err: Error) => void) | null = null;
  private msgid = 0;
  /** (bulwark with workers) the worker serving this connection: the owner of the events it starts. */
  worker = -1;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const message of this.framer.push(chunk)) {
        const w = this.waiter;
        this.waiter = null;
        w?.(message as unknown[]);
      }
    });
    socket.on('close', () => this.failure?.(new Error('connection closed')));
    socket.on('error', () => undefined);
  }

  static connect(socketPath: string): Promise<DriverConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('error', reject);
      s.once('connect', () => resolve(new DriverConnection(s)));
    });
  }

  call(method: string, arg: unknown): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failure = reject;
      this.socket.write(encode([0, ++this.msgid, method, [arg]]));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** LIFO pools of connections per socket, as nginx's keep-alive pool hands them out. */
class DriverPools {
  private readonly idle = new Map<string, DriverConnection[]>();
  private readonly all: DriverConnection[] = [];

  /** Steps sent on a connection of another worker than the event's owner (bulwark with workers). */
  forwardedSteps = 0;
  steps = 0;
  constructor(
    private readonly socketFor: (name: string) => string,
    private readonly workers = 1,
  ) {}

  async call(socket: string, method: string, arg: unknown): Promise<unknown[]> {
    const list = this.idle.get(socket) ?? [];
    this.idle.set(socket, list);
    let conn = list.pop();
    if (!conn) {
      conn = await DriverConnection.connect(this.socketFor(socket));
      this.all.push(conn);
    }
    if (this.workers > 1 && method.startsWith('plugin.Step')) {
      this.steps++;
      if (conn.worker >= 0 && (arg as { EventId: number }).EventId % this.workers !== conn.worker)
        this.forwardedSteps++;
    }
    const reply = await conn.call(method, arg);
    // A HandleEvent is never forwarded: the worker that answers it owns the event (id ≡ worker mod N).
    if (this.workers > 1 && method === 'plugin.HandleEvent' && reply[2] == null) {
      conn.worker = (reply[3] as { EventId: number }).EventId % this.workers;
    }
    list.push(conn);
    return reply;
  }

  close(): void {
    for (const c of this.all) c.close();
  }
}

interface DriverTarget {
  name: string;
  pids: number[];
  children: ChildProcess[];
  socketFor: (plugin: string) => string;
  echo: boolean;
  workers: number;
}

async function waitForSocket(socketPath: string, children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(socketPath) || !(await acceptsConnections(socketPath))) {
    if (children.some((c) => c.exitCode !== null) || Date.now() > deadline) throw new Error(`nothing on ${socketPath}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function startDriverTarget(
  kind: 'bulwark' | 'baseline' | 'stock' | 'echo',
  workers: number,
  baselineDir = '',
): Promise<DriverTarget> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-chain-'));
  const env = { ...process.env, BULWARK_OAUTH2_SIGNING_KEY: process.env.BULWARK_OAUTH2_SIGNING_KEY };
  const children: ChildProcess[] = [];
  const run = (args: string[]) => {
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'ignore'], env });
    children.push(c);
    return c;
  };
  if (kind === 'bulwark' || kind === 'baseline') {
    const dist = kind === 'baseline' ? path.resolve(baselineDir, 'dist') : path.join(repoRoot, 'dist');
    const cli = path.join(dist, 'js/kong/pluginserver/cli.js');
    const args = [cli, '-p', dir, ...CHAIN.flatMap((p) => ['-d', path.join(dist, 'plugins', p)])];
    if (kind === 'bulwark' && workers === 1 && opts['cpu-prof-dir']) {
      args.unshift('--cpu-prof', '--cpu-prof-dir', opts['cpu-prof-dir']);
    }
    args.push('--workers', String(workers));
    run(args);
    for (const p of CHAIN) await waitForSocket(path.join(dir, `${p}.sock`), children);
    return {
      name:
        kind === 'baseline'
          ? `bulwark ${baselineDir}, 1 worker`
          : `bulwark, ${workers} worker${workers === 1 ? '' : 's'}`,
      pids: children.map((c) => c.pid!),
      children,
      socketFor: (p) => path.join(dir, `${p}.sock`),
      echo: false,
      workers,
    };
  }
  if (kind === 'stock') {
    for (const p of CHAIN) run([STOCK_BIN, '-d', path.join(PLUGINS_ROOT, p), '-p', dir, '--sock-name', `${p}.sock`]);
    for (const p of CHAIN) await waitForSocket(path.join(dir, `${p}.sock`), children);
    return {
      name: 'stock kong-js-pluginserver',
      pids: children.map((c) => c.pid!),
      children,
      socketFor: (p) => path.join(dir, `${p}.sock`),
      echo: false,
      workers: 1,
    };
  }
  run([__filename, '--echo-server', path.join(dir, 'echo.sock')]);
  await waitForSocket(path.join(dir, 'echo.sock'), children);
  return {
    name: 'bare MessagePack echo',
    pids: children.map((c) => c.pid!),
    children,
    socketFor: () => path.join(dir, 'echo.sock'),
    echo: true,
    workers: 1,
  };
}

/** Replays recorded requests; checks every reply names the recorded PDK call (or "ret"). */
class Replayer {
  readonly instanceIds = new Map<number, number>(); // recorded → this server's
  constructor(
    private readonly target: DriverTarget,
    private readonly pools: DriverPools,
  ) {}

  async startInstances(): Promise<void> {
    const seen = new Set<number>();
    for (const s of recorder.starts) {
      const id = (s.result as { Id: number }).Id;
      if (seen.has(id) || !CHAIN.includes(s.socket.replace(/\.sock$/, ''))) continue;
      seen.add(id);
      if (this.target.echo) {
        this.instanceIds.set(id, id);
        continue;
      }
      const [, , err, result] = await this.pools.call(s.socket.replace(/\.sock$/, ''), s.method, s.arg);
      if (err) throw new Error(`${this.target.name}: StartInstance: ${String(err)}`);
      this.instanceIds.set(id, (result as { Id: number }).Id);
    }
  }

  /**
   * One recorded request: its calls in recorded order, each recorded event id replaced by the id this server gave
   * the event (the recording may interleave events, e.g. a JWKS fetch through the gateway while bulwark-jwt waits).
   * Returns the RPC count.
   */
  async replay(calls: RecordedCall[]): Promise<number> {
    const eventIds = new Map<number, number>(); // recorded → this server's
    let extra = 0;
    for (const c of calls) {
      const socket = c.socket.replace(/\.sock$/, '');
      let arg = c.arg as Record<string, unknown>;
      if (c.method === 'plugin.HandleEvent') {
        const instanceId = this.instanceIds.get(arg.InstanceId as number);
        if (instanceId === undefined) throw new Error(`${this.target.name}: no instance for ${c.socket}`);
        arg = { ...arg, InstanceId: instanceId };
      } else if (c.method.startsWith('plugin.Step')) {
        const eventId = this.target.echo ? c.eventId : eventIds.get(c.eventId);
        if (eventId === undefined)
          throw new Error(`${this.target.name}: a Step before its HandleEvent in the recording`);
        arg = { ...arg, EventId: eventId };
      } else continue;
      let [, , err, result] = await this.pools.call(socket, c.method, arg);
      if (this.target.echo) continue;
      if (err) throw new Error(`${this.target.name}: ${c.method}: ${String(err)}`);
      let got = result as { EventId: number; Data: unknown };
      const want = (c.result as { Data: unknown }).Data;
      const name = (d: unknown) => (typeof d === 'string' ? d : (d as { Method?: string })?.Method);
      // A log line the recording does not have (e.g. a one-time notice of a fresh process): answered like Kong, nil.
      while (name(got.Data) !== name(want) && /^kong\.log\./.test(name(got.Data) ?? '')) {
        extra++;
        [, , err, result] = await this.pools.call(socket, 'plugin.Step', { EventId: got.EventId });
        if (err) throw new Error(`${this.target.name}: Step: ${String(err)}`);
        got = result as { EventId: number; Data: unknown };
      }
      if (name(got.Data) !== name(want)) {
        throw new Error(`${this.target.name}: replay diverged: got ${name(got.Data)}, recorded ${name(want)}`);
      }
      if (c.method === 'plugin.HandleEvent') eventIds.set(c.eventId, got.EventId);
    }
    return calls.length + extra;
  }
}

// ------------------------------------------------------------------------------------------------ the C driver

const DRIVER_SOURCE = path.join(repoRoot, 'scripts/bench/chain-driver.c');
/** The placeholders the C driver patches: fixed-width uint32 (MessagePack 0xce) msgid and event id. */
const MSGID_PLACEHOLDER = 0xfacefeed;
const EVENT_PLACEHOLDER = 0xfeedface;

/** Compiles the C driver into a temp dir; null (with the reason printed) when it cannot. */
function compileCDriver(): string | null {
  if (opts.driver === 'js') return null;
  const bin = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-driver-')), 'chain-driver');
  const r = spawnSync('gcc', ['-O2', '-o', bin, DRIVER_SOURCE], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    console.log(
      `\nnote: the C driver could not be compiled (${r.error ? r.error.message : r.stderr.trim()}); ` +
        'the JS driver runs instead, and its own CPU competes with the server for the cores',
    );
    return null;
  }
  return bin;
}

/** One frame as the JS driver sends it, [0, msgid, method, [arg]], with a uint32 msgid at offset 3. */
function encodeFrame(method: string, arg: unknown): { frame: Buffer; eventOffset: number } {
  const msgid = Buffer.from([0x94, 0x00, 0xce, 0, 0, 0, 0]);
  msgid.writeUInt32BE(MSGID_PLACEHOLDER, 3);
  const body = Buffer.from(encode(arg));
  const frame = Buffer.concat([msgid, Buffer.from(encode(method)), Buffer.from([0x91]), body]);
  const marker = Buffer.from([0xce, 0, 0, 0, 0]);
  marker.writeUInt32BE(EVENT_PLACEHOLDER, 1);
  const at = frame.indexOf(marker);
  if (at >= 0 && frame.indexOf(marker, at + 1) >= 0) throw new Error(`${method}: two event id placeholders`);
  return { frame, eventOffset: at < 0 ? -1 : at + 1 };
}

const methodName = (d: unknown): string | undefined =>
  typeof d === 'string' ? d : (d as { Method?: string } | null)?.Method;

/** The frames file the C driver reads (layout: load() in chain-driver.c; little-endian uint32 fields). */
function writeDriverFrames(t: DriverTarget, replayer: Replayer, recorded: RecordedCall[][], file: string): void {
  const parts: Buffer[] = [];
  const u32 = (...vs: number[]) => {
    const b = Buffer.alloc(4 * vs.length);
    vs.forEach((v, i) => b.writeUInt32LE(v >>> 0, 4 * i));
    parts.push(b);
  };
  const NONE = 0xffffffff;
  const call = (socket: number, method: string, arg: unknown, recEvent: number, name: string | undefined) => {
    const { frame, eventOffset } = encodeFrame(method, arg);
    const step = method.startsWith('plugin.Step');
    if (step !== eventOffset >= 0) throw new Error(`${method}: event id placeholder ${eventOffset}`);
    u32(socket, step ? 1 : 0, recEvent, frame.length);
    parts.push(frame);
    u32(3, step ? eventOffset : NONE);
    if (name === undefined) u32(NONE);
    else {
      const bytes = Buffer.from(name, 'utf8');
      u32(bytes.length);
      parts.push(bytes);
    }
  };
  u32(0x31445742, t.echo ? 1 : 0, t.workers, CHAIN.length);
  for (const [i, plugin] of CHAIN.entries()) {
    const p = Buffer.from(t.socketFor(plugin));
    u32(p.length);
    parts.push(p);
    call(i, 'plugin.Step', { EventId: EVENT_PLACEHOLDER }, 0, undefined);
  }
  u32(recorded.length);
  for (const calls of recorded) {
    const chosen = calls.filter((c) => c.method === 'plugin.HandleEvent' || c.method.startsWith('plugin.Step'));
    u32(chosen.length);
    for (const c of chosen) {
      const socket = CHAIN.indexOf(c.socket.replace(/\.sock$/, ''));
      let arg = c.arg as Record<string, unknown>;
      if (c.method === 'plugin.HandleEvent') {
        const instanceId = replayer.instanceIds.get(arg.InstanceId as number);
        if (instanceId === undefined) throw new Error(`${t.name}: no instance for ${c.socket}`);
        arg = { ...arg, InstanceId: instanceId };
      } else arg = { ...arg, EventId: EVENT_PLACEHOLDER };
      call(socket, c.method, arg, c.eventId, methodName((c.result as { Data: unknown }).Data));
    }
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

interface CDriverRun {
  seconds: number;
  rpcs: number;
  steps: number;
  forwarded: number;
  cpuUs: number;
}

/** The C driver process for one target: keeps its connections between rounds, as the JS pools do. */
class CDriver {
  private readonly child: ChildProcess;
  private pending: { resolve: (r: CDriverRun) => void; reject: (e: Error) => void } | null = null;
  private out = '';
  private err = '';

  constructor(bin: string, framesFile: string, concurrency: number) {
    this.child = spawn(bin, [framesFile, String(concurrency)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.out += d;
      const nl = this.out.indexOf('\n');
      if (nl < 0) return;
      const line = this.out.slice(0, nl);
      this.out = this.out.slice(nl + 1);
      const [, seconds, rpcs, steps, forwarded, cpuUs] = line.split(' ').map(Number);
      const p = this.pending;
      this.pending = null;
      p?.resolve({ seconds, rpcs, steps, forwarded, cpuUs });
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    this.child.on('exit', (code) => {
      this.pending?.reject(new Error(`C driver exited (${code}): ${this.err.trim()}`));
      this.pending = null;
    });
  }

  run(requests: number): Promise<CDriverRun> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.stdin!.write(`run ${requests}\n`);
    });
  }

  close(): void {
    this.child.stdin!.end();
  }
}

interface DriverFigures {
  throughput: number[];
  cpuUsPerRequest: number[];
  cpuUsPerRpc: number[];
  /** The driver's own CPU (this process: it competes for the same cores). */
  driverCpuUsPerRequest: number[];
}

async function driverRound(
  t: DriverTarget,
  replayer: Replayer,
  recorded: RecordedCall[][],
  requests: number,
  concurrency: number,
  f: DriverFigures,
  pools: DriverPools,
  cDriver: CDriver | null,
): Promise<void> {
  let next = 0;
  let rpcs = 0;
  const cpu0 = sumCpu(t.pids);
  if (cDriver) {
    const r = await cDriver.run(requests);
    const cpuMs = sumCpu(t.pids) - cpu0;
    pools.steps += r.steps;
    pools.forwardedSteps += r.forwarded;
    f.driverCpuUsPerRequest.push(r.cpuUs / requests);
    f.throughput.push(requests / r.seconds);
    f.cpuUsPerRequest.push((cpuMs * 1000) / requests);
    f.cpuUsPerRpc.push((cpuMs * 1000) / r.rpcs);
    return;
  }
  const own0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const n = await replayer.replay(recorded[i % recorded.length]);
        rpcs += n;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuMs = sumCpu(t.pids) - cpu0;
  const own = process.cpuUsage(own0);
  f.driverCpuUsPerRequest.push((own.user + own.system) / requests);
  f.throughput.push(requests / seconds);
  f.cpuUsPerRequest.push((cpuMs * 1000) / requests);
  f.cpuUsPerRpc.push((cpuMs * 1000) / rpcs);
}

async function driverSection(recorded: RecordedCall[][]): Promise<void> {
  const requests = Number(opts['driver-requests']);
  const concurrency = Number(opts.concurrency);
  const rounds = Number(opts['driver-rounds'] ?? opts.rounds);
  const workerCounts = String(opts.workers)
    .split(',')
    .map((n) => Number(n));
  const targets: { t: DriverTarget; r: Replayer; pools: DriverPools; f: DriverFigures; c: CDriver | null }[] = [];
  const driverBin = compileCDriver();
  try {
    const baselineDirs = opts.baseline ? opts.baseline.split(',') : [];
    const kinds: ['bulwark' | 'baseline' | 'stock' | 'echo', number, string][] = [
      ...workerCounts.map((n) => ['bulwark', n, ''] as ['bulwark', number, string]),
      ...baselineDirs.map((dir) => ['baseline', 1, dir] as ['baseline', number, string]),
    ];
    if (!opts['no-stock']) kinds.push(['stock', 1, '']);
    kinds.push(['echo', 1, '']);
    for (const [kind, n, dir] of kinds) {
      const t = await startDriverTarget(kind, n, dir);
      const pools = new DriverPools(t.socketFor, t.workers);
      const r = new Replayer(t, pools);
      await r.startInstances();
      let c: CDriver | null = null;
      if (driverBin) {
        const framesFile = path.join(path.dirname(driverBin), `frames-${targets.length}.bin`);
        writeDriverFrames(t, r, recorded, framesFile);
        c = new CDriver(driverBin, framesFile, concurrency);
      }
      targets.push({
        t,
        r,
        pools,
        f: { throughput: [], cpuUsPerRequest: [], cpuUsPerRpc: [], driverCpuUsPerRequest: [] },
        c,
      });
    }
    const rpcsPerRequest = recorded[0].length;
    for (const x of targets) {
      await driverRound(
        x.t,
        x.r,
        recorded,
        Math.min(1000, requests),
        concurrency,
        {
          throughput: [],
          cpuUsPerRequest: [],
          cpuUsPerRpc: [],
          driverCpuUsPerRequest: [],
        },
        x.pools,
        x.c,
      ); // warm-up
      x.pools.steps = x.pools.forwardedSteps = 0;
    }
    for (let round = 0; round < rounds; round++) {
      for (const x of targets) await driverRound(x.t, x.r, recorded, requests, concurrency, x.f, x.pools, x.c);
    }
    console.log(
      `\n2. Synthetic Kong-side driver: recorded accepted chain requests (${rpcsPerRequest} RPCs each), ` +
        `${rounds} rounds x ${requests} requests, ${concurrency} in flight, LIFO connection pools, ` +
        `${driverBin ? 'C driver' : 'JS driver'}`,
    );
    console.log(
      `  ${'server'.padEnd(30)} ${'requests/s'.padStart(11)} ${'CPU/request'.padStart(13)} ${'CPU/RPC'.padStart(10)}` +
        ` ${'driver CPU/request'.padStart(19)} ${'forwarded Steps'.padStart(16)}`,
    );
    for (const x of targets) {
      const forwarded = x.pools.steps > 0 ? `${x.pools.forwardedSteps}/${x.pools.steps}` : x.t.workers > 1 ? '0' : '–';
      console.log(
        `  ${x.t.name.padEnd(30)} ${median(x.f.throughput).toFixed(0).padStart(11)}` +
          ` ${median(x.f.cpuUsPerRequest).toFixed(0).padStart(10)} µs ${median(x.f.cpuUsPerRpc).toFixed(1).padStart(7)} µs` +
          ` ${median(x.f.driverCpuUsPerRequest).toFixed(0).padStart(16)} µs ${forwarded.padStart(16)}`,
      );
    }
    const find = (name: string) => targets.find((x) => x.t.name === name);
    const one = find('bulwark, 1 worker');
    const stock = find('stock kong-js-pluginserver');
    const echo = find('bare MessagePack echo');
    for (const dir of baselineDirs) {
      const baseline = find(`bulwark ${dir}, 1 worker`)!;
      if (one) {
        // Rounds alternate between targets, so round i of each ran at nearly the same time: the median of the
        // per-round ratios is steadier than the ratio of the medians when the machine's load drifts.
        const paired = one.f.cpuUsPerRequest.map((v, i) => v / baseline.f.cpuUsPerRequest[i]);
        console.log(
          `  bulwark / bulwark ${dir} (1 worker each) CPU per request: ` +
            `${(median(one.f.cpuUsPerRequest) / median(baseline.f.cpuUsPerRequest)).toFixed(2)}x ` +
            `(median of per-round ratios ${median(paired).toFixed(2)}x), throughput ` +
            `${(median(one.f.throughput) / median(baseline.f.throughput)).toFixed(2)}x`,
        );
      }
      if (echo) {
        console.log(
          `  bulwark ${dir} (1 worker) / echo CPU per RPC: ` +
            `${(median(baseline.f.cpuUsPerRpc) / median(echo.f.cpuUsPerRpc)).toFixed(2)}x`,
        );
      }
    }
    if (one && stock) {
      console.log(
        `  stock / bulwark (1 worker) CPU per request: ${(median(stock.f.cpuUsPerRequest) / median(one.f.cpuUsPerRequest)).toFixed(2)}x`,
      );
    }
    if (one && echo) {
      console.log(
        `  bulwark (1 worker) / echo CPU per RPC: ${(median(one.f.cpuUsPerRpc) / median(echo.f.cpuUsPerRpc)).toFixed(2)}x`,
      );
    }
    for (const x of targets) {
      if (!one || x === one || !x.t.name.startsWith('bulwark,')) continue;
      console.log(
        `  ${x.t.name} / 1 worker throughput: ${(median(x.f.throughput) / median(one.f.throughput)).toFixed(2)}x` +
          `, CPU per request ${(median(x.f.cpuUsPerRequest) / median(one.f.cpuUsPerRequest)).toFixed(2)}x`,
      );
    }
  } finally {
    for (const x of targets) {
      x.c?.close();
      x.pools.close();
      for (const c of x.t.children) c.kill('SIGTERM');
    }
    if (driverBin) fs.rmSync(path.dirname(driverBin), { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  if (!process.env.BULWARK_OAUTH2_SIGNING_KEY) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    process.env.BULWARK_OAUTH2_SIGNING_KEY = JSON.stringify({ ...privateKey.export({ format: 'jwk' }), alg: 'ES256' });
  }
  console.log(
    `chain benchmark: node ${process.version}, ${os.availableParallelism()} cpu(s), load ${os.loadavg()[0].toFixed(2)}`,
  );
  const echo = await startEchoUpstream(0);
  const config = benchConfig();
  const gateways: EmulatorTarget[] = [];
  try {
    // The driver replays a recording, and its bulwark-jwt fetches the JWKS from the emulated gateway: both stay up.
    const recorded = await emulatorSection(gateways, config, echo.port);
    await driverSection(recorded);
  } finally {
    for (const t of gateways) await t.gw.close();
    await echo.close();
  }
}

if (opts['echo-server']) {
  runEchoServer(opts['echo-server']);
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
