// The engine thread (engine-worker.ts) shares only engine-protocol.ts with the main-thread side (engine-load.ts):
// a thread that loaded engine-load.ts would carry the main thread's Worker management and per-process state.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const PLUGIN = resolve(__dirname, '../../../plugins/bulwark-threat-protection');

/** The .ts files a module loads at run time, transitively (relative imports; `import type` loads nothing). */
function runtimeImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)(?!\s+type\b)[^;]*?from\s+'(\.[^']+)'/gms)) {
      const target = resolve(dirname(file), m[1]!);
      visit(existsSync(`${target}.ts`) ? `${target}.ts` : resolve(target, 'index.ts'));
    }
  };
  visit(entry);
  return seen;
}

test('the engine thread never loads the main-thread module', () => {
  const loaded = runtimeImports(resolve(PLUGIN, 'engine-worker.ts'));
  expect(loaded).not.toContain(resolve(PLUGIN, 'engine-load.ts'));
  expect(loaded).toContain(resolve(PLUGIN, 'engine-protocol.ts'));
});
