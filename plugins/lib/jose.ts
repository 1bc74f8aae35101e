// Loading `jose` (v6, an ES module only: its package.json has "type": "module" and no `require` export)
// from Bulwark's CommonJS build.
//
// What works where (measured on Node 20.20, the project's runtime):
// - In the compiled plugin (dist/js, loaded by bulwark-pluginserver or the stock kong-js-pluginserver):
//   a plain `require('jose')` works through Node's require(esm), enabled by default since Node 20.19
//   (no flag, no warning for a module without top-level await). That is the path taken in production.
// - Under jest, `require` is jest's own module registry, which does not load ES modules without
//   --experimental-vm-modules ("Cannot use import statement outside a module"); jest also replaces
//   node:module's createRequire. `process.getBuiltinModule('node:module')` (Node >= 20.16) returns Node's
//   real module system, whose require(esm) loads jose outside jest's registry. Objects then cross realms:
//   jose's errors are not `instanceof Error` of the test's realm, so callers test `err.code`, never instanceof.
// A dynamic `import()` is no answer under CommonJS output: tsc compiles it to `require` anyway.
import type * as JoseModule from 'jose';

export type Jose = typeof JoseModule;

let loaded: Jose | undefined;

function loadWithNodeRequire(): Jose {
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function')
    throw new Error('jose: this Node.js cannot load an ES module from CommonJS (need >= 20.19)');
  const mod = getBuiltin('node:module') as typeof import('node:module');
  return mod.createRequire(__filename)('jose') as Jose;
}

/** The jose module, loaded once (synchronously) on first use. */
export function jose(): Jose {
  if (loaded !== undefined) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('jose') as Jose;
  } catch {
    loaded = loadWithNodeRequire();
  }
  return loaded;
}

/** jose's error code (`ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, …) or undefined; realm-independent. */
export function joseErrorCode(err: unknown): string | undefined {
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
