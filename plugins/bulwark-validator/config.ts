// bulwark-validator's config: the fields declared in schema.ts, read by lib/fields.ts, → the compiled validation
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
import { ConfigError } from '../lib/config';
import { readConfig, type Infer } from '../lib/fields';
import type { JsonLimits } from '../lib/json-guard';
import { isJsonMediaType, parseMediaType } from '../lib/media-type';
import { compileJsonSchemas } from './json-schema-mode';
import { compileOpenApi } from './openapi';
import type { BodyLimits } from './request-body';
import { ConfigFields, VALIDATED_PARTS } from './schema';
import { MAX_PRECOMPILE_SPEC_BYTES, parseSpecText, readOpenApiSource } from './spec-source';
import type { JsonSchemaPolicy, OpenApiPolicy } from './validate';

export { MAX_BODY_SIZE_LIMIT, VALIDATED_PARTS } from './schema';
export type ValidatorMode = 'enforce' | 'monitor';
export type ValidatedPart = (typeof VALIDATED_PARTS)[number];
type RawConfig = Infer<typeof ConfigFields>;

export type ValidationPolicy = ({ kind: 'openapi' } & OpenApiPolicy) | ({ kind: 'json-schema' } & JsonSchemaPolicy);

export interface ValidatorConfig {
  mode: ValidatorMode;
  verbose: boolean;
  maxErrors: number;
  limits: BodyLimits;
  policy: ValidationPolicy;
}

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

function readLimits(r: RawConfig['limits']): BodyLimits {
  const json: JsonLimits = {
    maxDepth: r.max_depth,
    maxArrayLength: r.max_array_length,
    maxObjectEntries: r.max_object_entries,
    maxKeyLength: r.max_key_length,
    maxStringLength: r.max_string_length,
  };
  return { maxBodySize: r.max_body_size, maxParameters: r.max_parameters, json };
}

/** A spec_file's size (0 when it cannot be read: reading it then reports why, naming spec_file). */
function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function openApiPolicy(r: RawConfig['openapi']): ValidationPolicy {
  const { spec, spec_file: file, base_paths: basePaths, validate, load_mode: loadMode, precompile } = r;
  if (spec !== undefined && file !== undefined)
    throw new ConfigError('openapi.spec', 'set spec or spec_file, not both');
  const unknownOperations = r.unknown_operations;
  const rejectUnknownQuery = r.reject_unknown_query;
  const deprecationHeaders = r.deprecation_headers;
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
      'openapi.precompile',
      `only for documents of at most ${MAX_PRECOMPILE_SPEC_BYTES} bytes (this one: ${specSize}); larger documents ` +
        'compile each operation on its first request',
    );
  }
  const key = cacheKey([
    'openapi',
    spec ?? null,
    file ?? null,
    fileStamp,
    basePaths,
    [...validate].sort(),
    loadMode,
    precompile,
  ]);
  const compiled = cached(key, () => {
    const { doc, field } = readOpenApiSource({ spec, spec_file: file }, 'openapi');
    try {
      const api = compileOpenApi(doc, {
        basePaths: basePaths.length > 0 ? basePaths : undefined,
        validate: new Set(validate),
        lenient: loadMode === 'lenient',
        precompile,
      });
      return {
        kind: 'openapi',
        api,
        unknownOperations: 'reject',
        rejectUnknownQuery: false,
        deprecationHeaders: false,
      };
    } catch (err) {
      // Locations inside the document are prefixed with the config field holding it.
      if (err instanceof ConfigError) {
        const relaxable = /^(invalid schema|pattern not supported)/.test(err.reason);
        const hint =
          loadMode === 'strict' && relaxable
            ? ' (openapi.load_mode: lenient loads the rest of the document and logs such problems)'
            : '';
        throw new ConfigError(`${field} at ${err.field}`, `${err.reason}${hint}`);
      }
      throw err;
    }
  });
  if (compiled.kind !== 'openapi') throw new Error('policy cache returned a policy of another kind');
  // The compiled API is shared; the per-instance switches are not part of the cache key.
  return { ...compiled, unknownOperations, rejectUnknownQuery, deprecationHeaders };
}

function jsonSchemaPolicy(r: RawConfig['json_schema']): ValidationPolicy {
  const { draft, body_schema: bodyText, query_schema: queryText, header_schema: headersText } = r;
  const contentTypes = r.content_types.map((t, i) => {
    const mt = parseMediaType(t);
    if (mt === undefined || !isJsonMediaType(mt))
      throw new ConfigError(
        `json_schema.content_types[${i}]`,
        'expected a JSON media type (application/json or */*+json)',
      );
    return mt.essence;
  });
  const key = cacheKey(['json-schema', draft, bodyText ?? null, queryText ?? null, headersText ?? null]);
  const compiled = cached(key, () => {
    const src = (text: string | undefined, name: string) => {
      const field = `json_schema.${name}`;
      return text === undefined ? undefined : { schema: parseSpecText(text, field), field };
    };
    const schemas = compileJsonSchemas({
      draft,
      body: src(bodyText, 'body_schema'),
      query: src(queryText, 'query_schema'),
      headers: src(headersText, 'header_schema'),
    });
    return { kind: 'json-schema', schemas, contentTypes: [], bodyRequired: false };
  });
  if (compiled.kind !== 'json-schema') throw new Error('policy cache returned a policy of another kind');
  return { ...compiled, contentTypes, bodyRequired: r.body_required };
}

export function parseValidatorConfig(raw: unknown): ValidatorConfig {
  const conf = readConfig(ConfigFields, raw);
  const { openapi, json_schema: jsonSchema } = conf;
  const hasOpenApi = openapi.spec !== undefined || openapi.spec_file !== undefined;
  const hasJsonSchema =
    jsonSchema.body_schema !== undefined ||
    jsonSchema.query_schema !== undefined ||
    jsonSchema.header_schema !== undefined;
  if (hasOpenApi && hasJsonSchema)
    throw new ConfigError(
      'json_schema',
      'use either an OpenAPI document (openapi.spec/spec_file) or JSON Schemas, not both',
    );
  if (!hasOpenApi && !hasJsonSchema) {
    throw new ConfigError(
      'openapi.spec',
      'nothing to validate against: set openapi.spec, openapi.spec_file or a json_schema.*_schema',
    );
  }
  return {
    mode: conf.mode,
    verbose: conf.verbose,
    maxErrors: conf.max_errors,
    limits: readLimits(conf.limits),
    policy: hasOpenApi ? openApiPolicy(openapi) : jsonSchemaPolicy(jsonSchema),
  };
}
