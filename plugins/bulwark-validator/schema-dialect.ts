// Schema dialect conversions, done once at instance start so that one Ajv class per draft can validate:
// - OpenAPI 3.0 Schema Objects (an extended subset of JSON Schema draft-05, OAS 3.0.3 §4.7.24) → draft-07:
//   `nullable`, boolean `exclusiveMinimum/Maximum`, `$ref` siblings ignored, OAS-only annotations dropped;
// - JSON Schema draft-04 → draft-07 (Ajv 8 has no draft-04 support and `ajv-draft-04` is not installed):
//   `id` → `$id`, boolean `exclusiveMinimum/Maximum` → numeric form. This is sound only because the
//   conversion REFUSES (ConfigError) draft-06+ keywords that draft-04 would have ignored (`const`,
//   `contains`, `propertyNames`, `if/then/else`) and boolean schemas: otherwise a schema would silently
//   validate more strictly than its author's draft says;
// - request view (OAS 3.0 and 3.1): a property marked `readOnly` is not required in a request
//   (OAS 3.0.3 §4.7.24.1 "readOnly ... SHOULD NOT be sent as part of the request");
// - number text (`guardAllNumberText`, applied after the conversions): a numeric subschema is preceded by the
//   check of how a string that Ajv would coerce is written (number-syntax.ts).
//
// Walkers know which keywords hold subschemas, so that e.g. a property NAMED `id` or `nullable` inside
// `properties` is never mistaken for a keyword.
import { ConfigError } from '../lib/config';
import { guardNumberText } from './number-syntax';
import { compileLinearRegExp } from './ajv-setup';

export type JsonObject = Record<string, unknown>;

const SCHEMA_KEYWORDS = [
  'additionalItems',
  'additionalProperties',
  'contains',
  'not',
  'if',
  'then',
  'else',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
];
const SCHEMA_ARRAY_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', 'definitions', '$defs', 'dependentSchemas'];

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Escape one JSON-pointer token (RFC 6901). */
export function pointerToken(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A shallow copy of `schema` with every subschema replaced by `fn(sub, location)`. */
export function mapSubschemas(schema: JsonObject, at: string, fn: (sub: unknown, at: string) => unknown): JsonObject {
  const out: JsonObject = { ...schema };
  for (const k of SCHEMA_KEYWORDS) if (k in schema) out[k] = fn(schema[k], `${at}.${k}`);
  for (const k of SCHEMA_ARRAY_KEYWORDS) {
    const v = schema[k];
    if (Array.isArray(v)) out[k] = v.map((s, i) => fn(s, `${at}.${k}[${i}]`));
  }
  for (const k of SCHEMA_MAP_KEYWORDS) {
    const v = schema[k];
    if (isObject(v))
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, fn(s, `${at}.${k}.${name}`)]));
  }
  if ('items' in schema) {
    const v = schema.items;
    out.items = Array.isArray(v) ? v.map((s, i) => fn(s, `${at}.items[${i}]`)) : fn(v, `${at}.items`);
  }
  const deps = schema.dependencies;
  if (isObject(deps)) {
    out.dependencies = Object.fromEntries(
      Object.entries(deps).map(([name, d]) => [name, Array.isArray(d) ? d : fn(d, `${at}.dependencies.${name}`)]),
    );
  }
  return out;
}

