// JSON-lines files the tests read back (bulwark-audit's file sink, Kong's file-log in the emulator).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import type { SecurityEvent } from '../../plugins/lib/security-event';
import { waitFor } from './emulator';

/** Every line of `file` parsed; [] while the file does not exist yet. */
export function readJsonLines<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** The first security event of `plugin` for the request to `path` (without query) in `file`, once written. */
export async function eventFor(file: string, plugin: string, path: string): Promise<SecurityEvent> {
  const find = () => readJsonLines<SecurityEvent>(file).find((e) => e.plugin === plugin && e.http.path === path);
  await waitFor(() => find() !== undefined, 10_000);
  return find()!;
}

export interface AuditEventsFile {
  /** The fresh temp directory holding the file (suites put their other log files next to it). */
  dir: string;
  /** Where bulwark-audit's file sink writes: `sinks: { file: { path } }`. */
  file: string;
  readEvents(): SecurityEvent[];
  /** The first event of `plugin` for the request to `path` (without query), once written. */
  eventFor(plugin: string, path: string): Promise<SecurityEvent>;
}

/** A JSON-lines file for bulwark-audit's file sink in a fresh temp directory (`prefix`: its name's start). */
export function auditEventsFile(prefix: string): AuditEventsFile {
  const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), prefix));
  const file = nodePath.join(dir, 'events.jsonl');
  return {
    dir,
    file,
    readEvents: () => readJsonLines<SecurityEvent>(file),
    eventFor: (plugin, path) => eventFor(file, plugin, path),
  };
}
