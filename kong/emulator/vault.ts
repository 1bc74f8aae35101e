// Kong resolves vault references in `referenceable` plugin-config fields before the config reaches a plugin
// (process_auto_fields "select" → kong.vault.update; kong/pdk/vault.lua). The emulator implements Kong's `env`
// vault: `{vault://env/my-secret}` reads the environment variable MY_SECRET (upper-cased, `-` → `_`), and
// `{vault://env/my-secret/key}` reads the JSON object in that variable and takes `key`.
import type { FieldDef, FieldEntry } from './schema/types';

const REFERENCE = /^\{vault:\/\/([^/}]+)\/([^/}]+)(?:\/([^}]+))?\}$/;

export class VaultError extends Error {}

export function resolveReference(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  const m = REFERENCE.exec(ref);
  if (!m) throw new VaultError(`invalid vault reference ${ref}`);
  const [, vault, name, key] = m;
  if (vault !== 'env') throw new VaultError(`vault '${vault}' is not available in the emulator (only env)`);
  const variable = name.toUpperCase().replace(/-/g, '_');
  const value = env[variable];
  if (value === undefined) throw new VaultError(`could not get value from external vault (no environment variable ${variable})`);
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

/** Returns a copy of `config` with every reference in a referenceable field resolved; errors name the field. */
export function resolveReferences(fields: FieldEntry[], config: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, at = 'config'): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const entry of fields) {
    const [name, def] = Object.entries(entry)[0] as [string, FieldDef];
    if (!(name in out)) continue;
    out[name] = resolveValue(def, out[name], env, `${at}.${name}`);
  }
  return out;
}

function resolveValue(def: FieldDef, value: unknown, env: NodeJS.ProcessEnv, at: string): unknown {
  try {
    if (def.type === 'string' && def.referenceable && isReference(value)) return resolveReference(value, env);
  } catch (err) {
    throw new VaultError(`${at}: ${(err as Error).message}`);
  }
  if ((def.type === 'array' || def.type === 'set') && def.elements && Array.isArray(value)) {
    return value.map((v, i) => resolveValue(def.elements!, v, env, `${at}[${i}]`));
  }
  if (def.type === 'record' && def.fields && value && typeof value === 'object' && !Array.isArray(value)) {
    return resolveReferences(def.fields, value as Record<string, unknown>, env, at);
  }
  if (def.type === 'map' && def.values && value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, resolveValue(def.values!, v, env, `${at}.${k}`)]));
  }
  return value;
}