/** Calls `fn` on `schema` and every object subschema below it (found by keyword, as in mapSubschemas); no copies. */
export function forEachSubschema(schema: unknown, fn: (s: JsonObject, at: string) => void, at = ''): void {
  const stack: [unknown, string][] = [[schema, at]];
  while (stack.length > 0) {
    const [s, a] = stack.pop()!;
    if (!isObject(s)) continue;
    fn(s, a);
    for (const k of SCHEMA_KEYWORDS) if (k in s) stack.push([s[k], `${a}.${k}`]);
    for (const k of SCHEMA_ARRAY_KEYWORDS) {
      const v = s[k];
      if (Array.isArray(v)) v.forEach((sub, i) => stack.push([sub, `${a}.${k}[${i}]`]));
    }
    for (const k of SCHEMA_MAP_KEYWORDS) {
      const v = s[k];
      if (isObject(v)) for (const [name, sub] of Object.entries(v)) stack.push([sub, `${a}.${k}.${name}`]);
    }
    if ('items' in s) {
      const v = s.items;
      if (Array.isArray(v)) v.forEach((sub, i) => stack.push([sub, `${a}.items[${i}]`]));
      else stack.push([v, `${a}.items`]);
    }
    const deps = s.dependencies;
    if (isObject(deps))
      for (const [name, d] of Object.entries(deps)) if (!Array.isArray(d)) stack.push([d, `${a}.dependencies.${name}`]);
  }
}

/** Resolves a local `$ref` (`#/...`) against a document; undefined when it does not resolve. */
export type RefResolver = (ref: string) => unknown;

function exclusiveBoundsFromBooleans(out: JsonObject): void {
  for (const [flag, bound] of [
    ['exclusiveMaximum', 'maximum'],
    ['exclusiveMinimum', 'minimum'],
  ] as const) {
    const v = out[flag];
    if (typeof v !== 'boolean') continue;
    if (v && typeof out[bound] === 'number') {
      out[flag] = out[bound];
      delete out[bound];
    } else {
      delete out[flag];
    }
  }
}

/** Names in `required` whose property schema (through $refs) says readOnly: true are dropped. */
function dropReadOnlyRequired(out: JsonObject, original: JsonObject, resolve: RefResolver): void {
  const required = out.required;
  const props = original.properties;
  if (!Array.isArray(required) || !isObject(props)) return;
  const readOnly = (s: unknown): boolean => {
    for (let hops = 0; hops < 32 && isObject(s); hops++) {
      if (typeof s.$ref === 'string') {
        s = resolve(s.$ref);
        continue;
      }
      return s.readOnly === true;
    }
    return false;
  };
  const kept = required.filter((name) => typeof name !== 'string' || !readOnly(props[name]));
  if (kept.length !== required.length) out.required = kept;
}

const OAS_ANNOTATIONS = ['nullable', 'discriminator', 'xml', 'externalDocs', 'example', 'deprecated'];

/** An OpenAPI 3.0 Schema Object → draft-07, for request validation. */
export function convertOas30Schema(schema: unknown, at: string, resolve: RefResolver): unknown {
  // Booleans: OAS 3.0 allows them for additionalProperties; draft-07 reads them the same way anywhere.
  if (typeof schema === 'boolean') return schema;
  if (!isObject(schema)) throw new ConfigError(at, 'an OpenAPI 3.0 schema must be an object');
  if (typeof schema.$ref === 'string') return { $ref: schema.$ref }; // siblings of $ref are ignored (OAS 3.0)
  const out = mapSubschemas(schema, at, (s, a) => convertOas30Schema(s, a, resolve));
  for (const k of OAS_ANNOTATIONS) delete out[k];
  exclusiveBoundsFromBooleans(out);
  if (schema.nullable === true && typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  }
  dropReadOnlyRequired(out, schema, resolve);
  return out;
}

/**
 * An OpenAPI 3.1 Schema Object (JSON Schema 2020-12 + OAS annotations): only the request view applies.
 * `nullable` is not a 2020-12 keyword (an unknown keyword is ignored), but Ajv implements it as OAS 3.0's and
 * refuses it without `type`: it is dropped, as 2020-12 says (documents ported from 3.0 carry it).
 */
export function convertOas31Schema(schema: unknown, at: string, resolve: RefResolver): unknown {
  if (typeof schema === 'boolean') return schema;
  if (!isObject(schema)) throw new ConfigError(at, 'a schema must be an object or a boolean');
  const out = mapSubschemas(schema, at, (s, a) => convertOas31Schema(s, a, resolve));
  delete out.nullable;
  dropReadOnlyRequired(out, schema, resolve);
  return out;
}

