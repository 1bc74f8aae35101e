// bulwark-validator's config: Kong's (schema-validated, defaulted) config object → the compiled validation
// policy. Everything is compiled here, once per plugin instance (kong-pdk constructs the Plugin per instance,
// StartInstance): the OpenAPI document or JSON Schemas are parsed, converted and compiled by Ajv. A schema that
// does not compile throws a ConfigError naming the field and the location inside the document, so the instance
// does not start and Kong answers 500 rather than letting requests through unvalidated (fail closed).
//
// Loading a large document costs tens of milliseconds to seconds; Kong may start the same config several
// times (once per worker, again after a plugin-server restart), so loaded policies are cached per process,
// keyed by the config text (and the file's size and mtime for spec_file). FAILURES are cached too: Kong retries
// StartInstance on every request to a route whose instance did not start, and recompiling a broken multi-MB
// document each time would stall the event loop every plugin shares for seconds per request. A cached failure
// is thrown again (the same error) until the config or the file changes.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { ConfigError, ConfigReader } from '../lib/config';
import type { JsonLimits } from '../lib/json-guard';
import { isJsonMediaType, parseMediaType } from '../lib/media-type';
import { MAX_VALIDATED_DEPTH } from './ajv-setup';
import { compileJsonSchemas, SCHEMA_DRAFTS, type SchemaDraft } from './json-schema-mode';
import { compileOpenApi } from './openapi';
import type { ParamLocation } from './parameters';
import type { BodyLimits } from './request-body';
import { MAX_PRECOMPILE_SPEC_BYTES, parseSpecText, readSpecFile } from './spec-source';
import type { JsonSchemaPolicy, OpenApiPolicy } from './validate';

export type ValidatorMode = 'enforce' | 'monitor';
export type ValidatedPart = ParamLocation | 'body';
export const VALIDATED_PARTS: readonly ValidatedPart[] = ['path', 'query', 'header', 'cookie', 'body'];

export type ValidationPolicy = ({ kind: 'openapi' } & OpenApiPolicy) | ({ kind: 'json-schema' } & JsonSchemaPolicy);

export interface ValidatorConfig {
  mode: ValidatorMode;
  verbose: boolean;
  maxErrors: number;
  limits: BodyLimits;
  policy: ValidationPolicy;
}

export const DEFAULT_LIMITS = {
  max_body_size: 1048576,
  max_depth: 64,
  max_array_length: 10000,
  max_object_entries: 1000,
  max_key_length: 256,
  max_string_length: 65536,
  max_parameters: 100,
} as const;

/** Upper bounds the schema also enforces (a body is held in memory whole). */
export const MAX_BODY_SIZE_LIMIT = 64 * 1024 * 1024;

const POLICY_CACHE_SIZE = 8;
type CacheEntry = { ok: true; policy: ValidationPolicy } | { ok: false; error: unknown };
const policyCache = new Map<string, CacheEntry>();

/**
 * Cache key: a digest, so that a multi-MB inline document is not kept (or compared) as a Map key. Strings are
 * hashed as UTF-16 (lossless, and no UTF-8 encoding pass over megabytes of text).
 */
function cacheKey(parts: unknown[]): string {
  // md5: a cache key over operator-supplied config, not a security boundary; the fastest digest here.
  const hash = crypto.createHash('md5');
  for (const part of parts) {
    if (typeof part === 'string') hash.update(`s${part.length}:`).update(part, 'utf16le');
    else hash.update(`j${JSON.stringify(part) ?? 'undefined'}`);
    hash.update('\n');
  }
  return hash.digest('base64');
}

function cached(key: string, build: () => ValidationPolicy): ValidationPolicy {
  let entry = policyCache.get(key);
  if (entry !== undefined) {
    policyCache.delete(key); // most recently used last
  } else {
    try {
      entry = { ok: true, policy: build() };
    } catch (error) {
      entry = { ok: false, error };
    }
  }
  policyCache.set(key, entry);
  if (policyCache.size > POLICY_CACHE_SIZE) policyCache.delete(policyCache.keys().next().value as string);
  if (!entry.ok) throw entry.error;
  return entry.policy;
}

/** For tests and benchmarks: forget compiled policies. */
export function clearPolicyCache(): void {
  policyCache.clear();
}

function readLimits(r: ConfigReader): BodyLimits {
  const json: JsonLimits = {
    maxDepth: r.integer('max_depth', DEFAULT_LIMITS.max_depth, 1, MAX_VALIDATED_DEPTH),
    maxArrayLength: r.integer('max_array_length', DEFAULT_LIMITS.max_array_length, 1, 100000000),
    maxObjectEntries: r.integer('max_object_entries', DEFAULT_LIMITS.max_object_entries, 1, 100000000),
    maxKeyLength: r.integer('max_key_length', DEFAULT_LIMITS.max_key_length, 1, 100000000),
    maxStringLength: r.integer('max_string_length', DEFAULT_LIMITS.max_string_length, 1, MAX_BODY_SIZE_LIMIT),
  };
  return {
    maxBodySize: r.integer('max_body_size', DEFAULT_LIMITS.max_body_size, 1, MAX_BODY_SIZE_LIMIT),
    maxParameters: r.integer('max_parameters', DEFAULT_LIMITS.max_parameters, 1, 10000),
    json,
  };
}

