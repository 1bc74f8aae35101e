// Kong's DAO treatment of a plugin `config` (Kong 3.9):
//  - insert: `process_auto_fields(entity, "insert")` fills defaults (kong/db/schema/init.lua adjust_field_for_context,
//    handle_missing_field), then `validate_insert` checks every field (validate_fields, Schema:validate_field);
//  - read: `process_auto_fields(row, "select")` drops nulls (unless the Admin API asks for them) and floors integers;
//  - update: `merge_values(patch, stored)` (kong/db/dao/plugins.lua, init.lua Schema:merge_values), then as insert.
// JSON `null` plays ngx.null; a missing key plays nil.
//
// Entity.new_subschema (kong/db/schema/entity.lua make_records_required) makes `config` and every record nested
// directly in a record `required = true` unless the schema says `required: false`, so a missing nested record is
// expanded with its defaults and an explicit `null` for it is "required field missing".
import { schemaViolation } from './errors';
import { MSG, runValidators } from './validators';
import type { ErrorTable, ErrorTree, FieldDef, FieldEntry, SchemaViolation } from './types';

type Table = Record<string, unknown>;

export type ConfigResult = { ok: true; config: Table; stored: Table } | { ok: false; error: SchemaViolation };

export interface ReadOptions {
  /** Keep unset fields as `null` (the Admin API's view, `nulls = true`); default drops them. */
  nulls?: boolean;
}

// kong/pdk/vault.lua is_reference: starts with "{vault:" (byte 7 is ':') and ends with "}".
const VAULT_REFERENCE = /^\{vault:[\s\S]*\}$/;

const isTable = (v: unknown): v is Table | unknown[] => v !== null && typeof v === 'object';
const fieldOf = (entry: FieldEntry): [string, FieldDef] => Object.entries(entry)[0];

/** Kong's make_records_required: records nested directly in records default to required. */
function recordRequired(field: FieldDef): boolean {
  return field.required ?? true;
}
function isRequired(field: FieldDef): boolean {
  return field.type === 'record' ? recordRequired(field) : field.required === true;
}

/**
 * Validates and fills a plugin `config` as Kong does on insert. `fields` is the plugin's own Schema array.
 * On success, `config` is what a read returns (unset fields absent) and `stored` keeps the nulls, as the database
 * does (pass it to processPluginConfigUpdate later).
 */
export function processPluginConfig(fields: FieldEntry[], input: unknown, opts: ReadOptions = {}): ConfigResult {
  const configField: FieldDef = { type: 'record', fields, required: true };
  // `config` missing: the required record is expanded with its defaults (handle_missing_field).
  const value = input === undefined ? {} : input;
  const err = validateField(configField, value);
  if (err !== undefined) return { ok: false, error: schemaViolation({ config: err }) };
  const stored = processInsert(fields, asTable(value as Table | unknown[]));
  return { ok: true, stored, config: readConfig(fields, stored, opts) };
}

/** PATCH: the new config is the stored one with the patch merged in record by record (arrays are replaced). */
export function processPluginConfigUpdate(
  fields: FieldEntry[],
  patch: unknown,
  stored: Table,
  opts: ReadOptions = {},
): ConfigResult {
  if (patch === undefined) return processPluginConfig(fields, stored, opts);
  if (!isTable(patch) || Array.isArray(patch)) return processPluginConfig(fields, patch, opts);
  return processPluginConfig(fields, mergeValues(fields, patch, stored), opts);
}

/** The read view of a stored config (`process_auto_fields(row, "select")`). */
export function readConfig(fields: FieldEntry[], stored: Table, opts: ReadOptions = {}): Table {
  return processSelect(fields, stored, opts.nulls === true);
}

// ---------------------------------------------------------------- insert: defaults (process_auto_fields "insert")

