// The request decision (validate.ts) over documents written for the rule under test, OAS 3.1 and 3.0.
import { compileOpenApi } from '../../../../plugins/bulwark-validator/openapi';
import { DEFAULT_JSON_LIMITS } from '../../../../plugins/lib/json-guard';
import {
  unframedReadLimit,
  validateOpenApiRequest,
  type Verdict,
} from '../../../../plugins/bulwark-validator/validate';
import type { BodyLimits } from '../../../../plugins/bulwark-validator/request-body';
import type { HeaderMultimap } from '../../../../plugins/lib/pdk';

const ALL = new Set(['path', 'query', 'header', 'cookie', 'body'] as const);
const LIMITS: BodyLimits = { maxBodySize: 4096, maxParameters: 20, json: { ...DEFAULT_JSON_LIMITS } };

const DOC31 = {
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  servers: [
    { url: 'https://api.example.com/{version}', variables: { version: { default: 'v1', enum: ['v1', 'v2'] } } },
  ],
  components: {
    schemas: {
      Id: { type: 'integer', minimum: 1 },
      Color: {
        type: 'object',
        properties: { R: { type: 'integer', maximum: 255 }, G: { type: 'integer', maximum: 255 } },
        additionalProperties: false,
      },
      Node: { type: 'object', properties: { child: { $ref: '#/components/schemas/Node' }, v: { type: 'integer' } } },
    },
    parameters: {
      trace: { name: 'X-Trace', in: 'header', required: true, schema: { type: 'string', pattern: '^[a-f0-9]{8}$' } },
    },
  },
  paths: {
    '/items/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { $ref: '#/components/schemas/Id' } }],
      get: {
        parameters: [
          { $ref: '#/components/parameters/trace' },
          {
            name: 'tags',
            in: 'query',
            schema: { type: 'array', items: { type: 'string', enum: ['a', 'b'] }, maxItems: 2 },
          },
          { name: 'ids', in: 'query', explode: false, schema: { type: 'array', items: { type: 'integer' } } },
          {
            name: 'pipes',
            in: 'query',
            style: 'pipeDelimited',
            explode: false,
            schema: { type: 'array', items: { type: 'integer' } },
          },
          { name: 'filter', in: 'query', style: 'deepObject', schema: { $ref: '#/components/schemas/Color' } },
          { name: 'session', in: 'cookie', required: true, schema: { type: 'string', minLength: 4 } },
          { name: 'q', in: 'query', content: { 'application/json': { schema: { type: 'object', required: ['k'] } } } },
        ],
      },
      put: {
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/Node' } },
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file', 'meta'],
                properties: {
                  file: { type: 'string', contentMediaType: 'image/png', maxLength: 8 },
                  meta: { type: 'object', required: ['name'] },
                  n: { type: 'integer' },
                },
              },
            },
            'text/plain': {},
          },
        },
      },
    },
    '/items/mine': { get: {} },
    '/colors/{c}': {
      get: {
        parameters: [
          {
            name: 'c',
            in: 'path',
            required: true,
            style: 'matrix',
            explode: true,
            schema: { $ref: '#/components/schemas/Color' },
          },
        ],
      },
    },
    '/labels/{l}': {
      get: {
        parameters: [
          {
            name: 'l',
            in: 'path',
            required: true,
            style: 'label',
            schema: { type: 'array', items: { type: 'integer' } },
          },
        ],
      },
    },
    '/flags': {
      get: {
        parameters: [
          { name: 'color', in: 'query', style: 'form', explode: true, schema: { $ref: '#/components/schemas/Color' } },
        ],
      },
    },
  },
};

const api = compileOpenApi(DOC31, { validate: ALL });
const policy = { api, unknownOperations: 'reject' as const, rejectUnknownQuery: false };

