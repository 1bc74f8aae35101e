// The Kong schema of bulwark-validator's config (the `Schema` export kong-pdk dumps; Kong validates it with its
// metaschema, ../../docs/kong-protocol.md §1.12). Records are `required` so Kong fills their nested defaults. What a
// Kong
// schema cannot express (one of openapi / json_schema, documents that must parse and compile) is checked when
// the instance starts (config.ts).
import { array, boolean, configFields, integer, kongSchema, record, refine, set, string } from '../lib/fields';
import { MAX_VALIDATED_DEPTH } from './ajv-setup';
import { MAX_SPEC_BYTES } from './spec-source';

const LARGE = 100000000;

/** Upper bounds the schema also enforces (a body is held in memory whole). */
export const MAX_BODY_SIZE_LIMIT = 64 * 1024 * 1024;
export const VALIDATED_PARTS = ['path', 'query', 'header', 'cookie', 'body'] as const;

export const ConfigFields = configFields({
  mode: string({
    one_of: ['enforce', 'monitor'],
    default: 'enforce',
    description:
      'enforce: reject invalid requests. monitor: validate and log what would be rejected, but let every request through (for rolling out a new spec).',
  }),
  verbose: boolean({
    default: true,
    description:
      'Return the list of violations (location, rule, detail; never the offending values) to the client. false: only the message; the log keeps the details.',
  }),
  max_errors: integer({
    default: 20,
    between: [1, 100],
    description: 'Most violations listed in one error response (all of them are logged).',
  }),
  openapi: record(
    {
      spec: string({
        len_max: MAX_SPEC_BYTES,
        description:
          'The OpenAPI document itself, as JSON (up to 16 MiB) or YAML text (up to 1 MiB: YAML parses ~35x slower; ' +
          'convert larger ones to JSON). Exclusive with spec_file and with json_schema.',
      }),
      spec_file: string({
        len_max: 4096,
        description:
          'Path of the OpenAPI document (JSON or YAML) on the machine running the plugin server. Exclusive with spec.',
      }),
      unknown_operations: string({
        one_of: ['reject', 'allow', 'log'],
        default: 'reject',
        description:
          'Requests to a path (404) or method (405) the document does not define (the fallthrough action): reject them (shuts shadow endpoints), let them through unvalidated, or let them through and log each one (undocumented_operation).',
      }),
      deprecation_headers: boolean({
        default: false,
        description:
          "Add RFC 9745 Deprecation (from the operation's x-deprecation-date) and RFC 8594 Sunset (from its x-sunset) headers to the responses of operations the document marks deprecated.",
      }),
      base_paths: array(
        refine(string({ len_max: 1024, match: '^/[^%s%?#]*$' }), (p) =>
          p.startsWith('/') && !/[?#\s]/.test(p) ? undefined : "expected a path starting with '/'",
        ),
        {
          len_max: 64,
          default: [],
          description:
            "Path prefixes the document's paths are below, as the client sends them (e.g. /petstore/v1). Empty: the path parts of the document's servers URLs.",
        },
      ),
      validate: set(string({ one_of: VALIDATED_PARTS }), {
        default: VALIDATED_PARTS,
        description:
          'Which parts of the request are validated against the operation (Content-Type is always checked when a body is defined).',
      }),
      reject_unknown_query: boolean({
        default: false,
        description: 'Reject query parameters the operation does not declare.',
      }),
      load_mode: string({
        one_of: ['strict', 'lenient'],
        default: 'strict',
        description:
          'strict: a Schema Object that violates its meta-schema or a pattern RE2 cannot run refuses the document. lenient: such problems are logged (with their location) and the rest loads; an operation whose schemas then do not compile answers 500.',
      }),
      precompile: boolean({
        default: false,
        description:
          'Compile every operation when the instance starts (blocks the plugin server for seconds on large documents; ' +
          'refused for documents over 2 MiB). false: each operation is compiled on its first request.',
      }),
    },
    {
      required: true,
      description:
        'Validation against an OpenAPI 3.0 or 3.1 document: operation matching, parameters, Content-Type and request bodies.',
      entity_checks: [{ mutually_exclusive: ['spec', 'spec_file'] }],
    },
  ),
  json_schema: record(
    {
      draft: string({
        one_of: ['auto', '2020-12', '2019-09', 'draft-07', 'draft-04'],
        default: 'auto',
        description:
          'JSON Schema draft of the schemas. auto: the draft named by their $schema, else 2020-12. draft-04 is converted to draft-07 (draft-06+ keywords are refused).',
      }),
      body_schema: string({
        len_max: MAX_SPEC_BYTES,
        description: 'JSON Schema (JSON or YAML text) the JSON request body must satisfy.',
      }),
      query_schema: string({
        len_max: MAX_SPEC_BYTES,
        description:
          'JSON Schema for the query as an object (name → string, or array of strings when repeated); values are coerced to the schema types.',
      }),
      header_schema: string({
        len_max: MAX_SPEC_BYTES,
        description:
          'JSON Schema for the request headers as an object with lower-case names (repeated headers as arrays); values are coerced to the schema types.',
      }),
      body_required: boolean({
        default: false,
        description:
          'With body_schema: reject requests without a body. false: a request without a body is not checked against body_schema.',
      }),
      content_types: array(string({ len_max: 256 }), {
        len_max: 32,
        default: ['application/json'],
        description: 'JSON media types a body validated by body_schema may have; other Content-Types get 415.',
      }),
    },
    {
      required: true,
      description:
        'Validation against plain JSON Schemas (no OpenAPI document) for the JSON body, the query parameters and the headers.',
    },
  ),
  limits: record(
    {
      max_body_size: integer({
        default: 1048576,
        between: [1, MAX_BODY_SIZE_LIMIT],
        description:
          'Largest request body in bytes that is read and validated; larger bodies get 413 (from Content-Length, before reading).',
      }),
      max_depth: integer({
        default: 64,
        between: [1, MAX_VALIDATED_DEPTH],
        description: 'Deepest nesting of JSON arrays and objects (at most 1000: schema validation recurses per level).',
      }),
      max_array_length: integer({
        default: 10000,
        between: [1, LARGE],
        description: 'Most elements in one JSON array.',
      }),
      max_object_entries: integer({
        default: 1000,
        between: [1, LARGE],
        description: 'Most members in one JSON object.',
      }),
      max_key_length: integer({
        default: 256,
        between: [1, LARGE],
        description: 'Longest JSON member name, form field name or query parameter name, in characters.',
      }),
      max_string_length: integer({
        default: 65536,
        between: [1, MAX_BODY_SIZE_LIMIT],
        description: 'Longest JSON string, form field value or query parameter value, in characters.',
      }),
      max_parameters: integer({
        default: 100,
        between: [1, 10000],
        description: 'Most query parameters, form fields or multipart parts in one request.',
      }),
    },
    {
      required: true,
      description:
        'Size and structure limits checked before anything is parsed (JSON hardening), for bodies, form fields and query parameters.',
    },
  ),
});

/** The `Schema` export the plugin server dumps. */
export const Schema = kongSchema(ConfigFields);
