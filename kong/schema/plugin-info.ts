// Kong's loading of external-plugin info (Kong 3.9):
//  - kong/runloop/plugin_servers/process.lua query_external_plugin_info: `cjson.decode` of the query command's whole
//    stdout, `dump.Plugins or dump`, Protocol defaulting to "MsgPack:1";
//  - kong/db/dao/plugins.lua validate_handler: PRIORITY must be a finite integer, VERSION must parse with the
//    `version` rock (1.0.1) into at most three numbers;
//  - kong/db/schema/plugin_loader.lua load_subschema: the schema must pass MetaSchema.MetaSubSchema.
// Any failure stops Kong at start-up; here it throws KongStartupError.
import { luaQuote, luaToString, luaNumberToString } from './lua-format';
import { validatePluginSchema } from './metaschema';
import type { PluginSchema } from './types';

export type {
  FieldDef,
  FieldEntry,
  FieldType,
  MatchRule,
  PluginSchema,
  ErrorTree,
  ErrorTable,
  SchemaViolation,
} from './types';

export interface PluginInfo {
  Name: string;
  /** The cleaned version Kong keeps (`tostring(version(v))`), e.g. "1.2.3". */
  Version: string;
  Phases: string[];
  Priority: number;
  Schema: PluginSchema;
}

export interface PluginDump {
  /** "MsgPack:1" (JS, Python) unless the dump says otherwise, e.g. "ProtoBuf:1" (Go). */
  protocol: string;
  plugins: PluginInfo[];
}

/** Kong refuses to start (an `init_by_lua` error in the real gateway). */
export class KongStartupError extends Error {
  override name = 'KongStartupError';
}

/**
 * Parses `--dump-all-plugins` output and applies Kong's checks to every entry. Note that Kong 3.9 registers only
 * the FIRST entry of a dump (process.lua `(dump.Plugins or dump)[1]`); callers emulating 3.9 should use `[0]`.
 */
export function parseDump(stdout: string): PluginInfo[] {
  return parseDumpWithProtocol(stdout).plugins;
}

export function parseDumpWithProtocol(stdout: string): PluginDump {
  let dump: unknown;
  try {
    dump = JSON.parse(stdout);
  } catch (e) {
    // cjson's message for empty output is "Expected value but found T_END at character 1".
    const detail = stdout.trim() === '' ? 'Expected value but found T_END at character 1' : (e as Error).message;
    throw new KongStartupError(`failed loading external plugins: failed decoding plugin info: ${detail}`);
  }
  if (dump === null || typeof dump !== 'object') {
    throw new KongStartupError(`failed loading external plugins: not a plugin info table: \n${stdout}`);
  }
  const wrapped = !Array.isArray(dump) ? (dump as Record<string, unknown>) : undefined;
  const list = wrapped?.Plugins ?? dump;
  if (!Array.isArray(list) || list.length === 0) {
    // Kong indexes `[1]` of it and crashes on the nil entry.
    throw new KongStartupError('failed loading external plugins: the plugin info holds no plugin entry');
  }
  const protocol = typeof wrapped?.Protocol === 'string' ? wrapped.Protocol : 'MsgPack:1';
  return { protocol, plugins: list.map(checkPluginInfo) };
}

/** Kong's checks of one dump entry, in Kong's order: name, PRIORITY, VERSION, schema. */
export function checkPluginInfo(entry: unknown): PluginInfo {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new KongStartupError('failed loading external plugins: a plugin info entry is not a table');
  }
  const info = entry as Record<string, unknown>;
  const name = info.Name;
  if (typeof name !== 'string' || name === '') {
    throw new KongStartupError('failed loading external plugins: a plugin info entry has no Name');
  }
  const fail = (msg: string): never => {
    throw new KongStartupError(`error loading plugin schemas: on plugin '${name}': ${msg}`);
  };

  const priority = info.Priority;
  if (!isValidPriority(priority)) {
    fail(
      `Plugin ${luaQuote(name)} cannot be loaded because its PRIORITY field is not a valid integer number, got: ${luaQuote(luaToString(priority))}.\n`,
    );
  }
  const version = cleanVersion(info.Version);
  if (version === undefined) {
    fail(
      `Plugin ${luaQuote(name)} cannot be loaded because its VERSION field does not follow the "x.y.z" format, got: ${luaQuote(luaToString(info.Version))}.\n`,
    );
  }
  const phases = info.Phases;
  if (!Array.isArray(phases) || phases.some((p) => typeof p !== 'string')) {
    fail('Phases must be a list of phase names');
  }
  const schemaErrors = validatePluginSchema(info.Schema);
  if (schemaErrors.length > 0) {
    fail(
      schemaErrors.length === 1
        ? `schema violation (${schemaErrors[0]})`
        : `${schemaErrors.length} schema violations (${schemaErrors.join('; ')})`,
    );
  }
  return {
    Name: name,
    Version: version as string,
    Phases: phases as string[],
    Priority: priority as number,
    Schema: info.Schema as PluginSchema,
  };
}

/** kong/db/dao/plugins.lua validate_priority: a number, not NaN, not infinite, integral. */
export function isValidPriority(p: unknown): p is number {
  return typeof p === 'number' && Number.isFinite(p) && Math.floor(p) === p;
}

/**
 * kong/db/dao/plugins.lua validate_version with the `version` rock 1.0.1 (non-strict): the first run of digits and
 * dots is taken, split on dots (an empty inner element is invalid), and more than three elements are refused.
 * So "1.2.3" → "1.2.3", "v1.2.3-beta" → "1.2.3", "1.0" → "1.0" (accepted!), "1.0.0.0" / "abc" / a number → refused.
 * Returns the cleaned string Kong stores as VERSION, or undefined.
 */
export function cleanVersion(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const run = /\d[\d.]*/.exec(v);
  if (!run) return undefined;
  const parts = run[0].split('.');
  if (parts[parts.length - 1] === '') parts.pop(); // the rock's split() drops one trailing empty element
  if (parts.some((p) => p === '') || parts.length > 3) return undefined;
  return parts.map((p) => luaNumberToString(Number(p))).join('.');
}
