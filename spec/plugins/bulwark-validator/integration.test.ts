// bulwark-validator through the Kong emulator with the real plugin server and the echo upstream, against the
// petstore and USPTO OpenAPI documents of spec/fixtures/openapi/oai-examples.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  startGateway,
  Gateway,
  echoed,
  type GatewayRequest,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const CORPUS = path.resolve(__dirname, '../../fixtures/openapi/oai-examples');
const PETSTORE = path.join(CORPUS, 'petstore.yaml');
const USPTO_TEXT = fs.readFileSync(path.join(CORPUS, 'uspto.yaml'), 'utf8');

const ORDER_SCHEMA = JSON.stringify({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['items'],
  properties: {
    items: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['sku', 'price'],
        properties: { sku: { type: 'string', pattern: '^[A-Z]{3}-\\d+$' }, price: { type: 'number', minimum: 0 } },
      },
    },
    note: { type: 'string', maxLength: 20 },
  },
  additionalProperties: false,
});

const DRAFT4_QUERY = JSON.stringify({
  $schema: 'http://json-schema.org/draft-04/schema#',
  type: 'object',
  properties: { page: { type: 'integer', minimum: 1, maximum: 10, exclusiveMaximum: true } },
  required: ['page'],
});

const CONFIG = `
_format_version: "3.0"
services:
  - name: pets
    url: ECHO
    routes:
      - { name: pets, paths: ["/v1"], strip_path: false }
      - { name: pets-monitor, paths: ["/monitor/v1"], strip_path: false }
      - { name: pets-quiet, paths: ["/quiet/v1"], strip_path: false }
      - { name: pets-open, paths: ["/open/v1"], strip_path: false }
      - { name: pets-big, paths: ["/big/v1"], strip_path: false }
  - name: uspto
    url: ECHO
    routes:
      - { name: uspto, paths: ["/ds-api"], strip_path: false }
  - name: orders
    url: ECHO
    routes:
      - { name: orders, paths: ["/orders"] }
      - { name: search, paths: ["/search"] }
plugins:
  - name: bulwark-validator
    route: pets
    config:
      openapi: { spec_file: ${JSON.stringify(PETSTORE)} }
  - name: bulwark-validator
    route: pets-monitor
    config:
      mode: monitor
      openapi: { spec_file: ${JSON.stringify(PETSTORE)}, base_paths: ["/monitor/v1"] }
  - name: bulwark-validator
    route: pets-quiet
    config:
      verbose: false
      openapi: { spec_file: ${JSON.stringify(PETSTORE)}, base_paths: ["/quiet/v1"] }
  - name: bulwark-validator
    route: pets-open
    config:
      openapi: { spec_file: ${JSON.stringify(PETSTORE)}, base_paths: ["/open/v1"], unknown_operations: allow }
  - name: bulwark-validator
    route: pets-big
    config:
      openapi: { spec_file: ${JSON.stringify(PETSTORE)}, base_paths: ["/big/v1"] }
      limits: { max_body_size: 12000000, max_depth: 1000, max_string_length: 1000 }
  - name: bulwark-validator
    route: uspto
    config:
      openapi: { spec: ${JSON.stringify(USPTO_TEXT)} }
  - name: bulwark-validator
    route: orders
    config:
      json_schema:
        body_schema: ${JSON.stringify(ORDER_SCHEMA)}
  - name: bulwark-validator
    route: search
    config:
      json_schema: { query_schema: ${JSON.stringify(DRAFT4_QUERY)} }
`;

type ErrorBody = { message: string; errors?: { location: string; rule: string; detail: string }[] };
const errorsOf = (body: Buffer): ErrorBody => JSON.parse(body.toString('utf8')) as ErrorBody;
const locations = (body: Buffer) => (errorsOf(body).errors ?? []).map((e) => `${e.location} ${e.rule}`);

