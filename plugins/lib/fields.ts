// One declaration per config field. A field is declared once, with Kong's own attributes (type, default,
// required, between, one_of, len_min/len_max, match, referenceable, ...); from that declaration come
//   - the Kong schema the plugin server dumps (`kongSchema`), so Kong validates and fills defaults;
//   - the TypeScript type of the parsed config (`Infer`) and its reader (`readConfig`), which fills the same
//     defaults Kong fills and re-checks the same bounds, so the two cannot disagree;
//   - the README configuration table (scripts/config-docs.ts reads the dumped schema).
// Only what a Kong schema cannot say stays in a plugin's config.ts: rules across fields and precomputation.
//
// Shaped like Kong's schema DSL (kong/db/schema/init.lua) rather than a general validation library: the output
// must be a Kong schema, and the reader only has to mirror the parts of it that JavaScript can check cheaply.
// Lua patterns (`match`, `match_none`) are Kong's to check; a field that needs the same rule at instance start
// (configs that never passed Kong: unit tests, validate-config) gives it as `check`, next to the pattern.
import { checkSecret, ConfigError } from './config';

/** A field definition as Kong reads it (kong/db/schema/metaschema.lua), without the field name. */
export interface KongFieldDef {
  type: string;
  [attribute: string]: unknown;
}

/** `{ fieldName: KongFieldDef }`, one key: the shape of each entry of a dumped `Schema` array. */
export type KongFieldEntry = Record<string, KongFieldDef>;

/** A declared field: its Kong definition and the reader of the value Kong delivers. */
export interface Field<T> {
  readonly def: KongFieldDef;
  /** Reads a delivered value (null or absent = not set) into T, or throws a ConfigError naming `path`. */
  read(value: unknown, path: string): T;
}

/** The parsed type of a field. */
export type Infer<F> = F extends Field<infer T> ? T : never;

// Attributes Kong validates that the reader leaves to Kong (Lua patterns, entity checks, ...). Passed through.
interface KongOnly {
  description?: string;
  err?: string;
  match?: string;
  not_match?: string;
  match_all?: readonly { pattern: string; err?: string }[];
  match_none?: readonly { pattern: string; err?: string }[];
  match_any?: { patterns: readonly string[]; err?: string };
  starts_with?: string;
  encrypted?: boolean;
  entity_checks?: readonly Record<string, unknown>[];
}

interface Common<T> extends KongOnly {
  required?: boolean;
  default?: T;
  /** An instance-start check of what the Kong attributes cannot say for this one value: a reason, or undefined. */
  check?: (value: T) => string | undefined;
}

/** Set when Kong always delivers a value (required, or defaulted): then the parsed type has no `undefined`. */
type Present<O, T> = O extends { required: true } ? T : O extends { default: unknown } ? T : T | undefined;

const isSet = (value: unknown): boolean => value !== undefined && value !== null;
const isEmptyTable = (value: unknown): boolean =>
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0);

/** Kong counts string length in UTF-8 characters (utf8.len), i.e. code points. */
const charLength = (s: string): number => {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit < 0xdc00 || unit > 0xdfff) n++; // a low surrogate ends a pair already counted
  }
  return n;
};

function kongDef(type: string, options: object, extra: Record<string, unknown> = {}): KongFieldDef {
  const def: KongFieldDef = { type };
  for (const [key, value] of Object.entries(options)) {
    if (key === 'check' || value === undefined) continue;
    def[key] = value;
  }
  return { ...def, ...extra };
}

/**
 * The common part of every reader: a value not set reads as the default, `required` refuses it, otherwise it
 * reads as undefined; a set value is checked by `present` and then by the declaration's own `check`.
 */
/** What `field` needs of any declaration's options, whatever its value type. */
interface Presence {
  required?: boolean;
  default?: unknown;
  check?: (value: never) => string | undefined;
}

function field<T>(
  def: KongFieldDef,
  options: Presence,
  present: (value: unknown, path: string) => T,
  whenMissing?: () => unknown,
): Field<T> {
  const read = (value: unknown, path: string): T => {
    if (!isSet(value)) {
      if (options.default !== undefined) value = options.default;
      else if (whenMissing !== undefined) value = whenMissing();
      else if (options.required === true) throw new ConfigError(path, 'required field missing');
      else return undefined as T;
    }
    const parsed = present(value, path);
    const reason = options.check?.(parsed as never);
    if (reason !== undefined) throw new ConfigError(path, reason);
    return parsed;
  };
  return { def, read };
}

