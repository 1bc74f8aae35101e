// bulwark-docs' Schema against Kong's rules (metaschema and config processing, kong/schema), then the instance start
// (parseConfig): the document read as bulwark-validator reads it, refusals naming the field.
import type { FieldEntry } from '../../../kong/schema/types';
import * as docs from '../../../plugins/bulwark-docs';
import { parseDocsConfig } from '../../../plugins/bulwark-docs/config';
import { configFor, describePluginInfo, violationFor } from '../../helpers/plugin-info';
import { fixtureText, PETSTORE_INTERNAL_FILE } from './fixtures';

const fields = docs.Schema as unknown as FieldEntry[];
const configOf = (input: unknown) => configFor(fields, input);
const violation = (input: unknown) => violationFor(fields, input);

describePluginInfo(
  docs,
  'after authentication, bulwark-authz (960) and bulwark-rate-limit (915); before bulwark-validator (890), which would refuse the docs paths',
);

describe('config', () => {
  test('defaults: /docs, filtered by scopes, Bulwark key prefixes scrubbed, no Try it out', () => {
    const conf = parseDocsConfig(configOf({ openapi: { spec_file: PETSTORE_INTERNAL_FILE } }));
    expect(conf).toMatchObject({ path: '/docs', tryIt: false, title: 'Swagger Petstore' });
    expect(conf.publisher.mode).toBe('scopes');
    expect(conf.assets.has('swagger-ui-bundle.js')).toBe(true);
  });

  test('inline YAML is read as bulwark-validator reads it (the same document as from the file)', () => {
    const fromFile = parseDocsConfig(configOf({ openapi: { spec_file: PETSTORE_INTERNAL_FILE } }));
    const inline = parseDocsConfig(configOf({ openapi: { spec: fixtureText('bulwark-docs/petstore-internal.yaml') } }));
    expect(inline.publisher.version).toBe(fromFile.publisher.version);
  });

  test('Kong refuses a bad path, a non-http public URL, an unknown filter, an extension not starting x-, both spec and spec_file', () => {
    const base = { openapi: { spec_file: PETSTORE_INTERNAL_FILE } };
    expect(violation({ ...base, path: 'docs' })).toEqual({ config: { path: expect.any(String) } });
    expect(violation({ ...base, public_base_url: 'ftp://x' })).toEqual({
      config: { public_base_url: expect.any(String) },
    });
    expect(violation({ ...base, filter: 'everyone' })).toEqual({ config: { filter: expect.any(String) } });
    expect(violation({ ...base, remove_extensions: ['internal'] })).toEqual({
      config: { remove_extensions: expect.anything() },
    });
    expect(violation({ openapi: { spec: '{}', spec_file: '/x' } })).toEqual({ config: { openapi: expect.anything() } });
  });

  test('the instance refuses what the schema cannot say, naming the field', () => {
    expect(() => parseDocsConfig(configOf({ openapi: {} }))).toThrow('openapi.spec: set spec or spec_file');
    expect(() => parseDocsConfig(configOf({ openapi: { spec_file: '/nonexistent/openapi.yaml' } }))).toThrow(
      'openapi.spec_file: cannot read /nonexistent/openapi.yaml: ENOENT',
    );
    expect(() => parseDocsConfig(configOf({ openapi: { spec: '{"swagger":"2.0","paths":{}}' } }))).toThrow(
      'openapi.spec: not an OpenAPI 3.0 or 3.1 document',
    );
    expect(() => parseDocsConfig(configOf({ openapi: { spec: 'a: [' } }))).toThrow(
      'openapi.spec: not valid JSON or YAML',
    );
    expect(() => parseDocsConfig(configOf({ openapi: { spec_file: PETSTORE_INTERNAL_FILE }, path: '/docs/' }))).toThrow(
      'path: expected a path',
    );
  });
});
