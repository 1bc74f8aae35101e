// A gateway (Kong emulator + plugin server + echo upstream) with bulwark-api-key and the `probe` fixture plugin
// (priority 1000: it runs after bulwark-api-key, 1260, and reads what it left in kong.ctx.shared through the real
// PDK). Each gateway is one Kong node with its own plugin-server process(es).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EmulatedResponse } from '../../../kong/emulator/kong';
import { distPluginsDir, pluginServerEntries } from '../../../kong/emulator/plugin-server';
import { echoed, fixturePluginsRoot, serverKind, startGateway, type Gateway } from '../../helpers/emulator';

export async function startApiKeyGateway(logs?: string[]): Promise<Gateway> {
  const kind = serverKind();
  const socketsA = fs.mkdtempSync(path.join(os.tmpdir(), 'bak-a-'));
  const socketsB = fs.mkdtempSync(path.join(os.tmpdir(), 'bak-b-'));
  const entries = [
    ...pluginServerEntries(kind, socketsA, ['bulwark-api-key'], distPluginsDir),
    ...pluginServerEntries(kind, socketsB, ['probe'], fixturePluginsRoot),
  ];
  return startGateway({ entries, ...(logs ? { onLog: (l: string) => logs.push(l) } : {}) });
}

/** The probe header that makes the probe plugin read the identity bulwark-api-key published. */
export const READ_IDENTITY = { 'x-probe-access': JSON.stringify([['ctx.shared.get', 'bulwark.identity']]) };

/** The identity the probe read (after bulwark-api-key), from the echoed upstream request. */
export function identityOf(res: EmulatedResponse): Record<string, unknown> {
  const h = echoed(res.body).headers['x-probe-results'];
  return (JSON.parse(Array.isArray(h) ? h[0]! : h!) as { results: Record<string, unknown>[] }).results[0]!;
}

/**
 * The PDK calls bulwark-api-key made, in order, without `kong.` and without the final response.exit (kong-pdk sends
 * an exit without waiting for its reply, so whether the report has it when the response is out is a race).
 */
export const pdkCalls = (res: EmulatedResponse): string[] =>
  res.report.pdkCalls
    .filter(([p, m]) => p === 'bulwark-api-key' && m !== 'kong.response.exit')
    .map(([, m]) => m.replace(/^kong\./, ''));

/** The JSON log lines of bulwark-api-key (Kong's error log). */
export function pluginLogLines(logs: string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of logs) {
    const i = l.indexOf('{"plugin":"bulwark-api-key"');
    if (i < 0) continue;
    try {
      out.push(JSON.parse(l.slice(i)) as Record<string, unknown>);
    } catch {
      // a line cut by the logger: ignored
    }
  }
  return out;
}
