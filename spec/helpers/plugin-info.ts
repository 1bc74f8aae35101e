// The checks every Bulwark plugin's exports must pass to load in Kong: the name, an x.y.z Version, the documented
// PRIORITY, Kong's metaschema (kong/db/schema/metaschema.lua) over the schema exactly as the plugin server dumps it,
// and a 10–500 character description on every field (shorter or longer stops Kong at start).
import fs = require('fs');
import path = require('path');
import { version as packageVersion } from '../../package.json';
import { validatePluginSchema } from '../../kong/schema/metaschema';
import type { FieldEntry } from '../../kong/schema/types';
import { processPluginConfig } from '../../kong/schema/config';

export interface PluginExports {
  Name: string;
  Version: string;
  Priority: number;
  Schema: unknown;
}

/** Fields without a description of 10–500 characters, as dotted paths (`records`, `arrays[]` included). */
export function fieldsWithBadDescriptions(entries: FieldEntry[], at = ''): string[] {
  const bad: string[] = [];
  for (const entry of entries) {
    const [name, def] = Object.entries(entry)[0]!;
    const d = def.description;
    if (typeof d !== 'string' || d.length < 10 || d.length > 500) bad.push(`${at}${name}`);
    if (def.fields) bad.push(...fieldsWithBadDescriptions(def.fields, `${at}${name}.`));
    const el = (def as { elements?: { fields?: FieldEntry[] } }).elements;
    if (el?.fields) bad.push(...fieldsWithBadDescriptions(el.fields, `${at}${name}[].`));
  }
  return bad;
}

/**
 * Strings and collections without an upper bound, as dotted paths: a string needs len_max (or len_eq, one_of,
 * eq), an array, set or map needs len_max (or len_eq), except a set of one_of values (deduplicated, so finite).
 * Every config value is held in each worker's memory and some are walked per request: nothing may be unbounded.
 */
export function unboundedFields(entries: FieldEntry[], at = ''): string[] {
  const out: string[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a dumped schema field, any shape
  const visit = (def: Record<string, any>, path: string): void => {
    const bounded = def.len_max !== undefined || def.len_eq !== undefined;
    if (def.type === 'string' && !bounded && def.one_of === undefined && def.eq === undefined) out.push(path);
    if (['array', 'set', 'map'].includes(def.type) && !bounded && !(def.type === 'set' && def.elements?.one_of))
      out.push(path);
    if (def.elements) visit(def.elements, `${path}[]`);
    if (def.keys) visit(def.keys, `${path}{key}`);
    if (def.values) visit(def.values, `${path}{value}`);
    if (def.fields) out.push(...unboundedFields(def.fields, `${path}.`));
  };
  for (const entry of entries) {
    const [name, def] = Object.entries(entry)[0]!;
    visit(def, `${at}${name}`);
  }
  return out;
}

/** A plugin's priority as the docs state it: the root README's priority table and the plugin's own README. */
export function documentedPriorities(name: string): { table: number | undefined; readme: number | undefined } {
  const root = path.join(__dirname, '..', '..');
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
  const table = row === undefined ? undefined : Number(row.split('|')[3]?.trim());
  const own = path.join(root, 'plugins', name, 'README.md');
  const ownText = fs.existsSync(own) ? fs.readFileSync(own, 'utf8') : undefined;
  const stated = ownText?.match(/priority \**(\d+)\**/i);
  return { table, readme: stated ? Number(stated[1]) : undefined };
}

/**
 * The checks on a plugin's module (index.ts): what definePlugin derives (the name is the directory's, the version
 * the package's) and what the docs say of it (the priority in the root README's table and the plugin's README, so
 * that the number written once in index.ts is never contradicted), then Kong's schema rules.
 */
export function describePluginInfo(plugin: PluginExports, why: string): void {
  describe(`${plugin.Name} plugin info`, () => {
    test(`name, the package's version, priority ${plugin.Priority} as the READMEs say (${why})`, () => {
      expect(fs.existsSync(path.join(__dirname, '..', '..', 'plugins', plugin.Name, 'index.ts'))).toBe(true);
      expect(plugin.Version).toBe(packageVersion);
      expect(plugin.Version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(Number.isInteger(plugin.Priority)).toBe(true);
      const documented = documentedPriorities(plugin.Name);
      expect(documented.table).toBe(plugin.Priority);
      // The plugin README states it too when it has one (bulwark-transport's docs live in the root README).
      if (documented.readme !== undefined) expect(documented.readme).toBe(plugin.Priority);
    });

    test('passes Kong metaschema validation as the JS server dumps it', () => {
      expect(
        validatePluginSchema({ name: plugin.Name, fields: [{ config: { type: 'record', fields: plugin.Schema } }] }),
      ).toEqual([]);
    });

    test('every field has a description of 10–500 characters', () => {
      expect(fieldsWithBadDescriptions(plugin.Schema as FieldEntry[])).toEqual([]);
    });

    test('every string, array, set and map has an upper bound (len_max), so Kong refuses oversized values', () => {
      expect(unboundedFields(plugin.Schema as FieldEntry[])).toEqual([]);
    });
  });
}

/** The config Kong's DAO would store for `input` (defaults filled); throws on a schema violation. */
export function configFor(fields: FieldEntry[], input: unknown): Record<string, unknown> {
  const result = processPluginConfig(fields, input);
  if (!result.ok) throw new Error(`unexpected schema violation: ${result.error.message}`);
  return result.config;
}

/** The `fields` of Kong's schema-violation error for `input`; throws when the input is accepted. */
export function violationFor(fields: FieldEntry[], input: unknown): unknown {
  const result = processPluginConfig(fields, input);
  if (result.ok) throw new Error('expected a schema violation');
  return result.error.fields;
}

/**
 * The error Kong reports at `path` inside `config` (dotted; array positions 0-based, as the error tree holds them),
 * e.g. `issuers.0.jwks_url` or `limits.0.@entity`. Throws when the input is accepted; undefined when that field
 * has no error.
 */
export function fieldError(fields: FieldEntry[], input: unknown, path: string): unknown {
  const result = processPluginConfig(fields, input);
  if (result.ok) throw new Error(`expected a schema violation, accepted ${JSON.stringify(input).slice(0, 200)}`);
  let node: unknown = result.error.fields.config;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