/** A JSON array given where Kong expects a table with string keys: Lua sees keys 1..n. */
function asTable(v: Table | unknown[]): Table {
  if (!Array.isArray(v)) return v;
  return Object.fromEntries(v.map((item, i) => [String(i + 1), item]));
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function processInsert(fields: FieldEntry[], data: Table): Table {
  const out: Table = clone(data);
  for (const entry of fields) {
    const [key, field] = fieldOf(entry);
    const value = adjustInsert(field, out[key]);
    if (value === undefined) delete out[key];
    else out[key] = value;
  }
  return out;
}

function adjustInsert(field: FieldDef, value: unknown): unknown {
  if (field.type === 'record') {
    if (value !== null && (value !== undefined || recordRequired(field))) {
      const v = value === undefined ? handleMissing(field) : value;
      if (isTable(v)) return processInsert(field.fields ?? [], asTable(v));
      value = v;
    }
  } else if (isTable(value)) {
    value = adjustCollection(field, value, adjustInsert);
  }
  return value === undefined ? handleMissing(field) : value;
}

/** make_array / make_set (sets drop duplicates) and the per-element adjustment of arrays, sets and maps. */
function adjustCollection(
  field: FieldDef,
  value: Table | unknown[],
  adjust: (f: FieldDef, v: unknown) => unknown,
): unknown {
  const isEmptyObject = !Array.isArray(value) && Object.keys(value).length === 0;
  if ((field.type === 'array' || field.type === 'set') && field.elements) {
    if (isEmptyObject) return []; // `{}` decodes to an empty Lua table, which is a valid empty sequence
    if (!Array.isArray(value)) return value;
    const items = field.type === 'set' ? dedupe(value) : value;
    return items.map((v) => adjust(field.elements as FieldDef, v));
  }
  if (field.type === 'map' && field.values && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, adjust(field.values as FieldDef, v)]));
  }
  return value;
}

/** make_set: drops repeated values (Lua equality, so tables are never duplicates of each other). */
function dedupe(items: unknown[]): unknown[] {
  return items.filter((v, i) => isTable(v) || items.indexOf(v) === i);
}

/** handle_missing_field: the default, else null when optional, else (records) the expanded structure. */
function handleMissing(field: FieldDef): unknown {
  if (field.default !== undefined) return clone(field.default);
  if (!isRequired(field)) return null;
  if (field.type === 'record') return processInsert(field.fields ?? [], {});
  return undefined;
}

// ---------------------------------------------------------------- validation (Schema:validate / validate_field)

