// Kong's check of a plugin schema at start-up: `MetaSchema.MetaSubSchema:validate(schema)` (kong/db/schema/metaschema.lua,
// called by kong/db/schema/plugin_loader.lua load_subschema). Kong refuses to start when it fails.
// Written as a direct checker of the field-definition rules instead of running the metaschema through the schema
// engine; messages use Kong's wording, paths are dotted field names (`config.limit.between`).
import { validateField } from './config';
import { plPrettyWrite } from './lua-format';
import type { ErrorTree } from './types';

const VALID_TYPES = [
  'array',
  'set',
  'string',
  'number',
  'boolean',
  'integer',
  'foreign',
  'map',
  'record',
  'function',
  'json',
];

/** Attributes a field type must declare (metaschema.lua `required_attributes`). */
const REQUIRED_ATTRIBUTES: Record<string, string[]> = {
  array: ['elements'],
  set: ['elements'],
  map: ['keys', 'values'],
  record: ['fields'],
  json: ['json_schema'],
};

/** Attributes only some types may carry (metaschema.lua `attribute_types`). */
const ATTRIBUTE_TYPES: Record<string, string[]> = {
  between: ['integer', 'number'],
  len_eq: ['array', 'set', 'string', 'map'],
  match: ['string'],
  one_of: ['string', 'number', 'integer'],
  contains: ['array', 'set'],
  is_regex: ['string'],
  timestamp: ['number', 'integer'],
  uuid: ['string'],
  unique: ['string', 'number', 'integer', 'foreign'],
  unique_across_ws: ['string', 'number', 'integer', 'foreign'],
  abstract: ['string', 'number', 'integer', 'record', 'array', 'set', 'map'],
  json_schema: ['json'],
};

type ShapeCheck = (v: unknown) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

const bool: ShapeCheck = (v) => (typeof v === 'boolean' ? undefined : 'expected a boolean');
const str: ShapeCheck = (v) =>
  typeof v === 'string' && v.length > 0
    ? undefined
    : typeof v === 'string'
      ? 'length must be at least 1'
      : 'expected a string';
const int: ShapeCheck = (v) => (typeof v === 'number' && Number.isInteger(v) ? undefined : 'expected an integer');
const num: ShapeCheck = (v) => (typeof v === 'number' ? undefined : 'expected a number');
const any: ShapeCheck = () => undefined;
const array: ShapeCheck = (v) => (Array.isArray(v) ? undefined : 'expected an array');
const record: ShapeCheck = (v) => (isObject(v) ? undefined : 'expected a record');
const arrayOf =
  (item: ShapeCheck): ShapeCheck =>
  (v) => {
    if (!Array.isArray(v)) return 'expected an array';
    const bad = v.map(item).findIndex((e) => e !== undefined);
    return bad < 0 ? undefined : `[${bad + 1}]: ${item(v[bad])}`;
  };
/** A record with the given attribute checks; `required` lists the attributes that must be present. */
const recordOf =
  (attrs: Record<string, ShapeCheck>, required: string[] = []): ShapeCheck =>
  (v) => {
    if (!isObject(v)) return 'expected a record';
    for (const r of required) if (v[r] === undefined || v[r] === null) return `${r}: required field missing`;
    for (const [k, val] of Object.entries(v)) {
      const check = attrs[k];
      if (!check) return `${k}: unknown field`;
      const err = check(val);
      if (err) return `${k}: ${err}`;
    }
    return undefined;
  };

const matchList = arrayOf(recordOf({ pattern: str, err: str }, ['pattern']));