/** A spec_file's size (0 when it cannot be read: reading it then reports why, naming spec_file). */
function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function openApiPolicy(r: ConfigReader): ValidationPolicy {
  const spec = r.optionalString('spec');
  const file = r.optionalString('spec_file');
  if (spec !== undefined && file !== undefined) throw new ConfigError(r.field('spec'), 'set spec or spec_file, not both');
  const unknownOperations = r.oneOf('unknown_operations', ['reject', 'allow'] as const, 'reject');
  const rejectUnknownQuery = r.boolean('reject_unknown_query', false);
  const loadMode = r.oneOf('load_mode', ['strict', 'lenient'] as const, 'strict');
  const precompile = r.boolean('precompile', false);
  const basePaths = r.stringArray('base_paths').map((p, i) => {
    if (!p.startsWith('/') || /[?#\s]/.test(p)) throw new ConfigError(`${r.field('base_paths')}[${i}]`, "expected a path starting with '/'");
    return p;
  });
  const validate = r.stringArray('validate', VALIDATED_PARTS).map((p, i) => {
    if (!(VALIDATED_PARTS as readonly string[]).includes(p)) throw new ConfigError(`${r.field('validate')}[${i}]`, `expected one of: ${VALIDATED_PARTS.join(', ')}`);
    return p as ValidatedPart;
  });
  let fileStamp = '';
  if (file !== undefined) {
    try {
      const st = fs.statSync(file);
      fileStamp = `${st.size}:${st.mtimeMs}`;
    } catch {
      fileStamp = 'missing';
    }
  }
  // Compiling every operation at start is bounded by document size, so that start stays well under Kong's 10 s.
  const specSize = spec !== undefined ? spec.length : file !== undefined ? fileSize(file) : 0;
  if (precompile && specSize > MAX_PRECOMPILE_SPEC_BYTES) {
    throw new ConfigError(
      r.field('precompile'),
      `only for documents of at most ${MAX_PRECOMPILE_SPEC_BYTES} bytes (this one: ${specSize}); larger documents ` +
        'compile each operation on its first request',
    );
  }
  const key = cacheKey(['openapi', spec ?? null, file ?? null, fileStamp, basePaths, [...validate].sort(), loadMode, precompile]);
  const compiled = cached(key, () => {
    const field = spec !== undefined ? r.field('spec') : r.field('spec_file');
    const doc = spec !== undefined ? parseSpecText(spec, field) : readSpecFile(file!, field);
    try {
      const api = compileOpenApi(doc, { basePaths: basePaths.length > 0 ? basePaths : undefined, validate: new Set(validate), lenient: loadMode === 'lenient', precompile });
      return { kind: 'openapi', api, unknownOperations: 'reject', rejectUnknownQuery: false };
    } catch (err) {
      // Locations inside the document are prefixed with the config field holding it.
      if (err instanceof ConfigError) {
        const relaxable = /^(invalid schema|pattern not supported)/.test(err.reason);
        const hint = loadMode === 'strict' && relaxable ? ` (${r.field('load_mode')}: lenient loads the rest of the document and logs such problems)` : '';
        throw new ConfigError(`${field} at ${err.field}`, `${err.reason}${hint}`);
      }
      throw err;
    }
  });
  if (compiled.kind !== 'openapi') throw new Error('policy cache returned a policy of another kind');
  // The compiled API is shared; the per-instance switches are not part of the cache key.
  return { ...compiled, unknownOperations, rejectUnknownQuery };
}

function jsonSchemaPolicy(r: ConfigReader): ValidationPolicy {
  const draft = r.oneOf('draft', ['auto', ...SCHEMA_DRAFTS] as const, 'auto') as SchemaDraft | 'auto';
  const bodyText = r.optionalString('body_schema');
  const queryText = r.optionalString('query_schema');
  const headersText = r.optionalString('header_schema');
  const bodyRequired = r.boolean('body_required', false);
  const contentTypes = r.stringArray('content_types', ['application/json']).map((t, i) => {
    const mt = parseMediaType(t);
    if (mt === undefined || !isJsonMediaType(mt)) throw new ConfigError(`${r.field('content_types')}[${i}]`, 'expected a JSON media type (application/json or */*+json)');
    return mt.essence;
  });
  const key = cacheKey(['json-schema', draft, bodyText ?? null, queryText ?? null, headersText ?? null]);
  const compiled = cached(key, () => {
    const src = (text: string | undefined, name: string) => (text === undefined ? undefined : { schema: parseSpecText(text, r.field(name)), field: r.field(name) });
    const schemas = compileJsonSchemas({ draft, body: src(bodyText, 'body_schema'), query: src(queryText, 'query_schema'), headers: src(headersText, 'header_schema') });
    return { kind: 'json-schema', schemas, contentTypes: [], bodyRequired: false };
  });
  if (compiled.kind !== 'json-schema') throw new Error('policy cache returned a policy of another kind');
  return { ...compiled, contentTypes, bodyRequired };
}

export function parseValidatorConfig(raw: unknown): ValidatorConfig {
  const r = new ConfigReader(raw);
  const openapi = r.record('openapi');
  const jsonSchema = r.record('json_schema');
  const hasOpenApi = openapi.has('spec') || openapi.has('spec_file');
  const hasJsonSchema = jsonSchema.has('body_schema') || jsonSchema.has('query_schema') || jsonSchema.has('header_schema');
  if (hasOpenApi && hasJsonSchema) throw new ConfigError('json_schema', 'use either an OpenAPI document (openapi.spec/spec_file) or JSON Schemas, not both');
  if (!hasOpenApi && !hasJsonSchema) {
    throw new ConfigError('openapi.spec', 'nothing to validate against: set openapi.spec, openapi.spec_file or a json_schema.*_schema');
  }
  return {
    mode: r.oneOf('mode', ['enforce', 'monitor'] as const, 'enforce'),
    verbose: r.boolean('verbose', true),
    maxErrors: r.integer('max_errors', 20, 1, 100),
    limits: readLimits(r.record('limits')),
    policy: hasOpenApi ? openApiPolicy(openapi) : jsonSchemaPolicy(jsonSchema),
  };
}
