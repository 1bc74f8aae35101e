// The shapes of a plugin schema as kong-js-pluginserver dumps it (`--dump-all-plugins`): the JS module's
// `Schema` array is a list of one-key objects `{ <fieldName>: FieldDef }` (Kong's field syntax, kong/db/schema/init.lua).

export type FieldType =
  'string' | 'number' | 'integer' | 'boolean' | 'array' | 'set' | 'map' | 'record' | 'foreign' | 'function' | 'json';

export interface MatchRule {
  pattern: string;
  err?: string;
}

/** One field definition. Unknown attributes are allowed by the type (the metaschema rejects them at load time). */
export interface FieldDef {
  type: FieldType | string;
  required?: boolean;
  default?: unknown;
  description?: string;
  err?: string;
  referenceable?: boolean;
  // validators (kong/db/schema/metaschema.lua `validators`)
  between?: [number, number];
  eq?: unknown;
  ne?: unknown;
  gt?: number;
  len_eq?: number;
  len_min?: number;
  len_max?: number;
  match?: string;
  not_match?: string;
  match_all?: MatchRule[];
  match_none?: MatchRule[];
  match_any?: { patterns: string[]; err?: string };
  starts_with?: string;
  one_of?: unknown[];
  not_one_of?: unknown[];
  contains?: unknown;
  is_regex?: boolean;
  timestamp?: boolean;
  uuid?: boolean;
  mutually_exclusive_subsets?: string[][];
  // nested definitions
  elements?: FieldDef;
  keys?: FieldDef;
  values?: FieldDef;
  fields?: FieldEntry[];
  entity_checks?: Array<Record<string, unknown>>;
  [attribute: string]: unknown;
}

/** `{ fieldName: FieldDef }`, exactly one key. */
export type FieldEntry = Record<string, FieldDef>;

/** The Kong subschema the JS server builds: `{ name, fields: [{ config: { type: "record", fields } }] }`. */
export interface PluginSchema {
  name: string;
  fields: FieldEntry[];
  [attribute: string]: unknown;
}

/**
 * A validation error tree as Kong builds it: a message, a table of errors by field name (records), or, for
 * arrays and sets, a JS array whose position i holds the error of element i (`null` where the element is fine).
 */
export type ErrorTree = string | ErrorTable | Array<ErrorTree | null>;
export interface ErrorTable {
  [field: string]: ErrorTree;
}

/** Kong's schema-violation error object (kong/db/errors.lua `schema_violation`, code 2). */
export interface SchemaViolation {
  code: 2;
  name: 'schema violation';
  message: string;
  fields: ErrorTable;
}
