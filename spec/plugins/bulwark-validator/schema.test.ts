// bulwark-validator's Schema against Kong's rules (the emulator's implementation of Kong 3.9's metaschema and
// config processing), then the plugin's own config parsing (StartInstance).
import * as path from 'node:path';
import { processPluginConfig } from '../../../kong/schema/config';
import type { FieldEntry } from '../../../kong/schema/types';
import * as validator from '../../../plugins/bulwark-validator';
import { configFor, describePluginInfo, fieldError } from '../../helpers/plugin-info';

const fields = validator.Schema as unknown as FieldEntry[];
const PETSTORE = path.resolve(__dirname, '../../fixtures/openapi/oai-examples/petstore.yaml');

const configOf = (input: unknown) => configFor(fields, input);
const start = (input: unknown) => new validator.Plugin(configOf(input));

describePluginInfo(validator, 'after rate limiting, before request-transformer 801');

// Issue #12: these passed Kong's Admin API before and made the route answer 500; Kong now refuses them itself.
describe('Kong refuses at the Admin API, naming the field (the dumped schema says it)', () => {
  it.each([
    [
      'spec and spec_file together',
      { openapi: { spec: 'openapi: 3.0.0', spec_file: '/etc/api.yaml' } },
      'openapi.@entity',
      ["only one or none of these fields must be set: 'spec', 'spec_file'"],
    ],
    [
      'a base path with a query',
      { openapi: { spec_file: '/etc/api.yaml', base_paths: ['/v1?x'] } },
      'openapi.base_paths.0',
      'invalid value: /v1?x',
    ],
    [
      '33 content types',
      { json_schema: { body_schema: '{}', content_types: Array(33).fill('application/json') } },
      'json_schema.content_types',
      'length must be at most 32',
    ],
  ])('%s', (_name, input, path, error) => {
    expect(fieldError(fields, input, path)).toEqual(error);
  });
});

describe('defaults', () => {
  it('an empty config gets every default, nested records included', () => {
    expect(configOf({})).toEqual({
      mode: 'enforce',
      verbose: true,
      max_errors: 20,
      openapi: {
        unknown_operations: 'reject',
        deprecation_headers: false,
        base_paths: [],
        validate: ['path', 'query', 'header', 'cookie', 'body'],
        reject_unknown_query: false,
        load_mode: 'strict',
        precompile: false,
      },
      json_schema: { draft: 'auto', body_required: false, content_types: ['application/json'] },
      limits: {
        max_body_size: 1048576,
        max_depth: 64,
        max_array_length: 10000,
        max_object_entries: 1000,
        max_key_length: 256,
        max_string_length: 65536,
        max_parameters: 100,
      },
    });
  });
  it('a spec file starts an instance with the secure defaults', () => {
    const conf = start({ openapi: { spec_file: PETSTORE } }).conf;
    expect(conf.mode).toBe('enforce');
    expect(conf.policy.kind === 'openapi' && [conf.policy.unknownOperations, conf.policy.api.operationCount]).toEqual([
      'reject',
      3,
    ]);
    expect(conf.limits.json.maxDepth).toBe(64);
  });
});

describe('Kong schema rejects', () => {
  it.each([
    [{ mode: 'audit' }],
    [{ limits: { max_body_size: 0 } }],
    [{ limits: { max_depth: 1001 } }],
    [{ openapi: { unknown_operations: 'ignore' } }],
    [{ openapi: { validate: ['body', 'cookies'] } }],
    [{ openapi: { base_paths: ['v1'] } }],
    [{ json_schema: { draft: 'draft-03' } }],
    [{ max_errors: 0 }],
  ])('%j', (input) => expect(processPluginConfig(fields, input).ok).toBe(false));
});

describe('instance start rejects, naming the field and the location', () => {
  const startError = (input: unknown) => {
    try {
      start(input);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the instance to fail');
  };
  it('nothing to validate against / both kinds', () => {
    expect(startError({})).toMatch(
      /^bulwark-validator: invalid configuration: openapi\.spec: nothing to validate against/,
    );
    expect(startError({ openapi: { spec_file: PETSTORE }, json_schema: { body_schema: '{}' } })).toMatch(
      /json_schema: use either/,
    );
  });
  it('a document that does not parse or does not compile', () => {
    expect(startError({ openapi: { spec: '{ "openapi": ' } })).toMatch(/openapi\.spec: not valid JSON or YAML/);
    expect(startError({ openapi: { spec_file: '/nonexistent/x.yaml' } })).toMatch(
      /openapi\.spec_file: cannot read \/nonexistent\/x\.yaml: ENOENT/,
    );
    const bad = JSON.stringify({
      openapi: '3.0.0',
      paths: {
        '/pets': {
          post: {
            requestBody: {
              content: {
                'application/json': { schema: { type: 'object', properties: { price: { minimum: 'zero' } } } },
              },
            },
          },
        },
      },
    });
    expect(startError({ openapi: { spec: bad } })).toMatch(
      /openapi\.spec at paths\.\/pets\.post\.requestBody\.content\.application\/json\.schema\.properties\.price\.minimum: invalid schema: must be number/,
    );
  });
  it('JSON Schemas: invalid, draft mismatch, draft-04 features, non-JSON content types', () => {
    expect(startError({ json_schema: { body_schema: '{"type":"strin"}' } })).toMatch(
      /json_schema\.body_schema\.type: invalid schema/,
    );
    expect(
      startError({
        json_schema: { draft: '2019-09', body_schema: '{"$schema":"http://json-schema.org/draft-07/schema#"}' },
      }),
    ).toMatch(/json_schema\.body_schema\.\$schema: declares draft-07 but the configured draft is 2019-09/);
    expect(
      startError({ json_schema: { draft: 'draft-04', query_schema: '{"properties":{"a":{"const":1}}}' } }),
    ).toMatch(/json_schema\.query_schema\.properties\.a\.const/);
    expect(startError({ json_schema: { body_schema: '{}', content_types: ['text/plain'] } })).toMatch(
      /json_schema\.content_types\[0\]: expected a JSON media type/,
    );
  });
  it('YAML and all four drafts compile', () => {
    for (const draft of ['2020-12', '2019-09', 'draft-07', 'draft-04']) {
      expect(
        start({
          json_schema: {
            draft,
            body_schema: 'type: object\nrequired: [a]\nproperties:\n  a: { type: integer, maximum: 3 }\n',
          },
        }).conf.policy.kind,
      ).toBe('json-schema');
    }
  });
});
