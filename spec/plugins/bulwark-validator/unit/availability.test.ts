// Availability of the shared plugin-server event loop against hostile patterns, large and broken documents, and
// deep data; real public documents from spec/fixtures/openapi (see its README for sources and licences).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as zlib from 'node:zlib';
import { ConfigError } from '../../../../plugins/lib/config';
import { clearPolicyCache, parseValidatorConfig } from '../../../../plugins/bulwark-validator/config';
import { compileOpenApi, OperationCompileError, type CompiledApi } from '../../../../plugins/bulwark-validator/openapi';
import { compileTemplate, matchTemplate } from '../../../../plugins/bulwark-validator/path-router';
import { compileJsonSchemas } from '../../../../plugins/bulwark-validator/json-schema-mode';

const FIXTURES = path.join(__dirname, '../../../fixtures/openapi');
const ALL = new Set(['path', 'query', 'header', 'cookie', 'body'] as const);
const githubText = () =>
  zlib.gunzipSync(fs.readFileSync(path.join(FIXTURES, 'github/api.github.com.json.gz'))).toString('utf8');
const readJson = (rel: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, rel), 'utf8')) as object;

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

function bodyValidator(schema: object, version = '3.1.0') {
  const api = compileOpenApi(
    { openapi: version, paths: { '/x': { post: { requestBody: { content: { 'application/json': { schema } } } } } } },
    { validate: ALL },
  );
  return api.operations[0]!.body!.media[0]!.validateJson!;
}

describe('ReDoS: patterns run on RE2 (linear time)', () => {
  test("'^(a+)+$' against 5,000 a's and '!' is refused about as fast as a benign string of the same length", () => {
    // V8's backtracking engine needs seconds for 29 a's; here 5,000 would never finish.
    const validate = bodyValidator({ type: 'string', pattern: '^(a+)+$' });
    const benign = timed(() => validate('b'.repeat(5001)));
    const attack = timed(() => validate(`${'a'.repeat(5000)}!`));
    expect(attack.value).toBe(false);
    expect(validate.errors?.[0]?.keyword).toBe('pattern');
    expect(validate('aaaa')).toBe(true);
    expect(attack.ms).toBeLessThan(Math.max(50 * benign.ms, 200));
  });

  test('patternProperties keys also run on RE2', () => {
    const validate = bodyValidator({ type: 'object', patternProperties: { '^(a|aa)+$': { type: 'integer' } } });
    expect(timed(() => validate({ [`${'a'.repeat(3000)}!`]: 'x' })).value).toBe(true);
    expect(validate({ aaa: 'x' })).toBe(false);
  });

  test('Ajv shares compiled patterns by their text: two patterns in one document are both enforced', () => {
    const validate = bodyValidator({
      type: 'object',
      properties: { a: { type: 'string', pattern: '^[0-9]+$' }, b: { type: 'string', pattern: '^[a-f]{2}$' } },
    });
    expect(validate({ a: '12', b: 'ab' })).toBe(true);
    expect(validate({ a: '12', b: 'XYZ' })).toBe(false);
  });

  test.each([
    ['lookahead', '^(?=a)a$'],
    ['backreference', '^(a)\\1$'],
    ['lookbehind', '(?<!a)b'],
    ['named backreference (translateRegExp would read it as the text k<n>)', '^(?<n>a)\\k<n>$'],
  ])('a pattern RE2 cannot run (%s) refuses the document at load, naming where', (_name, pattern) => {
    const doc = {
      openapi: '3.0.3',
      components: { schemas: { Code: { type: 'string', pattern } } },
      paths: {
        '/x': {
          post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Code' } } } } },
        },
      },
    };
    expect(() => compileOpenApi(doc, { validate: ALL })).toThrow(ConfigError);
    expect(() => compileOpenApi(doc, { validate: ALL })).toThrow(
      /^components\.schemas\.Code\.pattern: pattern not supported by the linear-time regex engine \(RE2\)/,
    );
  });

  test('JSON Schema mode refuses such patterns too, at the config field', () => {
    expect(() =>
      compileJsonSchemas({
        draft: 'auto',
        body: { schema: { properties: { a: { pattern: '(x)\\1' } } }, field: 'json_schema.body_schema' },
      }),
    ).toThrow(/^json_schema\.body_schema\.properties\.a\.pattern: pattern not supported/);
  });

  test("a path template with several variables in one segment matches in linear time ('/files/{a}-{b}-{c}.json')", () => {
    const t = compileTemplate('/files/{a}-{b}-{c}.json');
    expect(matchTemplate(t, ['files', 'x-y-z.json'], 0)).toEqual({ a: 'x', b: 'y', c: 'z' });
    const benign = timed(() => matchTemplate(t, ['files', 'b'.repeat(6000)], 0));
    const attack = timed(() => matchTemplate(t, ['files', '-'.repeat(6000)], 0));
    expect(benign.value).toBeUndefined();
    expect(attack.value).toBeUndefined();
    expect(attack.ms).toBeLessThan(Math.max(50 * benign.ms, 200));
  });
});

