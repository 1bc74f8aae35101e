// A gateway (Kong emulator + plugin server + echo upstream) with bulwark-rate-limit and, when asked, the `probe`
// fixture plugin (priority 1000, runs before the limiter): it authenticates consumers and fills kong.ctx.shared
// the way an auth plugin or bulwark-jwt would, through the real PDK.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { distPluginsDir, pluginServerEntries } from '../../../kong/emulator/plugin-server';
import { fixturePluginsRoot, serverKind, startGateway, type Gateway } from '../../helpers/emulator';

export async function startRateLimitGateway(opts: { probe?: boolean; workers?: number } = {}): Promise<Gateway> {
  const kind = serverKind();
  const socketsA = fs.mkdtempSync(path.join(os.tmpdir(), 'brl-a-'));
  const entries = pluginServerEntries(kind, socketsA, ['bulwark-rate-limit'], distPluginsDir);
  if (opts.probe) {
    const socketsB = fs.mkdtempSync(path.join(os.tmpdir(), 'brl-b-'));
    entries.push(...pluginServerEntries(kind, socketsB, ['probe'], fixturePluginsRoot));
  }
  return startGateway({ entries, ...(opts.workers !== undefined ? { workers: opts.workers } : {}) });
}

/** The probe header that makes the probe plugin run these PDK calls in access. */
export function probe(calls: unknown[][]): Record<string, string> {
  return { 'x-probe-access': JSON.stringify(calls) };
}

/** Number of connections Bulwark holds on a Redis (CLIENT LIST, by connection name). */
export async function bulwarkConnections(client: { client(sub: 'LIST'): Promise<unknown> }): Promise<number> {
  const list = String(await client.client('LIST'));
  return list.split('\n').filter((l) => / name=bulwark /.test(` ${l} `) || /\bname=bulwark\b/.test(l)).length;
}
