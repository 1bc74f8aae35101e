// Plugin loading and the plugin-info dump. Each plugin is a directory whose `index.js` (or package.json
// `main`) exports {Plugin, Schema, Version, Priority, Name?}. The module itself is loaded by kong-pdk's own
// `Module` (kong-pdk/lib/mod.js), so the name, phases, priority and schema are derived exactly as the stock
// server derives them; what changes is that every failure is a start-up error naming the plugin instead of a
// crash (unresolvable directory, kong-js-pdk#151) or a WARN line on stdout that corrupts the dump (#82).
import fs = require('fs');
import path = require('path');
import NodeModule = require('module');
import type { Module as KongPdkModule } from 'kong-pdk/lib/mod';

/** What Kong's `query_cmd` expects per plugin; identical to the stock server's GetPluginInfo. */
export interface PluginInfo {
  Name: string;
  Version: unknown;
  Phases: string[];
  Priority: unknown;
  Schema: { name: string; fields: [{ config: { type: 'record'; fields: unknown } }] };
}

export interface LoadedPlugin {
  /** Kong's plugin name: the module's `Name`, else the directory name, lower-cased (as lib/mod.js does). */
  readonly name: string;
  readonly entryFile: string;
  readonly module: KongPdkModule;
}

export class PluginLoadError extends Error {
  constructor(
    readonly plugin: string,
    readonly location: string,
    reason: string,
  ) {
    super(`plugin "${plugin}" (${location}) failed to load: ${reason}`);
    this.name = 'PluginLoadError';
  }
}

// Kong refuses to start on a VERSION that is not exactly x.y.z or a PRIORITY that is not an integer
// (kong/db/dao/plugins.lua load_plugin_handler); failing here names the plugin instead.
const KONG_VERSION = /^\d+\.\d+\.\d+$/;

let moduleClass: typeof KongPdkModule | undefined;

/**
 * kong-pdk/lib/mod.js runs `require('ts-node').register()` when it is first required: ~200 ms of start-up
 * (it loads the TypeScript compiler) paid by every start and every `query_cmd` run, and a global hook that
 * type-checks any `.ts` file required afterwards. Our plugins are precompiled CommonJS `.js`, so the
 * register call is replaced by a no-op: a stub `ts-node` is put in the require cache, at the exact path
 * mod.js resolves, before mod.js is loaded.
 */
function kongPdkModuleClass(): typeof KongPdkModule {
  if (moduleClass) return moduleClass;
  const modJs = require.resolve('kong-pdk/lib/mod');
  try {
    const tsNode = require.resolve('ts-node', { paths: [path.dirname(modJs)] });
    if (!require.cache[tsNode]) {
      const stub = new NodeModule(tsNode);
      stub.filename = tsNode;
      stub.loaded = true;
      stub.exports = { register: () => undefined };
      require.cache[tsNode] = stub;
    }
  } catch {
    // ts-node not installed: mod.js will report it when required.
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- mod.js's path is found at run time
  moduleClass = (require(modJs) as typeof import('kong-pdk/lib/mod')).Module;
  return moduleClass;
}

/** The plugin directories under a root: every subdirectory except dot-entries and node_modules. */
export function pluginDirsUnderRoot(root: string): string[] {
  const abs = path.resolve(root);
  return fs
    .readdirSync(abs, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && e.name !== 'node_modules')
    .filter((e) => e.isDirectory() || (e.isSymbolicLink() && fs.statSync(path.join(abs, e.name)).isDirectory()))
    .map((e) => path.join(abs, e.name))
    .sort();
}

/** Loads one plugin directory. Throws PluginLoadError naming it on any problem. */
export function loadPlugin(dir: string): LoadedPlugin {
  const abs = path.resolve(dir);
  const dirName = path.basename(abs);
  let entryFile: string;
  try {
    entryFile = require.resolve(abs);
  } catch {
    throw new PluginLoadError(dirName, abs, 'no index.js (or package.json "main") in the directory');
  }
  if (!['.js', '.cjs'].includes(path.extname(entryFile))) {
    throw new PluginLoadError(dirName, entryFile, 'only compiled CommonJS .js/.cjs plugins are loaded');
  }
  const Module = kongPdkModuleClass();
  let module: KongPdkModule;
  try {
    module = new Module(dirName, entryFile);
  } catch (err) {
    const reason =
      err instanceof TypeError && /prototype/.test(err.message) ? 'it does not export a Plugin class' : String(err);
    throw new PluginLoadError(dirName, entryFile, reason);
  }
  const name = module.name;
  const version = module.getVersion();
  if (typeof version !== 'string' || !KONG_VERSION.test(version)) {
    throw new PluginLoadError(name, entryFile, `Version must be a "x.y.z" string, got ${JSON.stringify(version)}`);
  }
  const priority = module.getPriority();
  if (typeof priority !== 'number' || !Number.isInteger(priority)) {
    throw new PluginLoadError(name, entryFile, `Priority must be an integer, got ${JSON.stringify(priority)}`);
  }
  if (!Array.isArray(module.getSchema())) {
    throw new PluginLoadError(name, entryFile, 'Schema must be an array of config fields');
  }
  return { name, entryFile, module };
}

/** Loads every directory; the first failure or a duplicate name is thrown. */
export function loadPlugins(dirs: readonly string[]): Map<string, LoadedPlugin> {
  const plugins = new Map<string, LoadedPlugin>();
  for (const dir of dirs) {
    const plugin = loadPlugin(dir);
    const previous = plugins.get(plugin.name);
    if (previous) {
      throw new PluginLoadError(plugin.name, plugin.entryFile, `the name is already used by ${previous.entryFile}`);
    }
    plugins.set(plugin.name, plugin);
  }
  return plugins;
}

export function pluginInfo(plugin: LoadedPlugin): PluginInfo {
  const m = plugin.module;
  return {
    Name: plugin.name,
    Version: m.getVersion(),
    Phases: m.getPhases(),
    Priority: m.getPriority(),
    Schema: { name: plugin.name, fields: [{ config: { type: 'record', fields: m.getSchema() } }] },
  };
}

/**
 * Sends everything written to stdout (console.log/info/debug, process.stdout.write) to stderr until the
 * returned function is called, so that what plugins print while loading never reaches the JSON that Kong's
 * `query_cmd` parses. The dump itself is written with fs.writeSync(1, …), which bypasses the redirect.
 */
export function redirectStdoutToStderr(): () => void {
  const stdout = process.stdout as NodeJS.WriteStream & { write: typeof process.stdout.write };
  const original = stdout.write;
  stdout.write = process.stderr.write.bind(process.stderr) as typeof stdout.write;
  return () => {
    stdout.write = original;
  };
}