async function run(
  method: string,
  pathWithQuery: string,
  headers: HeaderMultimap = {},
  body?: string | Buffer,
): Promise<Verdict & { reads: number }> {
  let reads = 0;
  const bytes = body === undefined ? new Uint8Array(0) : Buffer.from(body);
  const h: HeaderMultimap = { ...headers };
  if (body !== undefined) h['content-length'] = [String(bytes.length)];
  const v = await validateOpenApiRequest(
    policy,
    { method, pathWithQuery, headers: h },
    async (limit) => {
      reads++;
      // Content-Length known: read exactly up to max_body_size; unknown: up to the margin (413 either way).
      expect(limit).toBe(h['content-length'] !== undefined ? LIMITS.maxBodySize : unframedReadLimit(LIMITS));
      return bytes;
    },
    LIMITS,
  );
  return { ...v, reads };
}

const where = (v: Verdict) =>
  v.action === 'reject'
    ? v.rejection.violations.map((x) => `${x.root}/${x.steps.join('/')} ${x.rule}`.replace('/ ', ' '))
    : [];
const OK_HEADERS = { 'x-trace': ['deadbeef'], cookie: ['a=1; session=abcd'] };

describe('operation matching', () => {
  test('server variables restricted by enum; concrete path wins over the template', async () => {
    expect((await run('GET', '/v2/items/mine')).action).toBe('pass');
    expect((await run('GET', '/v3/items/mine')).action).toBe('reject');
    expect((await run('GET', '/v1/items/mine')).operation).toBe('GET /items/mine');
  });
  test('the resolved operation for security events: path template below the base path, operationId, deprecated; null when none matched', async () => {
    expect((await run('GET', '/v1/items/mine')).matched).toEqual({ path_template: '/items/mine' });
    // A refusal on a documented operation still names it (the inventory counts it there).
    const refused = await run('GET', '/v1/items/0', OK_HEADERS);
    expect(refused.action).toBe('reject');
    expect(refused.matched).toEqual({ path_template: '/items/{id}' });
    expect((await run('GET', '/v1/nothing/here')).matched).toBeNull();
    const doc = {
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      paths: {
        '/old': { get: { operationId: 'getOld', deprecated: true, responses: { '200': { description: 'ok' } } } },
      },
    };
    const allow = {
      api: compileOpenApi(doc, { validate: ALL }),
      unknownOperations: 'allow' as const,
      rejectUnknownQuery: false,
    };
    const read = () => Promise.resolve(new Uint8Array(0));
    const req = (path: string) => ({ method: 'GET', pathWithQuery: path, headers: {} });
    expect((await validateOpenApiRequest(allow, req('/old'), read, LIMITS)).matched).toEqual({
      id: 'getOld',
      path_template: '/old',
      deprecated: true,
    });
    const through = await validateOpenApiRequest(allow, req('/new/7'), read, LIMITS);
    expect([through.action, through.matched]).toEqual(['pass', null]);
  });
  test('HEAD falls back to GET; unknown method → 405 with the allowed ones', async () => {
    expect((await run('HEAD', '/v1/items/mine')).action).toBe('pass');
    const v = await run('POST', '/v1/items/7', OK_HEADERS);
    expect(v.action === 'reject' && [v.rejection.status, v.rejection.headers]).toEqual([405, { Allow: 'GET, PUT' }]);
  });
});