const DRAFT_04_URIS = new Set(['http://json-schema.org/draft-04/schema#', 'http://json-schema.org/draft-04/schema']);
const POST_DRAFT_04_KEYWORDS = ['const', 'contains', 'propertyNames', 'if', 'then', 'else'];

/** A JSON Schema draft-04 document → an equivalent draft-07 one (or a ConfigError naming what cannot be). */
export function convertDraft04Schema(schema: unknown, at: string): unknown {
  if (!isObject(schema))
    throw new ConfigError(at, 'a draft-04 schema must be an object (boolean schemas came with draft-06)');
  for (const k of POST_DRAFT_04_KEYWORDS) {
    if (k in schema)
      throw new ConfigError(
        `${at}.${k}`,
        `'${k}' is not a draft-04 keyword (draft-04 would ignore it); declare a later draft`,
      );
  }
  const out = mapSubschemas(schema, at, convertDraft04Schema);
  if ('$schema' in out) {
    if (typeof out.$schema !== 'string' || !DRAFT_04_URIS.has(out.$schema))
      throw new ConfigError(`${at}.$schema`, 'expected the draft-04 meta-schema URI');
    delete out.$schema;
  }
  if ('id' in out) {
    if (typeof out.id !== 'string') throw new ConfigError(`${at}.id`, 'expected a string');
    if (!('$id' in out)) out.$id = out.id;
    delete out.id;
  }
  for (const k of ['exclusiveMaximum', 'exclusiveMinimum']) {
    if (k in out && typeof out[k] !== 'boolean') throw new ConfigError(`${at}.${k}`, 'must be a boolean in draft-04');
  }
  exclusiveBoundsFromBooleans(out);
  return out;
}

/** Every subschema of a plain JSON Schema with its number-text check (number-syntax.ts), for coerced instances. */
export function guardAllNumberText(schema: unknown): unknown {
  if (!isObject(schema) || (typeof schema.$ref === 'string' && Object.keys(schema).length === 1)) return schema;
  return guardNumberText(mapSubschemas(schema, '', (s) => guardAllNumberText(s)));
}

export interface SchemaProblem {
  /** Dotted location, e.g. `components.schemas.Pet.properties.name.pattern`. */
  location: string;
  message: string;
}

/**
 * Every `pattern` and `patternProperties` key of a schema tree that the linear-time regex engine (RE2) cannot
 * compile, with its location. Subschemas are found by keyword (as in mapSubschemas), so a property NAMED
 * `pattern` is not mistaken for the keyword.
 */
export function patternProblems(schema: unknown, at: string): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const check = (pattern: string, location: string) => {
    const why = linearPatternError(pattern);
    if (why !== undefined) problems.push({ location, message: why });
  };
  forEachSubschema(
    schema,
    (s, a) => {
      if (typeof s.pattern === 'string') check(s.pattern, `${a}.pattern`);
      if (isObject(s.patternProperties))
        for (const key of Object.keys(s.patternProperties)) check(key, `${a}.patternProperties.${key}`);
    },
    at,
  );
  return problems;
}

const patternVerdicts = new Map<string, string | undefined>();

/** Why RE2 refuses a pattern, or undefined; memoised (real documents repeat the same patterns many times). */
function linearPatternError(pattern: string): string | undefined {
  if (patternVerdicts.has(pattern)) return patternVerdicts.get(pattern);
  let why: string | undefined;
  try {
    compileLinearRegExp(pattern);
  } catch (err) {
    why = (err as Error).message;
  }
  if (patternVerdicts.size > 10000) patternVerdicts.clear();
  patternVerdicts.set(pattern, why);
  return why;
}

/** ConfigError for the first pattern RE2 cannot compile. */
export function refuseNonLinearPatterns(schema: unknown, at: string): void {
  const [first] = patternProblems(schema, at);
  if (first !== undefined) throw new ConfigError(first.location, first.message);
}
