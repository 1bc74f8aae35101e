// `bulwark validate`: Bulwark's plugin-config validator for declarative files: what `deck validate` cannot check offline. Run it in CI
// before `deck sync`. For each plugin entry it does what Kong would do, in Kong's order:
//  1. the schema check: the schema comes from the plugin server's own query command (what Kong loads) and is
//     applied with the emulator's implementation of Kong's rules (what the Admin API and decK refuse);
//  2. the instance start: the config, as Kong would hand it over (defaults filled, `{vault://env/...}` references
//     resolved from this environment), is given to the built plugin's constructor, i.e. its parseConfig
//     (config.ts): keys, PEM certificates, regexes and OpenAPI documents are loaded and compiled there. Kong only
//     discovers a failure of this step when the first request arrives, and then answers 500 on every request of
//     the route; here it is a refusal naming the field.
// A reference this machine cannot resolve skips step 2 for that entry, with a note (CI rarely holds production
// secrets).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDeclarative } from '../kong/schema/declarative';
import { processPluginConfig } from '../kong/schema/config';
import { parseDump, type PluginInfo } from '../kong/schema/plugin-info';
import type { FieldEntry } from '../kong/schema/types';
import { resolveReferences } from '../kong/schema/vault';
import { builtPluginsDir, pluginServerBin } from './paths';

export interface ValidationProblem {
  plugin: string;
  where: string;
  message: string;
}

export interface ValidateOptions {
  /** Environment for `{vault://env/...}` references (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Built plugins whose constructors run step 2 (default: dist/plugins). */
  pluginsRoot?: string;
  /** Receives entries whose instance start could not be tried (unresolvable vault reference). */
  notes?: ValidationProblem[];
}

/**
 * Plugin info of every built Bulwark plugin, from the plugin server's query command (what Kong reads at start:
 * `bulwark-pluginserver --dump-all-plugins`).
 */
export function dumpBuiltPlugins(pluginsRoot = builtPluginsDir): Map<string, PluginInfo> {
  const out = spawnSync(process.execPath, [pluginServerBin, '--plugins-root', pluginsRoot, '--dump-all-plugins'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (out.error) throw out.error;
  if (out.status !== 0) throw new Error(`the plugin server's query command failed: ${out.stderr.trim()}`);
  return new Map(parseDump(out.stdout).map((info) => [info.Name, info]));
}

type PluginConstructor = new (config: unknown) => unknown;

/** The `Plugin` class the plugin server would instantiate (kong-pdk: `new Plugin(config)` at StartInstance). */
function pluginClass(pluginsRoot: string, name: string): PluginConstructor | undefined {
  const entry = path.join(pluginsRoot, name, 'index.js');
  if (!fs.existsSync(entry)) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(entry) as { Plugin?: PluginConstructor };
  return typeof mod.Plugin === 'function' ? mod.Plugin : undefined;
}

/** Validates the plugin entries of a declarative config; plugins not in `infos` (Kong's bundled ones) are skipped. */
export function validateDeclarativePlugins(
  text: string,
  infos: Map<string, PluginInfo>,
  opts: ValidateOptions = {},
): ValidationProblem[] {
  const config = loadDeclarative(text);
  const problems: ValidationProblem[] = [];
  config.plugins.forEach((p, i) => {
    const info = infos.get(p.name);
    if (!info) {
      if (p.name.startsWith('bulwark-'))
        problems.push({ plugin: p.name, where: `plugins[${i}]`, message: `unknown Bulwark plugin '${p.name}'` });
      return;
    }
    const where = `plugins[${i}] (${p.route ? `route ${p.route}` : p.service ? `service ${p.service}` : p.consumer ? `consumer ${p.consumer}` : 'global'})`;
    const fields: FieldEntry[] = info.Schema.fields[0]?.config?.fields ?? [];
    const res = processPluginConfig(fields, p.config ?? {});
    if (!res.ok) {
      problems.push({ plugin: p.name, where, message: res.error.message });
      return;
    }
    const Plugin = pluginClass(opts.pluginsRoot ?? builtPluginsDir, p.name);
    if (!Plugin) {
      problems.push({ plugin: p.name, where, message: `plugin ${p.name} is not built: cannot try its instance start` });
      return;
    }
    // Kong turns a reference it cannot resolve into "" (with a warning); here that only means this machine lacks
    // the secret, so the instance start is not tried rather than refused for an empty secret.
    const unresolved: string[] = [];
    const conf = resolveReferences(fields, res.config, opts.env ?? process.env, (warning, field) =>
      unresolved.push(`config.${field}: ${warning}`),
    );
    if (unresolved.length > 0) {
      opts.notes?.push({ plugin: p.name, where, message: `${unresolved.join('; ')}: instance start not tried` });
      return;
    }
    conf.__plugin_id = p.id;
    try {
      new Plugin(conf);
    } catch (err) {
      // definePlugin's message is "<name>: invalid configuration: <field>: <reason>"; the field is config-relative.
      const message = (err as Error).message.replace(`${p.name}: invalid configuration: `, '');
      problems.push({ plugin: p.name, where, message: `instance start refused: config.${message}` });
    }
  });
  return problems;
}

/** `bulwark validate FILE...`: the text report, and the exit code (0 valid, 1 invalid). */
export function validateFiles(
  files: string[],
  write: { out: (s: string) => void; err: (s: string) => void },
  infos: Map<string, PluginInfo> = dumpBuiltPlugins(),
): number {
  let invalid = 0;
  for (const file of files) {
    const notes: ValidationProblem[] = [];
    const problems = validateDeclarativePlugins(fs.readFileSync(file, 'utf8'), infos, { notes });
    for (const n of notes) write.err(`${file}: note: ${n.where} ${n.plugin}: ${n.message}\n`);
    for (const p of problems) write.err(`${file}: ${p.where} ${p.plugin}: ${p.message}\n`);
    write.out(
      problems.length
        ? `${file}: ${problems.length} invalid plugin config(s)\n`
        : `${file}: all plugin configs valid\n`,
    );
    invalid += problems.length;
  }
  return invalid > 0 ? 1 : 0;
}

/** Resolves a file argument against the working directory. */
export const resolveFile = (f: string): string => path.resolve(f);
