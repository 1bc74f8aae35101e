// Loading `@marcbachmann/cel-js` (an ES module only) from Bulwark's CommonJS build, as plugins/lib/jose.ts loads
// jose: Node's require(esm) in the compiled plugin server, Node's own module system under jest.
import type * as CelModule from '@marcbachmann/cel-js';

export type Cel = typeof CelModule;

let loaded: Cel | undefined;
/** True when cel-js lives in another realm than this code (under jest: Node's own module system). */
let otherRealm = false;

/** The cel-js module, loaded once (synchronously) on first use. */
export function cel(): Cel {
  if (loaded !== undefined) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('@marcbachmann/cel-js') as Cel;
  } catch {
    const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    if (typeof getBuiltin !== 'function')
      throw new Error('cel-js: this Node.js cannot load an ES module from CommonJS');
    const mod = getBuiltin('node:module') as typeof import('node:module');
    loaded = mod.createRequire(__filename)('@marcbachmann/cel-js') as Cel;
    otherRealm = true;
  }
  return loaded;
}

/**
 * A value as cel-js can read it: cel-js recognises maps and lists by their constructor, which differs across realms
 * (under jest), so there the value is cloned into Node's main realm (v8 serialisation creates its objects there).
 * In the plugin server, one realm: the value itself.
 */
export function celValue<T>(value: T): T {
  if (!otherRealm) return value;
  const v8 = (process as unknown as { getBuiltinModule(id: string): unknown }).getBuiltinModule(
    'node:v8',
  ) as typeof import('node:v8');
  return v8.deserialize(v8.serialize(value)) as T;
}