/** Schema:validate(input, full_check = true) for a record: unknown fields, per-field checks, required fields. */
function validateRecord(record: FieldDef, input: Table): ErrorTable | undefined {
  const fields = record.fields ?? [];
  const byName = new Map(fields.map(fieldOf));
  const errors: ErrorTable = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined) continue;
    const field = byName.get(k);
    if (!field) {
      // defineProperty: a JSON key "__proto__" is an own key of the input and must stay one in the errors.
      Object.defineProperty(errors, k, { value: MSG.UNKNOWN, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const err = validateField(field, v);
    if (err !== undefined) errors[k] = err;
  }
  for (const [name, field] of byName) {
    if (isRequired(field) && (input[name] === null || input[name] === undefined)) errors[name] = MSG.REQUIRED;
  }
  runEntityChecks(record, input, errors);
  return Object.keys(errors).length > 0 ? errors : undefined;
}

/** Schema:validate_field. Returns undefined when valid, else Kong's error (a message or a nested tree). */
export function validateField(field: FieldDef, value: unknown): ErrorTree | undefined {
  if (value === null) {
    if (field.ne === null) return field.err ?? MSG.NE('null');
    if (field.eq !== undefined && field.eq !== null) return MSG.EQ(String(field.eq));
    if (isRequired(field)) return MSG.REQUIRED;
    return undefined;
  }
  if (field.eq === null) return field.err ?? MSG.EQ('null');
  if (field.abstract) return MSG.ABSTRACT;

  let effective = field;
  switch (field.type) {
    case 'array':
    case 'set': {
      const isSequence = Array.isArray(value) || (isTable(value) && Object.keys(value).length === 0);
      if (!isSequence) return field.type === 'array' ? MSG.ARRAY : MSG.SET;
      // Kong validates the already-processed value, so a set is deduplicated before its elements are checked.
      const items = Array.isArray(value) ? (field.type === 'set' ? dedupe(value) : value) : [];
      const elementErrors = validateElements(field.elements as FieldDef, items);
      if (elementErrors) return elementErrors;
      break;
    }
    case 'map': {
      if (!isTable(value)) return MSG.MAP;
      // Kong returns only the first failing key or value, not a tree.
      const entries: Array<[unknown, unknown]> = Array.isArray(value)
        ? value.map((v, i) => [i + 1, v])
        : Object.entries(value);
      for (const [k, v] of entries) {
        const keyErr = validateField({ ...(field.keys as FieldDef), required: true }, k);
        if (keyErr !== undefined) return keyErr;
        const valueErr = validateField({ ...(field.values as FieldDef), required: true }, v);
        if (valueErr !== undefined) return valueErr;
      }
      break;
    }
    case 'record': {
      if (!isTable(value)) return MSG.RECORD;
      const nested = validateRecord(field, processInsert(field.fields ?? [], asTable(value)));
      if (nested) return nested;
      break;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return MSG.INTEGER;
      break;
    case 'number':
      if (typeof value !== 'number') return MSG.NUMBER;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return MSG.BOOLEAN;
      break;
    case 'string':
      if (typeof value !== 'string') return MSG.STRING;
      // Empty strings are not accepted by default: len_min defaults to 1.
      if (field.len_min === undefined) effective = { ...field, len_min: 1 };
      // A vault reference in a referenceable field skips the validators (resolved at read time).
      if (field.referenceable && VAULT_REFERENCE.test(value)) return undefined;
      break;
    case 'function':
      return MSG.FUNCTION; // JSON cannot carry a function
    case 'foreign':
    case 'json':
      throw new Error(`fields of type '${field.type}' cannot be emulated`);
    case 'any':
      break;
    default:
      return MSG.SCHEMA_TYPE(String(field.type));
  }
  return runValidators(effective, value);
}

/** validate_elements: elements are required; errors sit at the failing element's position. */
function validateElements(elements: FieldDef, items: unknown[]): Array<ErrorTree | null> | undefined {
  const required = { ...elements, required: true };
  const errs = items.map((item) => validateField(required, item) ?? null);
  return errs.some((e) => e !== null) ? errs : undefined;
}

// ---------------------------------------------------------------- entity checks on nested records
// kong/db/schema/init.lua: Schema.entity_checkers, run_entity_check, get_field/set_field (dotted names).

type Checker = {
  runWithMissing: boolean;
  runWithInvalid: boolean;
  /** `field_sources`: the keys of the argument naming the fields to hand over; absent = the argument is the list. */
  sources?: string[];
  /** `required_fields`: only `conditional` declares it as a map ({ if_field = true }); the others declare an
   *  array, so `required_fields[source]` is nil for every source and no field is required (init.lua as written). */
  requiredSources?: string[];
  /** Kong's fn: true, or [err, err2] where err2 is a ready message (a user's then_err). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each checker reads its own argument shape
  fn: (input: Table, arg: any, record: FieldDef, errors: ErrorTable) => true | [string, string?];
  msg: string;
};

const quotedNames = (names: unknown[]): string => names.map((n) => `'${String(n)}'`).join(', ');
const nonEmptyCount = (input: Table, names: string[]) => names.filter((n) => nonEmpty(getField(input, n))).length;
const namesCheck =
  (ok: (input: Table, names: string[]) => boolean) =>
  (input: Table, names: string[]): true | [string] =>
    ok(input, names) ? true : [quotedNames(names)];

const ENTITY_CHECKERS: Record<string, Checker> = {
  at_least_one_of: {
    runWithMissing: true,
    runWithInvalid: true,
    msg: 'at least one of these fields must be non-empty: %s',
    fn: namesCheck((i, n) => nonEmptyCount(i, n) > 0),
  },
  conditional_at_least_one_of: {
    runWithMissing: true,
    runWithInvalid: true,
    msg: 'at least one of these fields must be non-empty: %s',
    sources: ['if_field', 'then_at_least_one_of', 'else_then_at_least_one_of'],
    fn: (input, arg, record) => {
      const ifValue = getField(input, arg.if_field);
      if (ifValue === undefined) return true;
      const ifField = getSchemaField(record, arg.if_field);
      let names: string[] = arg.then_at_least_one_of;
      let customErr: string | undefined = arg.then_err;
      if (validateField(inherit(arg.if_match, ifField), ifValue) !== undefined) {
        if (arg.else_match === undefined) return true;
        if (validateField(inherit(arg.else_match, ifField), ifValue) !== undefined) return true;
        names = arg.else_then_at_least_one_of;
        customErr = arg.else_then_err;
      }
      if (nonEmptyCount(input, names) > 0) return true;
      const list = quotedNames(names);
      return [list, customErr === undefined ? undefined : customErr.replace('%s', list)];
    },
  },
  only_one_of: {
    runWithMissing: false,
    runWithInvalid: true,
    msg: 'exactly one of these fields must be non-empty: %s',
    fn: namesCheck((i, n) => nonEmptyCount(i, n) === 1),
  },
  distinct: {
    runWithMissing: false,
    runWithInvalid: true,
    msg: 'values of these fields must be distinct: %s',
    fn: namesCheck((i, n) => {
      const s = n.map((k) => getField(i, k)).filter(nonEmpty);
      return new Set(s).size === s.length;
    }),
  },
  conditional: {
    runWithMissing: false,
    runWithInvalid: true,
    msg: "failed conditional validation given value of field '%s'",
    sources: ['if_field', 'then_field'],
    requiredSources: ['if_field'],
    fn: (input, arg, record, errors) => {
      const ifValue = getField(input, arg.if_field);
      const thenValue = getField(input, arg.then_field) ?? null;
      if (validateField(inherit(arg.if_match, getSchemaField(record, arg.if_field)), ifValue) !== undefined)
        return true;
      if (arg.then_match.required === true && thenValue === null) {
        setField(errors, arg.then_field, MSG.REQUIRED);
        return [arg.if_field];
      }
      const err = validateField(inherit(arg.then_match, getSchemaField(record, arg.then_field)), thenValue);
      if (err === undefined) return true;
      setField(errors, arg.then_field, err);
      return [arg.if_field, arg.then_err === undefined ? undefined : String(arg.then_err).replace('%s', arg.if_field)];
    },
  },
  mutually_required: {
    runWithMissing: true,
    runWithInvalid: false,
    msg: 'all or none of these fields must be set: %s',
    fn: namesCheck((i, n) => {
      const c = nonEmptyCount(i, n);
      return c === 0 || c === n.length;
    }),
  },
  mutually_exclusive: {
    runWithMissing: true,
    runWithInvalid: false,
    msg: 'only one or none of these fields must be set: %s',
    fn: namesCheck((i, n) => nonEmptyCount(i, n) <= 1),
  },
  mutually_exclusive_sets: {
    runWithMissing: true,
    runWithInvalid: false,
    msg: 'these sets are mutually exclusive: %s',
    sources: ['set1', 'set2'],
    fn: (input, arg) => {
      const set1 = (arg.set1 as string[]).filter((n) => nonEmpty(getField(input, n)));
      const set2 = (arg.set2 as string[]).filter((n) => nonEmpty(getField(input, n)));
      return set1.length > 0 && set2.length > 0 ? [`(${quotedNames(set1)}), (${quotedNames(set2)})`] : true;
    },
  },
};

/** is_nonempty of init.lua: not nil, not null, not an empty table, not "". */
function nonEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (isTable(v)) return Object.keys(v).length > 0;
  return true;
}

/** get_field: `a.b.c` reads nested records; nil (undefined) once a level is missing or null. */
function getField(table: unknown, name: string): unknown {
  if (table === undefined || table === null || !isTable(table)) return undefined;
  const dot = name.indexOf('.');
  if (dot < 0) return (table as Table)[name];
  return getField((table as Table)[name.slice(0, dot)], name.slice(dot + 1));
}

/** set_field: writes `a.b.c`, creating the intermediate tables. */
function setField(table: ErrorTable, name: string, value: ErrorTree): void {
  const dot = name.indexOf('.');
  if (dot < 0) {
    table[name] = value;
    return;
  }
  const head = name.slice(0, dot);
  if (!isTable(table[head])) table[head] = {};
  setField(table[head] as ErrorTable, name.slice(dot + 1), value);
}

/** get_schema_field: the definition of a (dotted) field name of a record. */
function getSchemaField(record: FieldDef | undefined, name: string): FieldDef | undefined {
  if (record === undefined) return undefined;
  const dot = name.indexOf('.');
  const head = dot < 0 ? name : name.slice(0, dot);
  const entry = (record.fields ?? []).find((e) => fieldOf(e)[0] === head);
  const field = entry ? fieldOf(entry)[1] : undefined;
  return dot < 0 ? field : getSchemaField(field, name.slice(dot + 1));
}

/** `setmetatable(arg.if_match, { __index = field })`: the match's own attributes over the field's definition. */
function inherit(match: FieldDef, field: FieldDef | undefined): FieldDef {
  return { ...(field ?? {}), ...match } as FieldDef;
}

/**
 * run_entity_check for every check of a record (full_check = true: configs are validated whole). Checkers that
 * need a Lua function (`custom_entity_check`) are refused so that the emulator never accepts what Kong would reject.
 */
function runEntityChecks(record: FieldDef, input: Table, errors: ErrorTable): void {
  for (const check of record.entity_checks ?? []) {
    const [name, arg] = Object.entries(check)[0] ?? [];
    if (arg === undefined || arg === null) continue; // `if arg and arg ~= null`
    const checker = name ? ENTITY_CHECKERS[name] : undefined;
    if (!checker) throw new Error(`entity check '${String(name)}' cannot be emulated`);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the checker's argument, any Lua table
    const a = arg as any;
    const fieldsToCheck: string[] = [];
    const required = new Set<string>();
    if (checker.sources) {
      for (const source of checker.sources) {
        const v = a[source];
        const list: string[] = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
        fieldsToCheck.push(...list);
        if (checker.requiredSources?.includes(source)) list.forEach((n) => required.add(n));
      }
    } else {
      fieldsToCheck.push(...(a as string[]));
      (a as string[]).forEach((n) => required.add(n));
    }
    const missing: string[] = [];
    let allNil = true;
    let allOk = true;
    let skip = false;
    for (const fname of fieldsToCheck) {
      const value = getField(input, fname);
      if (value === undefined) {
        if (!checker.runWithMissing && !a.run_with_missing_fields && required.has(fname)) missing.push(fname);
      } else {
        allNil = false;
        // A vault reference in a referenceable field: the check does not run (resolved later).
        const def = getSchemaField(record, fname);
        if (def?.type === 'string' && def.referenceable && typeof value === 'string' && VAULT_REFERENCE.test(value))
          skip = true;
      }
      if (errors[fname] !== undefined) allOk = false; // `errors[fname]`: the raw (possibly dotted) name, as init.lua reads it
    }
    if (skip) continue;
    if (!allOk && !checker.runWithInvalid && !a.run_with_invalid_fields) continue;
    if (allNil && !checker.runWithMissing) continue;
    if (missing.length > 0) {
      for (const n of missing) setField(errors, n, 'field required for entity check');
      continue;
    }
    const outcome = checker.fn(input, a, record, errors);
    if (outcome === true) continue;
    const [err, err2] = outcome;
    const entity = (errors['@entity'] as string[] | undefined) ?? [];
    entity.push(err2 ?? checker.msg.replace('%s', err));
    errors['@entity'] = entity;
  }
}

// ---------------------------------------------------------------- read (process_auto_fields "select")

function processSelect(fields: FieldEntry[], data: Table, nulls: boolean): Table {
  const out: Table = {};
  for (const entry of fields) {
    const [key, field] = fieldOf(entry);
    let value = adjustSelect(field, data[key], nulls);
    if (value === null && !nulls) value = undefined;
    else if (field.type === 'integer' && typeof value === 'number') value = Math.floor(value);
    // Strings with len_min > 0 read as "" are dropped (only a reference could have stored one).
    if (field.type === 'string' && (field.len_min ?? 1) > 0 && value === '') value = nulls ? null : undefined;
    if (value !== undefined) out[key] = value;
  }
  return out; // keys that are not schema fields are dropped on read
}

function adjustSelect(field: FieldDef, value: unknown, nulls: boolean): unknown {
  if (value === null && isRequired(field)) return handleMissing(field);
  if (field.type === 'record') {
    if (value !== null && (value !== undefined || recordRequired(field))) {
      const v = value === undefined ? handleMissing(field) : value;
      if (isTable(v)) return processSelect(field.fields ?? [], asTable(v), nulls);
      value = v;
    }
  } else if (isTable(value)) {
    value = adjustCollection(field, value, (f, v) => adjustSelect(f, v, nulls));
  }
  return value === undefined ? handleMissing(field) : value;
}

// ---------------------------------------------------------------- update (Schema:merge_values)

function mergeValues(fields: FieldEntry[], top: Table, bottom: Table | null | undefined): Table {
  const base = isTable(bottom) && !Array.isArray(bottom) ? bottom : {};
  const out: Table = { ...base, ...top };
  for (const entry of fields) {
    const [key, field] = fieldOf(entry);
    const t = top[key];
    if (t === undefined) out[key] = base[key];
    else if (field.type === 'record' && isTable(t) && !Array.isArray(t)) {
      out[key] = mergeValues(field.fields ?? [], t, base[key] as Table | null | undefined);
    } else out[key] = t;
  }
  return out;
}