/** Every attribute a field definition may carry (metaschema.lua `field_schema` + `validators`). */
const ATTRIBUTES: Record<string, ShapeCheck> = {
  type: any, // checked separately
  required: bool,
  reference: str,
  examples: array,
  auto: bool,
  unique: bool,
  unique_across_ws: bool,
  on_delete: (v) =>
    ['restrict', 'cascade', 'null'].includes(v as string) ? undefined : 'expected one of: restrict, cascade, null',
  default: any, // validated against the field itself below (`default = { type = "self" }`)
  description: (v) => {
    if (typeof v !== 'string') return 'expected a string';
    const n = utf8Length(v);
    return n < 10 ? 'length must be at least 10' : n > 500 ? 'length must be at most 500' : undefined;
  },
  abstract: bool,
  generate_admin_api: bool,
  immutable: bool,
  err: str,
  encrypted: bool,
  referenceable: bool,
  json_schema: record,
  // from ../../docs/kong-protocol.md §1.12 (Kong 3.9.3 list); not in the metaschema copy read for this module
  transient: bool,
  deprecation: record,
  // validators
  between: (v) => (Array.isArray(v) && v.length !== 2 ? 'length must be 2' : arrayOf(num)(v)),
  eq: any,
  ne: any,
  gt: num,
  len_eq: int,
  len_min: int,
  len_max: int,
  match: str,
  not_match: str,
  match_all: matchList,
  match_none: matchList,
  match_any: recordOf({ patterns: arrayOf(str), err: str }, ['patterns']),
  starts_with: str,
  one_of: array,
  not_one_of: array,
  contains: any,
  is_regex: bool,
  timestamp: bool,
  uuid: bool,
  custom_validator: () => 'expected a function',
  mutually_exclusive_subsets: arrayOf(arrayOf(str)),
  // nested definitions, checked recursively below
  elements: any,
  keys: any,
  values: any,
  fields: any,
  entity_checks: (v) => ENTITY_CHECKS(v),
  shorthand_fields: arrayOf(() => 'func: required field missing (a shorthand needs a Lua function)'),
};

/** metaschema.lua `conditional_validators`: what an if_match/then_match/else_match may say. */
const CONDITIONAL_VALIDATORS: ShapeCheck = (v) => {
  const allowed = [
    'required',
    'elements',
    'keys',
    'values',
    'between',
    'eq',
    'ne',
    'gt',
    'len_eq',
    'len_min',
    'len_max',
    'match',
    'not_match',
    'match_all',
    'match_none',
    'match_any',
    'starts_with',
    'one_of',
    'not_one_of',
    'contains',
    'is_regex',
    'timestamp',
    'uuid',
    'custom_validator',
    'mutually_exclusive_subsets',
  ];
  return recordOf(
    Object.fromEntries(
      allowed.map((a) => [a, a === 'elements' || a === 'keys' || a === 'values' ? record : ATTRIBUTES[a]]),
    ),
  )(v);
};
const names = arrayOf(str);

/** metaschema.lua `entity_checkers` and the `only_one_of` over their names: one known checker per entry. */
const ENTITY_CHECKERS: Record<string, ShapeCheck> = {
  at_least_one_of: names,
  only_one_of: names,
  distinct: names,
  mutually_required: names,
  mutually_exclusive: names,
  conditional: recordOf({
    if_field: str,
    if_match: CONDITIONAL_VALIDATORS,
    then_field: str,
    then_match: CONDITIONAL_VALIDATORS,
    then_err: str,
  }),
  conditional_at_least_one_of: recordOf({
    if_field: str,
    if_match: CONDITIONAL_VALIDATORS,
    then_at_least_one_of: names,
    then_err: str,
    else_match: CONDITIONAL_VALIDATORS,
    else_then_at_least_one_of: names,
    else_then_err: str,
  }),
  custom_entity_check: () => 'fn: expected a function', // a Lua function cannot travel in JSON
  mutually_exclusive_sets: recordOf({ set1: names, set2: names }),
};
const ENTITY_CHECKS: ShapeCheck = arrayOf((v) => {
  if (!isObject(v) || Object.keys(v).length !== 1)
    return `exactly one of these fields must be non-empty: ${Object.keys(ENTITY_CHECKERS)
      .map((n) => `'${n}'`)
      .join(', ')}`;
  const [name, arg] = Object.entries(v)[0];
  const check = ENTITY_CHECKERS[name];
  if (!check) return `${name}: unknown field`;
  const err = check(arg);
  return err ? `${name}: ${err}` : undefined;
});

/** Top-level attributes of a plugin subschema (MetaSubSchema). */
const SUBSCHEMA_ATTRIBUTES = ['name', 'fields', 'entity_checks', 'shorthand_fields', 'transformations', 'check'];