describe('start-up: operations are compiled on first use', () => {
  let text: string;
  beforeAll(() => {
    text = githubText();
  });

  test("GitHub's 1,223 operations: loading compiles none; precompiling them all costs several times as much", () => {
    const doc = JSON.parse(text) as object;
    const lazy = timed(() => compileOpenApi(doc, { validate: ALL }));
    const eager = timed(() => compileOpenApi(JSON.parse(text) as object, { validate: ALL, precompile: true }));
    expect(lazy.value.operationCount).toBe(1223);
    expect(eager.ms / lazy.ms).toBeGreaterThan(2);
  }, 120_000);

  test('the first request to an operation compiles it; an invalid GitHub request is still refused', () => {
    const api: CompiledApi = compileOpenApi(JSON.parse(text) as object, { validate: ALL });
    const create = api.operations.find((o) => o.label === 'issues/create')!;
    const validate = create.body!.media.find((m) => m.range === 'application/json')!.validateJson!;
    expect(validate({ title: 'Found a bug' })).toBe(true);
    expect(validate({ body: 'no title' })).toBe(false);
    expect(validate.errors?.map((e) => e.keyword)).toContain('required');
  });
});

describe('an operation whose schemas do not compile fails closed, once', () => {
  // 3.1: a reference to another resource by URI passes the load-time checks; Ajv cannot resolve it.
  const doc = {
    openapi: '3.1.0',
    paths: {
      '/ok': { post: { requestBody: { content: { 'application/json': { schema: { type: 'object' } } } } } },
      '/broken': {
        post: {
          requestBody: {
            content: { 'application/json': { schema: { $ref: 'https://elsewhere.example/schema.json' } } },
          },
        },
      },
    },
  };

  test('the document loads; the broken operation throws the same OperationCompileError on every use; others work', () => {
    const api = compileOpenApi(doc, { validate: ALL });
    const ok = api.operations.find((o) => o.template === '/ok')!;
    const broken = api.operations.find((o) => o.template === '/broken')!;
    expect(ok.validateParams!({})).toBe(true);
    let first: unknown;
    try {
      broken.validateParams!({});
    } catch (err) {
      first = err;
    }
    expect(first).toBeInstanceOf(OperationCompileError);
    expect((first as OperationCompileError).location).toBe(
      'paths./broken.post.requestBody.content.application/json.schema',
    );
    expect(() => broken.body!.media[0]!.validateJson!({})).toThrow(first as Error);
    let second: unknown;
    try {
      broken.validateParams!({});
    } catch (err) {
      second = err;
    }
    expect(second).toBe(first); // cached: not compiled again
  });

  test('precompile: true refuses such a document at load (strict)', () => {
    expect(() => compileOpenApi(doc, { validate: ALL, precompile: true })).toThrow(
      /^paths\.\/broken\.post\.requestBody\.content\.application\/json\.schema: schema does not compile/,
    );
  });
});

