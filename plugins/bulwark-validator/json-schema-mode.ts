// Plain JSON Schema mode (no OpenAPI document): one schema each for the JSON body, the query parameters and the
// request headers, compiled once for the draft the operator names (or the one the schema's `$schema` names).
import type { ValidateFunction } from 'ajv';
import { ConfigError } from '../lib/config';
import { createAjv, stackBounded, type AjvDialect } from './ajv-setup';
import { convertDraft04Schema, guardAllNumberText, isObject, refuseNonLinearPatterns } from './schema-dialect';

export type SchemaDraft = '2020-12' | '2019-09' | 'draft-07' | 'draft-04';
export const SCHEMA_DRAFTS: readonly SchemaDraft[] = ['2020-12', '2019-09', 'draft-07', 'draft-04'];

/** `$schema` URIs → draft (with and without the trailing '#'). draft-06 is compiled by the draft-07 class. */
const META_SCHEMA_DRAFTS: Record<string, SchemaDraft> = {
  'https://json-schema.org/draft/2020-12/schema': '2020-12',
  'https://json-schema.org/draft/2019-09/schema': '2019-09',
  'http://json-schema.org/draft-07/schema': 'draft-07',
  'http://json-schema.org/draft-06/schema': 'draft-07',
  'http://json-schema.org/draft-04/schema': 'draft-04',
};

export function draftOfSchema(schema: unknown): SchemaDraft | undefined {
  if (!isObject(schema) || typeof schema.$schema !== 'string') return undefined;
  return META_SCHEMA_DRAFTS[schema.$schema.replace(/#$/, '')];
}

export interface CompiledJsonSchemas {
  draft: SchemaDraft;
  body?: ValidateFunction;
  query?: ValidateFunction;
  headers?: ValidateFunction;
  /** The query schema's top-level property names: `name[…]` for one of them is a bracketed alias. */
  queryProperties?: ReadonlySet<string>;
}

export interface JsonSchemaSources {
  /** 'auto': the `$schema` of the schemas, else 2020-12. */
  draft: SchemaDraft | 'auto';
  body?: { schema: unknown; field: string };
  query?: { schema: unknown; field: string };
  headers?: { schema: unknown; field: string };
}

function ajvDialect(draft: SchemaDraft): AjvDialect {
  return draft === 'draft-04' || draft === 'draft-07' ? 'draft-07' : draft;
}

export function compileJsonSchemas(src: JsonSchemaSources): CompiledJsonSchemas {
  const given = [src.body, src.query, src.headers].filter(
    (s): s is { schema: unknown; field: string } => s !== undefined,
  );
  let draft: SchemaDraft | undefined = src.draft === 'auto' ? undefined : src.draft;
  for (const s of given) {
    if (typeof s.schema !== 'boolean' && !isObject(s.schema))
      throw new ConfigError(s.field, 'a JSON Schema must be an object or a boolean');
    const declared = draftOfSchema(s.schema);
    if (isObject(s.schema) && typeof s.schema.$schema === 'string' && declared === undefined) {
      throw new ConfigError(
        `${s.field}.$schema`,
        'unknown meta-schema (supported: draft-04, -06, -07, 2019-09, 2020-12)',
      );
    }
    if (declared === undefined) continue;
    if (draft === undefined) draft = declared;
    else if (declared !== draft)
      throw new ConfigError(`${s.field}.$schema`, `declares ${declared} but the configured draft is ${draft}`);
  }
  draft ??= '2020-12';
  const bodyAjv = createAjv(ajvDialect(draft), false);
  // Query and header values are strings; 'array' also lets a single value satisfy an array schema.
  const paramAjv = createAjv(ajvDialect(draft), 'array');
  const compile = (
    s: { schema: unknown; field: string } | undefined,
    coerce: boolean,
  ): ValidateFunction | undefined => {
    if (s === undefined) return undefined;
    let schema = s.schema;
    if (draft === 'draft-04') schema = convertDraft04Schema(schema, s.field);
    else if (draft === 'draft-07' && isObject(schema) && schema.$schema === 'http://json-schema.org/draft-07/schema') {
      schema = { ...schema, $schema: 'http://json-schema.org/draft-07/schema#' };
    }
    if (coerce) schema = guardAllNumberText(schema);
    const ajv = coerce ? paramAjv : bodyAjv;
    refuseNonLinearPatterns(schema, s.field);
    if (!(ajv.validateSchema(schema as object) as boolean)) {
      const e = ajv.errors?.[0];
      const inner = (e?.instancePath ?? '').split('/').slice(1).join('.');
      throw new ConfigError(
        `${s.field}${inner === '' ? '' : `.${inner}`}`,
        `invalid schema: ${e?.message ?? 'does not match the meta-schema'}`,
      );
    }
    try {
      return stackBounded(ajv.compile(schema as object));
    } catch (err) {
      throw new ConfigError(s.field, `schema does not compile: ${(err as Error).message}`);
    }
  };
  const q = src.query?.schema;
  const queryProperties = isObject(q) && isObject(q.properties) ? new Set(Object.keys(q.properties)) : undefined;
  return {
    draft,
    body: compile(src.body, false),
    query: compile(src.query, true),
    headers: compile(src.headers, true),
    queryProperties,
  };
}