/** Kong's `err` attribute, when the declaration gives one, replaces the validator's message (as in Kong). */
function checkOneOf(
  value: unknown,
  allowed: readonly unknown[] | undefined,
  path: string,
  err: string | undefined,
): void {
  if (allowed !== undefined && !allowed.includes(value))
    throw new ConfigError(path, err ?? `expected one of: ${allowed.join(', ')}`);
}

function checkLength(
  length: number,
  options: { len_min?: number; len_max?: number },
  path: string,
  unit: [string, string],
): void {
  const count = (n: number): string => `${n} ${n === 1 ? unit[0] : unit[1]}`;
  if (options.len_min !== undefined && length < options.len_min)
    throw new ConfigError(path, `must have at least ${count(options.len_min)}`);
  if (options.len_max !== undefined && length > options.len_max)
    throw new ConfigError(path, `must have at most ${count(options.len_max)}`);
}

const CHARACTERS: [string, string] = ['character', 'characters'];
const ENTRIES: [string, string] = ['entry', 'entries'];

// ---- scalars ----

export interface StringOptions<S extends string = string> extends Common<S> {
  one_of?: readonly S[];
  len_min?: number;
  len_max?: number;
  /** Kong resolves a vault reference here; the reader then refuses "" and any reference left unresolved. */
  referenceable?: boolean;
}

type StringOf<O> = O extends { one_of: readonly (infer E extends string)[] } ? E : string;

export function string<const O extends StringOptions>(options: O): Field<Present<O, StringOf<O>>> {
  return field(kongDef('string', options), options, (value, path) => {
    if (typeof value !== 'string') throw new ConfigError(path, 'expected a string');
    if (options.referenceable === true) checkSecret(value, path);
    checkOneOf(value, options.one_of, path, options.err);
    // Kong refuses empty strings unless len_min says otherwise (kong/db/schema/init.lua: "empty strings are not
    // accepted by default").
    const bounds = { len_min: options.len_min ?? 1, len_max: options.len_max };
    // Code points never outnumber UTF-16 units nor fall below half of them: count only when the bounds could
    // be crossed (a multi-megabyte document is not walked on every instance start).
    const units = value.length;
    const undecided = units > (bounds.len_max ?? Infinity) || units < 2 * bounds.len_min;
    checkLength(undecided ? charLength(value) : units, bounds, path, CHARACTERS);
    return value as never;
  });
}

export interface IntegerOptions<N extends number = number> extends Common<N> {
  between?: readonly [number, number];
  one_of?: readonly N[];
}

type IntegerOf<O> = O extends { one_of: readonly (infer E extends number)[] } ? E : number;

export function integer<const O extends IntegerOptions>(options: O): Field<Present<O, IntegerOf<O>>> {
  return field(kongDef('integer', options), options, (value, path) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new ConfigError(path, 'expected an integer');
    const range = options.between;
    if (range !== undefined && (value < range[0] || value > range[1])) {
      throw new ConfigError(path, `must be between ${range[0]} and ${range[1]}`);
    }
    checkOneOf(value, options.one_of, path, options.err);
    return value as never;
  });
}

export function boolean<const O extends Common<boolean>>(options: O): Field<Present<O, boolean>> {
  return field(kongDef('boolean', options), options, (value, path) => {
    if (typeof value !== 'boolean') throw new ConfigError(path, 'expected a boolean');
    return value as never;
  });
}

// ---- collections ----

export interface CollectionOptions<T> extends Common<T> {
  len_min?: number;
  len_max?: number;
}

type Element<F> = NonNullable<Infer<F>>;

function readList<E>(elements: Field<E>, options: CollectionOptions<unknown>, value: unknown, path: string): E[] {
  // Kong encodes an empty Lua table as an empty map `{}` in some paths (cjson): it reads as [].
  if (!Array.isArray(value)) {
    if (isEmptyTable(value)) value = [];
    else throw new ConfigError(path, 'expected an array');
  }
  const list = value as unknown[];
  checkLength(list.length, options, path, ENTRIES);
  return list.map((element, i) => {
    const at = `${path}[${i}]`;
    if (!isSet(element)) throw new ConfigError(at, 'expected a value');
    return elements.read(element, at) as E;
  });
}