/** Returns the schema's errors as `path: message` strings; an empty list means Kong would load it. */
export function validatePluginSchema(schema: unknown): string[] {
  const errors: string[] = [];
  if (!isObject(schema)) return ['expected a record'];
  for (const k of Object.keys(schema)) if (!SUBSCHEMA_ATTRIBUTES.includes(k)) errors.push(`${k}: unknown field`);
  if (schema.name === undefined || schema.name === null) errors.push('name: required field missing');
  else if (str(schema.name)) errors.push(`name: ${str(schema.name)}`);
  if (schema.fields === undefined || schema.fields === null) errors.push("fields: 'fields' must be a table");
  else checkFields('', schema.fields, errors);
  for (const k of ['entity_checks', 'shorthand_fields', 'transformations', 'check']) {
    if (schema[k] !== undefined) errors.push(`${k}: not supported in a dumped plugin schema`);
  }
  return errors;
}

function checkFields(path: string, fields: unknown, errors: string[]): void {
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (!Array.isArray(fields)) {
    errors.push(`${path || 'fields'}: expected an array`);
    return;
  }
  for (const item of fields) {
    if (!isObject(item)) {
      errors.push(`${path || 'fields'}: each entry in fields must be a sub-table`);
      continue;
    }
    const names = Object.keys(item);
    if (names.length === 0) errors.push(`${path || 'fields'}: field entry table is empty`);
    else if (names.length > 1) errors.push(`${at(names.join(','))}: length must be 1 (one field per entry)`);
    else if (!isObject(item[names[0]])) errors.push(`${at(names[0])}: '${names[0]}' must be a table`);
    else checkField(at(names[0]), item[names[0]] as Record<string, unknown>, errors);
  }
}

function checkField(path: string, field: Record<string, unknown>, errors: string[]): void {
  const errorsBefore = errors.length;
  const type = field.type;
  if (type === undefined || type === null) {
    errors.push(`${path}: missing type declaration`);
    return;
  }
  if (typeof type !== 'string' || !VALID_TYPES.includes(type)) {
    errors.push(`${path}.type: expected one of: ${VALID_TYPES.join(', ')}`);
    return;
  }
  for (const [attr, value] of Object.entries(field)) {
    const check = ATTRIBUTES[attr];
    if (!check) {
      errors.push(`${path}.${attr}: unknown field`);
      continue;
    }
    const err = check(value);
    if (err) errors.push(`${path}.${attr}: ${err}`);
    const allowedTypes = ATTRIBUTE_TYPES[attr];
    if (allowedTypes && !allowedTypes.includes(type))
      errors.push(`${path}: field of type '${type}' cannot have attribute '${attr}'`);
  }
  if (field.unique_across_ws === true && field.unique !== true) errors.push(`${path}.unique: required field missing`);
  const required = field.abstract && type === 'record' ? [] : (REQUIRED_ATTRIBUTES[type] ?? []);
  for (const attr of required) {
    if (!field[attr]) errors.push(`${path}: field of type '${type}' must declare '${attr}'`);
  }
  for (const nested of ['elements', 'keys', 'values']) {
    const sub = field[nested];
    if (sub === undefined) continue;
    if (isObject(sub)) checkField(`${path}.${nested}`, sub, errors);
    else errors.push(`${path}: '${nested}' must be a table`);
  }
  if (field.fields !== undefined) checkFields(path, field.fields, errors);
  // Only a well-formed definition can judge its default.
  if (field.default !== undefined && errors.length === errorsBefore) checkDefault(path, field, errors);
}

/** `default = { type = "self" }`: the default must itself be a valid value of the field. */
function checkDefault(path: string, field: Record<string, unknown>, errors: string[]): void {
  let err: ErrorTree | undefined;
  try {
    err = validateField(field as Parameters<typeof validateField>[0], field.default);
  } catch (e) {
    err = (e as Error).message;
  }
  if (err !== undefined) errors.push(`${path}.default: ${typeof err === 'string' ? err : plPrettyWrite(err)}`);
}
