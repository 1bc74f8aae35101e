// Test harness: the Kong emulator driving a real plugin server, plus a real HTTP echo upstream.
import * as path from 'node:path';
import { KongEmulator, EmulatorOptions } from '../../kong/emulator/kong';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { startEchoUpstream } from '../../kong/echo-upstream/server';

export const fixturePluginsRoot = path.join(__dirname, '..', 'fixtures', 'plugins');

export type GatewayRequest = Parameters<KongEmulator['request']>[0];
export type GatewayResponse = Awaited<ReturnType<KongEmulator['request']>>;

export interface Gateway {
  kong: KongEmulator;
  upstreamPort: number;
  /**
   * One request through the gateway, failing the test when it relied on one of Kong's fail-open spots (an RPC error
   * or timeout, a lost instance) or hit a Lua error. Tests that provoke those use `kong.request` directly.
   */
  send(req: GatewayRequest): Promise<GatewayResponse>;
  /** Loads a declarative config; `ECHO` in the text is replaced by the echo upstream's URL. */
  configure(yamlText: string): void;
  stop(): Promise<void>;
}

export type PluginServerKind = 'bulwark' | 'stock';

/** Both plugin servers: the plugins must work on ours and on the stock kong-js-pluginserver. */
export const BOTH_PLUGIN_SERVERS: readonly PluginServerKind[] = ['bulwark', 'stock'];

let declaredServers: readonly PluginServerKind[] | undefined;

/**
 * Declares, at the top of an integration suite, the plugin servers it runs on. `npm test` (scripts/test.js) reads
 * this call (the literal list) to decide which suites its stock-server pass runs; a suite that names one server
 * only must say why. Jest gives each test file its own module registry, so the declaration is per suite.
 */
export function runsOnPluginServers(servers: readonly PluginServerKind[], whyNotBoth?: string): void {
  if (servers.length === 0) throw new Error('runsOnPluginServers: name at least one plugin server');
  if (servers.length < BOTH_PLUGIN_SERVERS.length && (whyNotBoth === undefined || whyNotBoth.trim() === '')) {
    throw new Error(`runsOnPluginServers(${JSON.stringify(servers)}): a suite that skips a plugin server must say why`);
  }
  declaredServers = servers;
}

/**
 * The plugin server this run uses (`BULWARK_PLUGINSERVER=stock` selects the stock one; default bulwark). Throws when
 * the suite did not declare its servers, or does not run on this one: no suite runs on a server silently.
 */
export function serverKind(): PluginServerKind {
  const kind: PluginServerKind = process.env.BULWARK_PLUGINSERVER === 'stock' ? 'stock' : 'bulwark';
  if (declaredServers === undefined) {
    throw new Error('this suite starts a gateway without runsOnPluginServers([...]) (spec/helpers/emulator.ts)');
  }
  if (!declaredServers.includes(kind)) {
    throw new Error(
      `this suite runs on ${declaredServers.join(', ')} only (see its runsOnPluginServers), not on ${kind}`,
    );
  }
  return kind;
}

/**
 * Every gateway this test file started or is starting. A beforeAll that times out leaves its startGateway running:
 * the gateway comes up after the suite has given up on it, no afterAll of the suite holds it, and its plugin server
 * processes kept Jest from exiting (a CI run hung that way). This file-level afterAll waits for those starts and
 * stops whatever is still running; stopping is idempotent, so gateways the suite stopped are left alone.
 */
const launched: Promise<Gateway | undefined>[] = [];
// Hooks can only be declared while a file is collected: a test that loads this module afresh
// (spec/static/plugin-servers.test.ts, jest.isolateModules) starts no gateway and needs none.
if (expect.getState().currentTestName === undefined) {
  afterAll(async () => {
    for (const gw of await Promise.all(launched)) await gw?.stop();
  });
}

export function startGateway(opts: EmulatorOptions = {}): Promise<Gateway> {
  const starting = launchGateway(opts);
  launched.push(starting.catch(() => undefined));
  return starting;
}

async function launchGateway(opts: EmulatorOptions): Promise<Gateway> {
  const upstream = await startEchoUpstream(0);
  let kong: KongEmulator;
  try {
    kong = await KongEmulator.start({ server: serverKind(), ...opts });
  } catch (err) {
    await upstream.close();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    kong,
    upstreamPort: upstream.port,
    async send(req: GatewayRequest): Promise<GatewayResponse> {
      const res = await kong.request(req);
      expect(res.report.failOpen).toEqual([]);
      expect(res.report.luaErrors).toEqual([]);
      return res;
    },
    configure(yamlText: string) {
      const text = yamlText.replace(/ECHO/g, `http://127.0.0.1:${upstream.port}`);
      kong.setConfig(loadDeclarative(text, { knownPlugins: new Set(kong.plugins.keys()) }));
    },
    stop() {
      stopping ??= (async () => {
        await kong.stop();
        await upstream.close();
      })();
      return stopping;
    },
  };
}

export interface EchoedRequest {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[]>;
  body: string;
}

export function echoed(body: Buffer): EchoedRequest {
  return JSON.parse(body.toString('utf8')) as EchoedRequest;
}

/** The probe plugin's x-probe-<phase> header: the PDK calls it makes, in order, each `[method, ...args]`. */
export const probeCalls = (...calls: unknown[][]): string => JSON.stringify(calls);

/** The JSON results the probe plugin forwarded upstream in x-probe-results. */
export function probeResults(body: Buffer): { config: Record<string, unknown>; results: unknown[] } {
  const h = echoed(body).headers['x-probe-results'];
  return JSON.parse(Array.isArray(h) ? h[0] : h);
}

export async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The suite's closing check: registers an afterAll that fails the suite when the plugin server swallowed a handler
 * exception in any request (Kong lets such a request through: fail-open), then stops the gateways whatever happened.
 * `gateways` is read when the suite ends (they are started in beforeAll).
 */
export function afterAllNoFailOpen(gateways: () => readonly (Gateway | undefined)[]): void {
  afterAll(async () => {
    const started = gateways().filter((g): g is Gateway => g !== undefined);
    try {
      for (const gw of started) expect(gw.kong.unhandledExceptions()).toEqual([]);
    } finally {
      for (const gw of started) await gw.stop();
    }
  });
}