/** An ordered list (Kong `array`). */
export function array<F extends Field<unknown>, const O extends CollectionOptions<readonly Element<F>[]>>(
  elements: F,
  options: O,
): Field<Present<O, Element<F>[]>> {
  return field(
    kongDef('array', options, { elements: elements.def }),
    options,
    (value, path) => readList(elements, options as CollectionOptions<unknown>, value, path) as never,
  );
}

/** Kong `set`: a list Kong keeps free of duplicates; read in the order given. */
export function set<F extends Field<unknown>, const O extends CollectionOptions<readonly Element<F>[]>>(
  elements: F,
  options: O,
): Field<Present<O, Element<F>[]>> {
  return field(
    kongDef('set', options, { elements: elements.def }),
    options,
    (value, path) => readList(elements, options as CollectionOptions<unknown>, value, path) as never,
  );
}

/** Kong `map`: string keys to values of one type. */
export function map<V extends Field<unknown>, const O extends CollectionOptions<Readonly<Record<string, Element<V>>>>>(
  keys: Field<unknown>,
  values: V,
  options: O,
): Field<Present<O, Record<string, Element<V>>>> {
  const def = kongDef('map', options, { keys: keys.def, values: values.def });
  return field(def, options, (value, path) => {
    if (isEmptyTable(value)) value = {}; // an empty Lua table may be encoded as []
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new ConfigError(path, 'expected a map');
    const entries = Object.entries(value);
    checkLength(entries.length, options, path, ENTRIES);
    const out: Record<string, unknown> = {};
    for (const [key, v] of entries) {
      const at = `${path}.${key}`;
      keys.read(key, at);
      if (!isSet(v)) throw new ConfigError(at, 'expected a value');
      out[key] = values.read(v, at);
    }
    return out as never;
  });
}

// ---- records ----

export type Fields = Record<string, Field<unknown>>;
export type RecordOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

const childPath = (parent: string, key: string): string => (parent === '' ? key : `${parent}.${key}`);

/**
 * Kong `record`. Its fields are listed in declaration order. A `required` record that is not set reads as {}
 * with its fields' defaults, as Kong fills it (kong/db/schema/init.lua process_auto_fields).
 */
export function record<const F extends Fields, const O extends Common<RecordOf<F>>>(
  fields: F,
  options: O = {} as O,
): Field<Present<O, RecordOf<F>>> {
  const def = kongDef('record', options, { fields: Object.entries(fields).map(([name, f]) => ({ [name]: f.def })) });
  const read = (value: unknown, path: string): RecordOf<F> => {
    if (isEmptyTable(value)) value = {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(path === '' ? 'config' : path, 'expected a record');
    }
    const obj = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [name, f] of Object.entries(fields)) out[name] = f.read(obj[name], childPath(path, name));
    return out as RecordOf<F>;
  };
  return field(def, options, read as never, options.required === true ? () => ({}) : undefined);
}

// ---- a plugin's config ----

/** The root of a plugin's config: a record of fields, read at the top level (field paths without prefix). */
export type ConfigFields<F extends Fields> = Field<RecordOf<F>> & { readonly fields: F };

export function configFields<const F extends Fields>(fields: F): ConfigFields<F> {
  return { ...record(fields, { required: true }), fields } as ConfigFields<F>;
}

/** The `Schema` export the plugin server dumps: the config record's field list. */
export function kongSchema(config: ConfigFields<Fields>): KongFieldEntry[] {
  return config.def.fields as KongFieldEntry[];
}

/** Reads Kong's config object (validated and defaulted by Kong, or raw in tests) into the declared type. */
export function readConfig<F extends Fields>(config: ConfigFields<F>, raw: unknown): RecordOf<F> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError('config', 'expected a record');
  return config.read(raw, '');
}

/** The same field with one more instance-start check of a set value (a reason, or undefined). */
export function refine<T>(base: Field<T>, check: (value: NonNullable<T>) => string | undefined): Field<T> {
  return {
    def: base.def,
    read(value, path) {
      const parsed = base.read(value, path);
      if (parsed === undefined || parsed === null) return parsed;
      const reason = check(parsed as NonNullable<T>);
      if (reason !== undefined) throw new ConfigError(path, reason);
      return parsed;
    },
  };
}