describe('a document that fails to load is not loaded again for the same config', () => {
  beforeEach(() => clearPolicyCache());

  test('the second start of a broken config throws the cached error (the same object) without recompiling', () => {
    // GitHub's document with one invalid schema added: several seconds to refuse, once.
    const doc = JSON.parse(githubText()) as {
      components: { schemas: Record<string, unknown> };
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    doc.paths['/markdown']!.post!.requestBody = {
      content: { 'application/json': { schema: { type: 'object', properties: { mode: { type: 'strnig' } } } } },
    };
    const config = { openapi: { spec: JSON.stringify(doc) } };
    const first = timed(() => {
      try {
        parseValidatorConfig(config);
      } catch (err) {
        return err;
      }
    });
    expect(String((first.value as Error).message)).toMatch(
      /^openapi\.spec at paths\.\/markdown\.post\.requestBody\.content\.application\/json\.schema\.properties\.mode\.type: invalid schema/,
    );
    const again = [1, 2, 3].map(() =>
      timed(() => {
        try {
          parseValidatorConfig(config);
        } catch (err) {
          return err;
        }
      }),
    );
    for (const a of again) expect(a.value).toBe(first.value);
    // Best of three (a GC pause may land in any one of them).
    expect(Math.min(...again.map((a) => a.ms))).toBeLessThan(first.ms / 5);
  }, 120_000);
});

describe('real-world documents: strict by default, lenient on request', () => {
  beforeEach(() => clearPolicyCache());

  test("ReadMe's 3.1 document (with 3.0-style `nullable`) loads strictly", () => {
    const api = compileOpenApi(readJson('readme/readme.json'), { validate: ALL });
    expect(api.version).toBe('3.1');
    expect(api.problems).toEqual([]);
    for (const op of api.operations) op.compileNow();
  });

  test("Scalar's Galaxy 3.1 document violates the 2020-12 meta-schema: strict refuses it naming where, lenient loads and lists it", () => {
    const spec = fs.readFileSync(path.join(FIXTURES, 'scalar-galaxy/galaxy-3.1.json'), 'utf8');
    expect(() => parseValidatorConfig({ openapi: { spec } })).toThrow(
      /^openapi\.spec at paths\.\/planets\/\{planetId\}\/image\.post\.requestBody\.content\.multipart\/form-data\.schema\.properties\.image\.examples: invalid schema: must be array \(openapi\.load_mode: lenient/,
    );
    const conf = parseValidatorConfig({ openapi: { spec, load_mode: 'lenient' } });
    if (conf.policy.kind !== 'openapi') throw new Error('expected an OpenAPI policy');
    expect(conf.policy.api.problems).toContainEqual({
      location:
        'paths./planets/{planetId}/image.post.requestBody.content.multipart/form-data.schema.properties.image.examples',
      message: 'invalid schema: must be array',
    });
    for (const op of conf.policy.api.operations) op.compileNow(); // Ajv compiles every operation of it
  });

  test('lenient: duplicate `required` entries and `$recursiveAnchor: true` (as in OpenAI’s 3.1 document) are logged problems, and validation still applies', () => {
    const doc = {
      openapi: '3.1.0',
      components: {
        schemas: {
          Msg: {
            $recursiveAnchor: true,
            type: 'object',
            required: ['role', 'role'],
            properties: { role: { type: 'string' } },
          },
        },
      },
      paths: {
        '/chat': {
          post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Msg' } } } } },
        },
      },
    };
    expect(() => compileOpenApi(doc, { validate: ALL })).toThrow(/^components\.schemas\.Msg/);
    const api = compileOpenApi(doc, { validate: ALL, lenient: true });
    expect(api.problems.map((p) => p.location)).toEqual(expect.arrayContaining(['components.schemas.Msg.required']));
    const validate = api.operations[0]!.body!.media[0]!.validateJson!;
    expect(validate({ role: 'user' })).toBe(true);
    expect(validate({})).toBe(false);
  });
});

describe('stack depth: max_depth is bounded by what validation can do', () => {
  const nest = (n: number) => {
    let x: unknown = {};
    for (let i = 0; i < n; i++) x = { c: x };
    return x;
  };

  test('max_depth above 1000 is refused, naming the field', () => {
    expect(() => parseValidatorConfig({ json_schema: { body_schema: '{}' }, limits: { max_depth: 1001 } })).toThrow(
      /limits\.max_depth/,
    );
    expect(
      parseValidatorConfig({ json_schema: { body_schema: '{}' }, limits: { max_depth: 1000 } }).limits.json.maxDepth,
    ).toBe(1000);
  });

  test('a recursive schema (anyOf/allOf/oneOf chain per level) validates data 1,000 levels deep', () => {
    const api = compileOpenApi(
      {
        openapi: '3.0.3',
        components: {
          schemas: {
            N: {
              anyOf: [
                { type: 'string' },
                { type: 'object', properties: { c: { allOf: [{ $ref: '#/components/schemas/M' }] } } },
              ],
            },
            M: { oneOf: [{ $ref: '#/components/schemas/N' }] },
          },
        },
        paths: {
          '/x': {
            post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/N' } } } } },
          },
        },
      },
      { validate: ALL },
    );
    expect(api.operations[0]!.body!.media[0]!.validateJson!(nest(1000))).toBe(true);
  });

  test('data deeper than a schema can follow is a max-depth violation, not a stack overflow (500)', () => {
    const chain: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) chain[`S${i}`] = { allOf: [{ $ref: `#/components/schemas/S${i + 1}` }] };
    chain.S40 = { type: 'object', properties: { c: { $ref: '#/components/schemas/S0' } } };
    const api = compileOpenApi(
      {
        openapi: '3.0.3',
        components: { schemas: chain },
        paths: {
          '/x': {
            post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/S0' } } } } },
          },
        },
      },
      { validate: ALL },
    );
    const deep = api.operations[0]!.body!.media[0]!.validateJson!;
    expect(deep(nest(1000))).toBe(false);
    expect(deep.errors).toEqual([expect.objectContaining({ keyword: 'max-depth' })]);
  });
});

describe('instance start stays bounded (Kong skips a plugin whose instance takes over 10 s to start)', () => {
  // A document of `size` bytes: a few operations, padded with trailing whitespace (JSON) or a comment (YAML).
  const operations = Object.fromEntries(
    Array.from({ length: 50 }, (_, i) => [
      `/items${i}/{id}`,
      {
        post: {
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          requestBody: {
            content: {
              'application/json': {
                schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
              },
            },
          },
        },
      },
    ]),
  );
  const doc = { openapi: '3.0.3', info: { title: 't', version: '1' }, paths: operations };
  const jsonOf = (size: number) => {
    const text = JSON.stringify(doc);
    return text + ' '.repeat(size - text.length);
  };
  const yamlOf = (size: number) => {
    const text = `openapi: 3.0.3\ninfo: {title: t, version: "1"}\npaths:\n  /x:\n    get: {responses: {"200": {description: ok}}}\n# `;
    return text + 'x'.repeat(size - text.length);
  };
  beforeEach(() => clearPolicyCache());

  test('precompile: true is refused at config over 2 MiB, naming openapi.precompile; at the cap it compiles at start', () => {
    const cap = 2 * 1024 * 1024;
    expect(() => parseValidatorConfig({ openapi: { spec: jsonOf(cap + 1), precompile: true } })).toThrow(
      /^openapi\.precompile: only for documents of at most 2097152 bytes \(this one: 2097153\)/,
    );
    expect(() => parseValidatorConfig({ openapi: { spec: jsonOf(cap), precompile: true } })).not.toThrow();
    // Without precompile the same large document loads: its operations compile on first use (deferred).
    expect(() => parseValidatorConfig({ openapi: { spec: jsonOf(cap + 1) } })).not.toThrow();
  });

  test('precompile with spec_file: the file size counts', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-spec-')), 'big.json');
    fs.writeFileSync(file, jsonOf(2 * 1024 * 1024 + 10));
    expect(() => parseValidatorConfig({ openapi: { spec_file: file, precompile: true } })).toThrow(
      /^openapi\.precompile: only for documents/,
    );
    expect(() => parseValidatorConfig({ openapi: { spec_file: file } })).not.toThrow();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  test('a YAML document over 1 MiB is refused before parsing, naming the field; JSON of any size up to 16 MiB is not', () => {
    const cap = 1024 * 1024;
    expect(() => parseValidatorConfig({ openapi: { spec: yamlOf(cap + 1) } })).toThrow(
      /^openapi\.spec: not JSON, and a YAML document may have at most 1048576 bytes/,
    );
    expect(() => parseValidatorConfig({ openapi: { spec: yamlOf(cap) } })).not.toThrow();
    expect(() => parseValidatorConfig({ openapi: { spec: jsonOf(3 * cap) } })).not.toThrow();
  });
});