describe('parameters', () => {
  test('a fully valid request passes; path, header, cookie, query values coerced from strings', async () => {
    const v = await run(
      'GET',
      '/v1/items/7?tags=a&tags=b&ids=1,2,3&pipes=4|5&filter[R]=10&filter[G]=20&q=%7B%22k%22%3A1%7D',
      OK_HEADERS,
    );
    expect(where(v)).toEqual([]);
    expect(v.action).toBe('pass');
  });
  test('each location reports its own violations, all together', async () => {
    const v = await run('GET', '/v1/items/0?tags=c&ids=1,x&pipes=1|y&filter[R]=300&filter[B]=1&q=%7B%7D', {
      'x-trace': ['XYZ'],
      cookie: ['session=ab'],
    });
    expect(where(v).sort()).toEqual(
      [
        'cookie/session minLength',
        'header/x-trace pattern',
        'path/id minimum',
        'query/filter additionalProperties'.replace('additionalProperties', 'additionalProperties'),
        'query/filter/B additionalProperties',
        'query/filter/R maximum',
        'query/ids/1 type',
        'query/pipes/1 type',
        'query/q/k required',
        'query/tags/0 enum',
      ]
        .filter((x) => x !== 'query/filter additionalProperties')
        .sort(),
    );
  });
  test('missing required header and cookie', async () => {
    expect(where(await run('GET', '/v1/items/1')).sort()).toEqual([
      'cookie/session required',
      'header/x-trace required',
    ]);
  });
  test('malformed JSON in a content parameter is located and never parsed loosely', async () => {
    expect(where(await run('GET', '/v1/items/1?q=%7B%22k%22%3A1%2C%7D', OK_HEADERS))).toEqual(['query/q json-syntax']);
  });
  test('malformed percent-encoding and malformed deepObject names are style violations; nesting is read as qs reads it', async () => {
    expect(where(await run('GET', '/v1/items/1?tags=%zz', OK_HEADERS))).toEqual(['query/tags style']);
    expect(where(await run('GET', '/v1/items/1?filter[R]x=1', OK_HEADERS))).toEqual(['query/filter style']);
    // qs reads filter[R][x]=1 as {filter: {R: {x: '1'}}}: the schema (R integer) refuses it.
    expect(where(await run('GET', '/v1/items/1?filter[R][x]=1', OK_HEADERS))).toEqual(['query/filter/R type']);
  });
  test('matrix (explode) and label path styles', async () => {
    expect((await run('GET', '/v1/colors/;R=1;G=2')).action).toBe('pass');
    expect(where(await run('GET', '/v1/colors/;R=1;G=999'))).toEqual(['path/c/G maximum']);
    expect(where(await run('GET', '/v1/colors/R=1'))).toEqual(['path/c style']);
    expect((await run('GET', '/v1/labels/.1,2,3')).action).toBe('pass');
    expect(where(await run('GET', '/v1/labels/.1,x'))).toEqual(['path/l/1 type']);
  });
  test('form + explode object: declared members are top-level query names', async () => {
    expect((await run('GET', '/v1/flags?R=1&G=2&other=x')).action).toBe('pass');
    expect(where(await run('GET', '/v1/flags?R=256'))).toEqual(['query/color/R maximum']);
  });
  test('too many query parameters is refused before any parsing', async () => {
    const q = Array.from({ length: 21 }, (_, i) => `p${i}=1`).join('&');
    expect(where(await run('GET', `/v1/items/mine?${q}`))).toEqual(['query max-parameters']);
  });
});

describe('bodies', () => {
  test('recursive $ref schema: the violation deep inside is located', async () => {
    const v = await run(
      'PUT',
      '/v1/items/1',
      { 'content-type': ['application/json'] },
      '{"child":{"child":{"v":"x"}}}',
    );
    expect(where(v)).toEqual(['body/child/child/v type']);
  });
  test('a media type without a schema is accepted without reading the body', async () => {
    const v = await run('PUT', '/v1/items/1', { 'content-type': ['text/plain; charset=utf-8'] }, 'anything');
    expect(v.action).toBe('pass');
    expect(v.reads).toBe(0);
  });
  test('multipart: file part kept as bytes (maxLength counts bytes), JSON part parsed and validated', async () => {
    const mp = (file: string, meta: string) =>
      `--B\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n${file}\r\n` +
      `--B\r\nContent-Disposition: form-data; name="meta"\r\nContent-Type: application/json\r\n\r\n${meta}\r\n` +
      `--B\r\nContent-Disposition: form-data; name="n"\r\n\r\n12\r\n--B--\r\n`;
    const h = { 'content-type': ['multipart/form-data; boundary=B'] };
    expect((await run('PUT', '/v1/items/1', h, mp('PNG', '{"name":"a"}'))).action).toBe('pass');
    expect(where(await run('PUT', '/v1/items/1', h, mp('123456789', '{}'))).sort()).toEqual([
      'body/file maxLength',
      'body/meta/name required',
    ]);
    expect(where(await run('PUT', '/v1/items/1', h, mp('P', '{"name":"a",}')))).toEqual(['body/meta json-syntax']);
    expect(where(await run('PUT', '/v1/items/1', { 'content-type': ['multipart/form-data'] }, mp('P', '{}')))).toEqual([
      'body multipart',
    ]);
  });
  test('a body longer than announced cannot slip past the limit (in-memory bodies ignore the read limit)', async () => {
    const v = await validateOpenApiRequest(
      policy,
      {
        method: 'PUT',
        pathWithQuery: '/v1/items/1',
        headers: { 'content-type': ['application/json'], 'transfer-encoding': ['chunked'] },
      },
      async () => Buffer.alloc(5000, 0x20),
      LIMITS,
    );
    expect(v.action === 'reject' && v.rejection.status).toBe(413);
  });
  test('conflicting Content-Length values are refused', async () => {
    const v = await validateOpenApiRequest(
      policy,
      { method: 'GET', pathWithQuery: '/v1/items/mine', headers: { 'content-length': ['5', '6'] } },
      async () => new Uint8Array(0),
      LIMITS,
    );
    expect(where(v)).toEqual(['header/content-length content-length']);
  });
});

