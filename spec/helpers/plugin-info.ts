// The checks every Bulwark plugin's exports must pass to load in Kong: the name, an x.y.z Version, the chosen
// PRIORITY, Kong's metaschema (kong/db/schema/metaschema.lua) over the schema exactly as the plugin server dumps it,
// and a 10–500 character description on every field (shorter or longer stops Kong at start).
import { validatePluginSchema } from '../../kong/emulator/schema/metaschema';
import type { FieldEntry } from '../../kong/emulator/schema/types';
import { processPluginConfig } from '../../kong/emulator/schema/config';

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

export function describePluginInfo(plugin: PluginExports, expected: { name: string; priority: number; why: string }): void {
  describe(`${expected.name} plugin info`, () => {
    test(`name, an x.y.z version, priority ${expected.priority} (${expected.why})`, () => {
      expect(plugin.Name).toBe(expected.name);
      expect(plugin.Version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(plugin.Priority).toBe(expected.priority);
    });

    test('passes Kong metaschema validation as the JS server dumps it', () => {
      expect(validatePluginSchema({ name: plugin.Name, fields: [{ config: { type: 'record', fields: plugin.Schema } }] })).toEqual([]);
    });

    test('every field has a description of 10–500 characters', () => {
      expect(fieldsWithBadDescriptions(plugin.Schema as FieldEntry[])).toEqual([]);
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
