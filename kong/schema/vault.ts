// Kong resolves vault references in `referenceable` plugin-config fields before the config reaches a plugin
// (process_auto_fields "select" → kong.vault.update; kong/pdk/vault.lua). The emulator implements Kong's `env`
// vault: `{vault://env/my-secret}` reads the environment variable MY_SECRET (upper-cased, `-` → `_`), and
// `{vault://env/my-secret/key}` reads the JSON object in that variable and takes `key`.
// A reference Kong cannot resolve becomes "" with a warning (kong/db/schema/init.lua 3.9.3 resolve_reference,
// lines 1693-1703: `return deref or ""`), for a plain field, an array/set element and a map value alike; the
// instance starts with the empty string. Plugins must refuse "" where a secret is needed.
import type { FieldDef, FieldEntry } from './types';

const REFERENCE = /^\{vault:\/\/([^/}]+)\/([^/}]+)(?:\/([^}]+))?\}$/;

export class VaultError extends Error {}

export function resolveReference(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  const m = REFERENCE.exec(ref);
  if (!m) throw new VaultError(`invalid vault reference ${ref}`);
  const [, vault, name, key] = m;
  if (vault !== 'env') throw new VaultError(`vault '${vault}' is not available in the emulator (only env)`);
  const variable = name.toUpperCase().replace(/-/g, '_');
  const value = env[variable];
  if (value === undefined)
    throw new VaultError(`could not get value from external vault (no environment variable ${variable})`);
  if (key === undefined) return value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new VaultError(`environment variable ${variable} is not a JSON object`);
  }
  const v = (parsed as Record<string, unknown>)[key];
  if (typeof v !== 'string') throw new VaultError(`key '${key}' not found in environment variable ${variable}`);
  return v;
}

const isReference = (v: unknown): v is string => typeof v === 'string' && v.startsWith('{vault:') && v.endsWith('}');

/** Called with Kong's warning for each reference that resolved to "", and the config field it was in. */
export type VaultWarn = (message: string, field: string) => void;

/** Returns a copy of `config` with every reference in a referenceable field resolved (Kong: "" when it cannot be). */
export function resolveReferences(
  fields: FieldEntry[],
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
  warn: VaultWarn = () => undefined,
  prefix = '',
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const entry of fields) {
    const [name, def] = Object.entries(entry)[0] as [string, FieldDef];
    if (!(name in out)) continue;
    out[name] = resolveValue(def, out[name], env, warn, `${prefix}${name}`);
  }
  return out;
}

function resolveValue(def: FieldDef, value: unknown, env: NodeJS.ProcessEnv, warn: VaultWarn, field: string): unknown {
  if (def.type === 'string' && def.referenceable && isReference(value)) {
    try {
      return resolveReference(value, env);
    } catch (err) {
      // init.lua resolve_reference: kong.log.warn("unable to resolve reference ", value, " (", err, ")")
      warn(`unable to resolve reference ${value} (${(err as Error).message})`, field);
      return '';
    }
  }
  if ((def.type === 'array' || def.type === 'set') && def.elements && Array.isArray(value)) {
    return value.map((v, i) => resolveValue(def.elements!, v, env, warn, `${field}[${i}]`));
  }
  if (def.type === 'record' && def.fields && value && typeof value === 'object' && !Array.isArray(value)) {
    return resolveReferences(def.fields, value as Record<string, unknown>, env, warn, `${field}.`);
  }
  if (def.type === 'map' && def.values && value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        resolveValue(def.values!, v, env, warn, `${field}.${k}`),
      ]),
    );
  }
  return value;
}
