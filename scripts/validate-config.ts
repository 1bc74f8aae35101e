#!/usr/bin/env node
// Bulwark's plugin-config validator for declarative files: what `deck validate` cannot check offline.
// Loads the file like Kong (entities, references), reads each plugin's schema from the plugin server's own
// query command (the schema Kong would load), and validates every plugin entry's config with the emulator's
// implementation of Kong's schema rules. Usage: node dist/js/scripts/validate-config.js [kong.yml]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDeclarative } from '../kong/emulator/declarative';
import { listBuiltPlugins, pluginServerEntries, queryPluginInfo, repoRoot } from '../kong/emulator/plugin-server';
import { processPluginConfig } from '../kong/emulator/schema/config';
import type { PluginInfo } from '../kong/emulator/schema/plugin-info';

export interface ValidationProblem {
  plugin: string;
  where: string;
  message: string;
}

/** Plugin info of every built Bulwark plugin, from its query command (as Kong reads it at start). */
export function dumpBuiltPlugins(): Map<string, PluginInfo> {
  const infos = new Map<string, PluginInfo>();
  for (const entry of pluginServerEntries('stock', '/tmp', listBuiltPlugins())) {
    for (const info of queryPluginInfo(entry)) infos.set(info.Name, info);
  }
  return infos;
}

/** Validates the plugin entries of a declarative config; plugins not in `infos` (Kong's bundled ones) are skipped. */
export function validateDeclarativePlugins(text: string, infos: Map<string, PluginInfo>): ValidationProblem[] {
  const config = loadDeclarative(text);
  const problems: ValidationProblem[] = [];
  config.plugins.forEach((p, i) => {
    const info = infos.get(p.name);
    if (!info) {
      if (p.name.startsWith('bulwark-')) problems.push({ plugin: p.name, where: `plugins[${i}]`, message: `unknown Bulwark plugin '${p.name}'` });
      return;
    }
    const res = processPluginConfig(info.Schema.fields[0]?.config?.fields ?? [], p.config ?? {});
    if (!res.ok) problems.push({ plugin: p.name, where: `plugins[${i}] (${p.route ? `route ${p.route}` : p.service ? `service ${p.service}` : p.consumer ? `consumer ${p.consumer}` : 'global'})`, message: res.error.message });
  });
  return problems;
}

if (require.main === module) {
  const file = path.resolve(process.argv[2] ?? path.join(repoRoot, 'kong.yml'));
  try {
    const problems = validateDeclarativePlugins(fs.readFileSync(file, 'utf8'), dumpBuiltPlugins());
    for (const p of problems) process.stderr.write(`${file}: ${p.where} ${p.plugin}: ${p.message}\n`);
    process.stdout.write(problems.length ? `${problems.length} invalid plugin config(s)\n` : `${file}: all plugin configs valid\n`);
    process.exit(problems.length ? 1 : 0);
  } catch (err) {
    process.stderr.write(`${file}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
