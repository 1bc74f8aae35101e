// JSON-lines files the tests read back (bulwark-audit's file sink, Kong's file-log in the emulator).
import * as fs from 'node:fs';
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