describe('compile errors name the location', () => {
  const compile = (doc: object) => () => compileOpenApi(doc, { validate: ALL });
  test('an invalid schema', () => {
    expect(
      compile({
        openapi: '3.0.3',
        paths: {
          '/pets': {
            post: {
              requestBody: {
                content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'integr' } } } } },
              },
            },
          },
        },
      }),
    ).toThrow(
      /^paths\.\/pets\.post\.requestBody\.content\.application\/json\.schema\.properties\.id\.type: invalid schema/,
    );
  });
  test('an unresolvable $ref', () => {
    expect(
      compile({
        openapi: '3.1.0',
        paths: {
          '/pets': { get: { parameters: [{ name: 'a', in: 'query', schema: { $ref: '#/components/schemas/Nope' } }] } },
        },
      }),
    ).toThrow(
      /^paths\.\/pets\.get\.parameters\.0\.schema\.\$ref: reference #\/components\/schemas\/Nope does not resolve$/,
    );
  });
  test('external refs, bad styles, Swagger 2', () => {
    expect(
      compile({ openapi: '3.0.0', paths: { '/a': { get: { parameters: [{ $ref: 'other.yaml#/p' }] } } } }),
    ).toThrow('paths./a.get.parameters.0.$ref: only references inside the document');
    expect(
      compile({
        openapi: '3.0.0',
        paths: { '/a': { get: { parameters: [{ name: 'x', in: 'path', style: 'form', schema: {} }] } } },
      }),
    ).toThrow('paths./a.get.parameters.0.style: expected one of: simple, label, matrix');
    expect(compile({ swagger: '2.0', paths: {} })).toThrow('swagger: Swagger 2.0 documents are not supported');
    expect(
      compile({ openapi: '3.1.0', jsonSchemaDialect: 'http://json-schema.org/draft-07/schema#', paths: {} }),
    ).toThrow('jsonSchemaDialect');
  });
});

describe('JSON-content header parameters hold the bytes the client sent', () => {
  const headerApi = compileOpenApi(
    {
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: {
        '/j': {
          get: {
            parameters: [
              { name: 'x-json', in: 'header', content: { 'application/json': { schema: { type: 'object' } } } },
            ],
          },
        },
      },
    },
    { validate: ALL },
  );
  const check = (value: string) =>
    validateOpenApiRequest(
      { api: headerApi, unknownOperations: 'reject', rejectUnknownQuery: false },
      { method: 'GET', pathWithQuery: '/j', headers: { 'x-json': [value] } },
      () => Promise.resolve(new Uint8Array(0)),
      LIMITS,
    );

  test('a byte that is not UTF-8 (the plugin server escapes it as U+DC00 + byte) is refused by the strict UTF-8 check', async () => {
    // {"a":"<0xe0>"}: the plugin server hands it over as {"a":"\uDCE0"}; read as U+FFFD it would pass.
    expect(where(await check('{"a":"\uDCE0"}'))).toEqual(['header/x-json/a utf-8']);
    expect((await check('{"a":"é"}')).action).toBe('pass');
  });
});
