// Test harness: the Kong emulator driving a real plugin server, plus a real HTTP echo upstream.
import * as path from 'node:path';
import { KongEmulator, EmulatorOptions } from '../../kong/emulator/kong';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { startEchoUpstream } from '../../kong/echo-upstream/server';

export const fixturePluginsRoot = path.join(__dirname, '..', 'fixtures', 'plugins');

export interface Gateway {
  kong: KongEmulator;
  upstreamPort: number;
  /** Loads a declarative config; `ECHO` in the text is replaced by the echo upstream's URL. */
  configure(yamlText: string): void;
  stop(): Promise<void>;
}

/** Which plugin server the integration tests run on (default bulwark); `BULWARK_PLUGINSERVER=stock` selects the stock one. */
export function serverKind(): 'stock' | 'bulwark' {
  return process.env.BULWARK_PLUGINSERVER === 'stock' ? 'stock' : 'bulwark';
}

export async function startGateway(opts: EmulatorOptions = {}): Promise<Gateway> {
  const upstream = await startEchoUpstream(0);
  let kong: KongEmulator;
  try {
    kong = await KongEmulator.start({ server: serverKind(), ...opts });
  } catch (err) {
    await upstream.close();
    throw err;
  }
  return {
    kong,
    upstreamPort: upstream.port,
    configure(yamlText: string) {
      const text = yamlText.replace(/ECHO/g, `http://127.0.0.1:${upstream.port}`);
      kong.setConfig(loadDeclarative(text, { knownPlugins: new Set(kong.plugins.keys()) }));
    },
    async stop() {
      await kong.stop();
      await upstream.close();
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
