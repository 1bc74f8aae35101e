// Kong 3.9's log serializer edits (kong/pdk/log.lua 3.9.3): `kong.log.set_serialize_value(key, value, {mode})`
// appends {key, value, mode} to ngx.ctx.serialize_values (lines 636-662; nil before the first call: Lua plugins
// such as bulwark-guard read that list, lua-plugins.ts). `serialize()` first redacts request.headers.authorization
// and proxy-authorization to "REDACTED" (lines 876-883; modelled as two "replace" edits ahead of the list), then
// applies the list in order (edit_result, lines 708-755): the key is split on "."; "set" creates missing
// sub-tables and always writes, "add" writes only a missing value, "replace" only an existing one (and stops at a
// missing sub-table); a non-table sub-key is an error. Kong's log plugins (file-log, http-log, tcp-log, …) write
// exactly what serialize() returns: file-log appends `cjson.encode(kong.log.serialize()) .. "\n"`
// (kong/plugins/file-log/handler.lua).
export type SerializeMode = 'set' | 'add' | 'replace';

export interface SerializeValue {
  key: string;
  value: unknown;
  mode: SerializeMode;
}

export const DEFAULT_SERIALIZE_VALUES: readonly SerializeValue[] = [
  { key: 'request.headers.authorization', value: 'REDACTED', mode: 'replace' },
  { key: 'request.headers.proxy-authorization', value: 'REDACTED', mode: 'replace' },
];

/** set_serialize_value's argument checks (log.lua: "key must be a string", "mode must be 'set', 'add' or 'replace'"). */
export function serializeValue(key: unknown, value: unknown, options: unknown): SerializeValue {
  if (typeof key !== 'string') throw new Error('key must be a string');
  const mode = (options as { mode?: unknown } | undefined)?.mode ?? 'set';
  if (mode !== 'set' && mode !== 'add' && mode !== 'replace') throw new Error("mode must be 'set', 'add' or 'replace'");
  return { key, value, mode };
}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null;

/** edit_result: applies the list to `root` in place and returns it. */
export function editResult(root: Table, values: readonly SerializeValue[]): Table {
  for (const { key, value, mode } of [...DEFAULT_SERIALIZE_VALUES, ...values]) {
    const subkeys = key.split('.');
    let node: Table | undefined = root;
    for (const sub of subkeys.slice(0, -1)) {
      if (node[sub] === undefined || node[sub] === null) {
        if (mode === 'replace') {
          node = undefined;
          break;
        }
        node[sub] = {};
      }
      const next: unknown = node[sub];
      if (!isTable(next))
        throw new Error(`The key '${key}' could not be used as a serialize value. Subkey '${sub}' is not a table.`);
      node = next;
    }
    if (node === undefined) continue;
    const last = subkeys[subkeys.length - 1] as string;
    const existing = node[last];
    const present = existing !== undefined && existing !== null;
    if (mode === 'set' || (mode === 'add' && !present) || (mode === 'replace' && present)) node[last] = value;
  }
  return root;
}