describe('bulwark-validator integration (emulator + real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ plugins: ['bulwark-validator'] });
    gw.configure(CONFIG);
  });
  afterAllNoFailOpen(() => [gw]);

  const send = (r: GatewayRequest) => gw.send(r);
  const json = (method: string, p: string, body: string, headers: Record<string, string> = {}) =>
    send({ method, path: p, body, headers: { 'content-type': 'application/json', ...headers } });

  describe('petstore (OpenAPI 3.0, spec_file, server base path /v1)', () => {
    test('a valid POST passes untouched: the upstream receives the exact body', async () => {
      const body = '{ "id": 7,\n  "name": "Rex", "tag": "dog" }';
      const res = await json('POST', '/v1/pets', body);
      expect(res.status).toBe(200);
      const up = echoed(res.body);
      expect(up.body).toBe(body);
      expect(up.path).toBe('/v1/pets');
      expect(up.method).toBe('POST');
    });

    test('a valid GET with query and a path parameter pass; 3 PDK calls with Content-Length: 0, 4 without it or with a body (+ the decision record each)', async () => {
      // Warm both emulated workers so that no StartInstance is counted below.
      await send({ path: '/v1/pets' });
      await send({ path: '/v1/pets' });
      const list = await send({ path: '/v1/pets?limit=100', headers: { 'content-length': '0' } });
      expect(list.status).toBe(200);
      // RPCs = HandleEvent + one Step per PDK call (getMethod, getPathWithQuery, getHeaders, the decision record
      // log.set_serialize_value that bulwark-guard checks).
      expect(list.report.rpcCallsByPlugin['bulwark-validator']).toBe(5);
      // Without Content-Length the body itself says whether there is one (HTTP/2): + getRawBody.
      const noLength = await send({ path: '/v1/pets?limit=100' });
      expect(noLength.report.rpcCallsByPlugin['bulwark-validator']).toBe(6);
      const one = await send({ path: '/v1/pets/abc%20def' });
      expect(one.status).toBe(200);
      expect(echoed(one.body).path).toBe('/v1/pets/abc%20def');
      const post = await json('POST', '/v1/pets', '{"id":1,"name":"a"}');
      expect(post.report.rpcCallsByPlugin['bulwark-validator']).toBe(6); // + getRawBody
    });

    test('query violations: 400 with query/limit and the rule, never the value', async () => {
      const res = await send({ path: '/v1/pets?limit=1000000' });
      expect(res.status).toBe(400);
      expect(locations(res.body)).toEqual(['query/limit maximum']);
      expect(res.body.toString()).not.toContain('1000000');
      expect(res.report.upstreamRequest).toBeUndefined();
      const notInt = await send({ path: '/v1/pets?limit=abc' });
      expect(locations(notInt.body)).toEqual(['query/limit type']);
      const empty = await send({ path: '/v1/pets?limit=' });
      expect(locations(empty.body)).toEqual(['query/limit allowEmptyValue']);
    });

    test('body violations are listed together, each with its location (body/id, body/name)', async () => {
      const res = await json('POST', '/v1/pets', '{"id":"seven","tag":5}');
      expect(res.status).toBe(400);
      expect(errorsOf(res.body).message).toBe('Request validation failed');
      expect(locations(res.body).sort()).toEqual(['body/id type', 'body/name required', 'body/tag type']);
      expect(res.body.toString()).not.toContain('seven');
    });

    test('a required body that is missing is a violation', async () => {
      const res = await send({ method: 'POST', path: '/v1/pets', headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(locations(res.body)).toEqual(['body required']);
    });

    test('Content-Type outside the operation’s media types → 415; missing Content-Type → 415', async () => {
      const xml = await send({
        method: 'POST',
        path: '/v1/pets',
        body: '<pet/>',
        headers: { 'content-type': 'application/xml' },
      });
      expect(xml.status).toBe(415);
      expect(errorsOf(xml.body).errors?.[0]).toMatchObject({
        location: 'header/content-type',
        rule: 'media-type',
        detail: 'expected one of: application/json',
      });
      const none = await send({ method: 'POST', path: '/v1/pets', body: '{"id":1,"name":"a"}' });
      expect(none.status).toBe(415);
    });

    test('a Content-Length over max_body_size → 413 before the body is read', async () => {
      const res = await send({
        method: 'POST',
        path: '/v1/pets',
        body: `{"id":1,"name":"${'x'.repeat(1048576)}"}`,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(413);
      expect(errorsOf(res.body).errors?.[0]).toMatchObject({ location: 'body', rule: 'max-body-size' });
      // HandleEvent, getMethod, getPathWithQuery, getHeaders, log, the deny record (the exit gets no reply): no
      // getRawBody.
      expect(res.report.rpcCallsByPlugin['bulwark-validator']).toBe(6);
    });

    test('unknown paths → 404, unknown methods → 405 with Allow; shadow endpoints are shut', async () => {
      const admin = await send({ path: '/v1/admin' });
      expect(admin.status).toBe(404);
      expect(locations(admin.body)).toEqual(['request/path unknown-path']);
      const del = await send({ method: 'DELETE', path: '/v1/pets/1' });
      expect(del.status).toBe(405);
      expect(del.headers.first('allow')).toBe('GET');
      const outside = await send({ path: '/v1' });
      expect(outside.status).toBe(404);
    });

    test('dot segments and encoded unreserved characters are normalised before matching', async () => {
      const traversal = await send({ path: '/v1/pets/../admin' });
      expect(traversal.status).toBe(404);
      const encoded = await send({ path: '/v1/p%65ts?limit=5' });
      expect(encoded.status).toBe(200);
    });

    test('a body on an operation without requestBody is refused', async () => {
      const res = await json('GET', '/v1/pets', '{"a":1}');
      expect(res.status).toBe(400);
      expect(locations(res.body)).toEqual(['body unexpected-body']);
    });

    test('unknown_operations: allow lets undefined paths and methods through unvalidated', async () => {
      expect((await send({ path: '/open/v1/admin' })).status).toBe(200);
      expect((await send({ method: 'DELETE', path: '/open/v1/pets/1' })).status).toBe(200);
      expect((await send({ path: '/open/v1/pets?limit=1000' })).status).toBe(400);
    });

    test('mode monitor logs the violations and lets the request through', async () => {
      const before = gw.kong.log.length;
      const res = await json('POST', '/monitor/v1/pets', '{"id":"x"}');
      expect(res.status).toBe(200);
      expect(echoed(res.body).body).toBe('{"id":"x"}');
      const lines = gw.kong.log.slice(before).join('\n');
      expect(lines).toContain('validation_failed_monitor_only');
      expect(lines).toContain('body/id');
    });

    test('verbose false: the client gets only the message, the log keeps the details', async () => {
      const before = gw.kong.log.length;
      const res = await send({ path: '/quiet/v1/pets?limit=500' });
      expect(res.status).toBe(400);
      expect(errorsOf(res.body)).toEqual({ message: 'Request validation failed' });
      expect(gw.kong.log.slice(before).join('\n')).toContain('query/limit');
    });
  });

  describe('USPTO (OpenAPI 3.0.1, inline YAML, server variables, form-urlencoded body)', () => {
    test('list data sets and searchable fields: valid requests pass', async () => {
      expect((await send({ path: '/ds-api/' })).status).toBe(200);
      const fields = await send({ path: '/ds-api/oa_citations/v1/fields' });
      expect(fields.status).toBe(200);
      expect(echoed(fields.body).path).toBe('/ds-api/oa_citations/v1/fields');
    });

    test('a valid form search passes untouched', async () => {
      const body = 'criteria=patentNumber%3A7654321&start=0&rows=10';
      const res = await send({
        method: 'POST',
        path: '/ds-api/oa_citations/v1/records',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(200);
      expect(echoed(res.body).body).toBe(body);
    });

    test('form violations: missing criteria, non-integer rows', async () => {
      const res = await send({
        method: 'POST',
        path: '/ds-api/oa_citations/v1/records',
        body: 'rows=ten',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(400);
      expect(locations(res.body).sort()).toEqual(['body/criteria required', 'body/rows type']);
    });

    test('JSON to a form-only operation → 415', async () => {
      const res = await json('POST', '/ds-api/oa_citations/v1/records', '{"criteria":"*:*"}');
      expect(res.status).toBe(415);
    });

    test('GET on the POST-only records path → 405', async () => {
      const res = await send({ path: '/ds-api/oa_citations/v1/records' });
      expect(res.status).toBe(405);
      expect(res.headers.first('allow')).toBe('POST');
    });
  });

  describe('plain JSON Schema mode', () => {
    test('a valid order passes untouched', async () => {
      const body = '{"items":[{"sku":"ABC-1","price":9.5}],"note":"gift"}';
      const res = await json('POST', '/orders', body);
      expect(res.status).toBe(200);
      expect(echoed(res.body).body).toBe(body);
    });

    test('nested violations are located: body/items/0/price, body/items/1/sku', async () => {
      const res = await json('POST', '/orders', '{"items":[{"sku":"ABC-1","price":-1},{"sku":"nope","price":1}]}');
      expect(res.status).toBe(400);
      expect(locations(res.body).sort()).toEqual(['body/items/0/price minimum', 'body/items/1/sku pattern']);
    });

    test('an unexpected member is named only when harmless', async () => {
      const res = await json('POST', '/orders', '{"items":[{"sku":"ABC-1","price":1}],"<script>":1,"extra":2}');
      expect(locations(res.body).sort()).toEqual(['body/* additionalProperties', 'body/extra additionalProperties']);
      expect(res.body.toString()).not.toContain('<script>');
    });

    test('draft-04 query schema (exclusiveMaximum: true) with string coercion', async () => {
      expect((await send({ path: '/search?page=9' })).status).toBe(200);
      const res = await send({ path: '/search?page=10' });
      expect(res.status).toBe(400);
      expect(locations(res.body)).toEqual(['query/page exclusiveMaximum']);
      expect(locations((await send({ path: '/search' })).body)).toEqual(['query/page required']);
    });

    test('a non-JSON body to a body schema → 415', async () => {
      const res = await send({
        method: 'POST',
        path: '/orders',
        body: 'a=1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(415);
    });
  });

  describe('robustness: malformed JSON gets a 4xx and the plugin server stays healthy', () => {
    const hostile: [string, string | Buffer, string][] = [
      ['truncated', '{"id": 1, "name": "Re', 'json-syntax'],
      ['trailing comma in object', '{"id": 1, "name": "Rex",}', 'json-syntax'],
      ['trailing comma in array', '{"id": 1, "name": "Rex", "tag": [1,]}', 'json-syntax'],
      ['lone high surrogate', '{"id": 1, "name": "\\ud800"}', 'lone-surrogate'],
      ['lone low surrogate', '{"id": 1, "name": "\\udc00x"}', 'lone-surrogate'],
      [
        'invalid UTF-8',
        Buffer.concat([Buffer.from('{"id": 1, "name": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
        'utf-8',
      ],
      [
        'encoded surrogate in UTF-8',
        Buffer.concat([Buffer.from('{"id": 1, "name": "'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
        'utf-8',
      ],
      ['duplicate keys', '{"id": 1, "name": "Rex", "name": "Max"}', 'duplicate-key'],
      ['single quotes', "{'id': 1}", 'json-syntax'],
      ['NaN', '{"id": NaN, "name": "x"}', 'json-syntax'],
      ['leading zero', '{"id": 01, "name": "x"}', 'json-syntax'],
      ['comment', '{"id": 1 /* c */, "name": "x"}', 'json-syntax'],
      ['two values', '{"id": 1, "name": "x"} {}', 'json-syntax'],
      ['BOM', '\ufeff{"id": 1, "name": "x"}', 'json-syntax'],
      ['control character in string', '{"id": 1, "name": "a\u0001b"}', 'json-syntax'],
      ['10,000 levels of nesting', '['.repeat(10000) + ']'.repeat(10000), 'max-depth'],
      ['10,000 unclosed levels', '{"a":'.repeat(10000), 'max-depth'],
    ];
    test.each(hostile)('%s → 400 saying where', async (_name, body, rule) => {
      const res = await send({
        method: 'POST',
        path: '/v1/pets',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      const [first] = errorsOf(res.body).errors ?? [];
      expect(first?.rule).toBe(rule);
      expect(first?.location.startsWith('body')).toBe(true);
      expect(first?.detail).toMatch(/at line \d+, column \d+ \(byte offset \d+\)$/);
    });

    test('the error says where: line and column of a trailing comma', async () => {
      const res = await json('POST', '/v1/pets', '{\n  "id": 1,\n  "name": "Rex",\n}');
      expect(errorsOf(res.body).errors?.[0]?.detail).toBe('trailing comma at line 4, column 1 (byte offset 30)');
    });

    test('1,000-level nesting with the highest depth limit (1000) is scanned and validated; 10,000 levels get max-depth', async () => {
      const res = await json('POST', '/big/v1/pets', '['.repeat(1000) + ']'.repeat(1000));
      expect(res.status).toBe(400);
      expect(locations(res.body)).toEqual(['body type']); // valid JSON; the schema wants an object
      const deeper = await json('POST', '/big/v1/pets', '['.repeat(10000) + ']'.repeat(10000));
      expect(deeper.status).toBe(400);
      expect(errorsOf(deeper.body).errors?.[0]?.rule).toBe('max-depth');
    });

    test('a 10 MB string: 413 with the default limit, 400 (max-string-length) with a raised body limit', async () => {
      const big = `{"id":1,"name":"${'a'.repeat(10 * 1024 * 1024)}"}`;
      const res = await json('POST', '/v1/pets', big);
      expect(res.status).toBe(413);
      const raised = await json('POST', '/big/v1/pets', big);
      expect(raised.status).toBe(400);
      expect(errorsOf(raised.body).errors?.[0]).toMatchObject({ location: 'body/name', rule: 'max-string-length' });
    });

    test('after all of that, a valid request still succeeds', async () => {
      const res = await json('POST', '/v1/pets', '{"id":2,"name":"Fido"}');
      expect(res.status).toBe(200);
      expect(echoed(res.body).body).toBe('{"id":2,"name":"Fido"}');
    });
  });
});
