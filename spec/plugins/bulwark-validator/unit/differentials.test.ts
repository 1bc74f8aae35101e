// Differentials: what the validator checks must be what the upstream parses. Each case is a request the old
// validator let through while a common upstream parser (busboy behind multer, qs behind Express, parseInt)
// reads something else; the upstream's reading is shown with the real library where it is a Node one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import busboy from 'busboy';
import * as qs from 'qs';
import { parse as parseYaml } from 'yaml';
import { compileOpenApi } from '../../../../plugins/bulwark-validator/openapi';
import { compileJsonSchemas } from '../../../../plugins/bulwark-validator/json-schema-mode';
import { DEFAULT_JSON_LIMITS } from '../../../../plugins/lib/json-guard';
import {
  unframedReadLimit,
  validateJsonSchemaRequest,
  validateOpenApiRequest,
  type Verdict,
} from '../../../../plugins/bulwark-validator/validate';
import type { BodyLimits } from '../../../../plugins/bulwark-validator/request-body';
import type { HeaderMultimap } from '../../../../plugins/lib/pdk';
import { numberTextProblem } from '../../../../plugins/bulwark-validator/number-syntax';

const FIXTURE = path.resolve(__dirname, '../../../fixtures/openapi/stripe-style/openapi.yaml');
const ALL = new Set(['path', 'query', 'header', 'cookie', 'body'] as const);
const LIMITS: BodyLimits = { maxBodySize: 4096, maxParameters: 50, json: { ...DEFAULT_JSON_LIMITS } };
const api = compileOpenApi(parseYaml(fs.readFileSync(FIXTURE, 'utf8')), { validate: ALL });
const policy = { api, unknownOperations: 'reject' as const, rejectUnknownQuery: false };

interface Req {
  method?: string;
  path: string;
  headers?: HeaderMultimap;
  body?: string | Buffer;
  /** Leave Content-Length out (chunked / HTTP/2). */
  unframed?: boolean;
}

async function run(r: Req): Promise<Verdict & { reads: number[] }> {
  const reads: number[] = [];
  const bytes = r.body === undefined ? new Uint8Array(0) : Buffer.from(r.body);
  const h: HeaderMultimap = { ...(r.headers ?? {}) };
  if (r.body !== undefined && !r.unframed) h['content-length'] = [String(bytes.length)];
  const v = await validateOpenApiRequest(
    policy,
    { method: r.method ?? 'GET', pathWithQuery: r.path, headers: h },
    async (limit) => {
      reads.push(limit);
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
const status = (v: Verdict) => (v.action === 'reject' ? v.rejection.status : 200);
const FORM = { 'content-type': ['application/x-www-form-urlencoded'] };
const post = (body: string, extra: Partial<Req> = {}) =>
  run({ method: 'POST', path: '/v1/checkout/sessions', headers: FORM, body, ...extra });
const BASE = 'mode=payment&success_url=https%3A%2F%2Fshop.example%2Fok';

describe('numbers: only the text every upstream reads as the number that was checked', () => {
  test.each(['Infinity', '-Infinity', '1e400', '0x0A', '1e1', ' 5 ', '+5', '5.0', '0b1', '0o7', '\t5'])(
    'integer limit=%p is refused',
    async (text) => {
      const v = await run({ path: `/v1/checkout/sessions?limit=${encodeURIComponent(text)}` });
      expect(where(v)).toEqual(['query/limit number-syntax']);
    },
  );
  test('text JavaScript does not read as a number is still a type violation', async () => {
    expect(where(await run({ path: '/v1/checkout/sessions?limit=1_000' }))).toEqual(['query/limit type']);
  });
  test('decimal integers pass, bounds still apply', async () => {
    expect((await run({ path: '/v1/checkout/sessions?limit=5' })).action).toBe('pass');
    expect((await run({ path: '/v1/checkout/sessions?limit=-0' })).action).toBe('reject'); // minimum 1
    expect(where(await run({ path: '/v1/checkout/sessions?limit=1000' }))).toEqual(['query/limit maximum']);
  });
  test('Infinity no longer satisfies type integer with minimum/maximum (Ajv strictNumbers)', async () => {
    // What the old code accepted: `-Infinity` as text and `1e400` (Number → Infinity) both passed `maximum: 100`
    // because Infinity % 1 is NaN, not 0, in Ajv's integer check without strictNumbers.
    expect(where(await run({ path: '/v1/checkout/sessions?ratio=1e400' }))).toEqual(['query/ratio number-syntax']);
    expect(where(await post(`${BASE}&expires_at=-Infinity`))).toEqual(['body/expires_at number-syntax']);
  });
  test('type number takes JSON number syntax: 1e-1 and 0.5 pass, .5, 0x1, 1. do not', async () => {
    for (const ok of ['0.5', '1e-1', '0', '1'])
      expect((await run({ path: `/v1/checkout/sessions?ratio=${ok}` })).action).toBe('pass');
    for (const bad of ['.5', '0x1', '1.', '+0.5', '.5e-1']) {
      expect(where(await run({ path: `/v1/checkout/sessions?ratio=${encodeURIComponent(bad)}` }))).toEqual([
        'query/ratio number-syntax',
      ]);
    }
  });
  test('int64 bounds are compared on the digits: 2^63-1 passes, 2^63 does not (both are the same double)', async () => {
    expect(Number('9223372036854775807')).toBe(Number('9223372036854775808'));
    expect((await run({ path: '/v1/checkout/sessions?amount=9223372036854775807' })).action).toBe('pass');
    expect(where(await run({ path: '/v1/checkout/sessions?amount=9223372036854775808' }))).toEqual([
      'query/amount number-syntax',
    ]);
    expect(where(await post(`${BASE}&expires_at=-9223372036854775809`))).toEqual(['body/expires_at number-syntax']);
    expect((await post(`${BASE}&expires_at=-9223372036854775808`)).action).toBe('pass');
    expect(numberTextProblem('2147483648', { kind: 'integer', format: 'int32' })).toBe('must fit in int32');
    expect(numberTextProblem('-2147483648', { kind: 'integer', format: 'int32' })).toBeUndefined();
  });
  test('JSON bodies: int64 on a double refuses 2^63 (INT64_MAX rounds to it: refused too, fail closed); 1e400 is not a number', async () => {
    const doc = {
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: {
        '/x': {
          post: {
            requestBody: {
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: { id: { type: 'integer', format: 'int64' }, n: { type: 'number' } },
                  },
                },
              },
            },
          },
        },
      },
    };
    const p = {
      api: compileOpenApi(doc, { validate: ALL }),
      unknownOperations: 'reject' as const,
      rejectUnknownQuery: false,
    };
    const check = (body: string) =>
      validateOpenApiRequest(
        p,
        {
          method: 'POST',
          pathWithQuery: '/x',
          headers: { 'content-type': ['application/json'], 'content-length': [String(body.length)] },
        },
        async () => Buffer.from(body),
        LIMITS,
      );
    expect(where(await check('{"id": 9223372036854775808}'))).toEqual(['body/id format']);
    expect(where(await check('{"id": 9223372036854775807}'))).toEqual(['body/id format']);
    expect((await check('{"id": 9223372036854774784}')).action).toBe('pass'); // the largest double below 2^63
    expect((await check('{"id": -9223372036854775808}')).action).toBe('pass');
    expect(where(await check('{"n": 1e400}'))).toEqual(['body/n type']);
  });
  test('form bodies: the same rules (line_items[0][quantity]=0x2 is refused)', async () => {
    expect(where(await post(`${BASE}&line_items[0][quantity]=0x2`))).toEqual([
      'body/line_items/0/quantity number-syntax',
    ]);
  });
  test('JSON Schema mode query values: the same rules', async () => {
    const schemas = compileJsonSchemas({
      draft: 'auto',
      query: { schema: { type: 'object', properties: { page: { type: 'integer', maximum: 10 } } }, field: 'q' },
    } as never);
    const jsonPolicy = { schemas, contentTypes: ['application/json'], bodyRequired: false };
    const check = (q: string) =>
      validateJsonSchemaRequest(
        jsonPolicy,
        { method: 'GET', pathWithQuery: `/x?${q}`, headers: {} },
        async () => new Uint8Array(0),
        LIMITS,
      );
    expect((await check('page=5')).action).toBe('pass');
    expect(where(await check('page=-Infinity'))).toEqual(['query/page number-syntax']);
    expect(where(await check('page=1e1'))).toEqual(['query/page number-syntax']);
    expect(where(await check('page[]=1000'))).toEqual(['query/page[] bracketed-alias']);
  });
});

/** What busboy (multer's parser) reads from a multipart body: [name, value] in order, or its error. */
function busboyFields(contentType: string, body: Buffer): Promise<[string, string][] | string> {
  return new Promise((resolve) => {
    const out: [string, string][] = [];
    const bb = busboy({ headers: { 'content-type': contentType } });
    bb.on('field', (name, value) => out.push([name, value]));
    bb.on('file', (name, stream) => {
      stream.resume();
      out.push([name, '<file>']);
    });
    bb.on('close', () => resolve(out));
    bb.on('error', (e: Error) => resolve(e.message));
    bb.end(body);
  });
}

const part = (disposition: string, value: string, boundary = 'X', extra = '') =>
  `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${extra}\r\n${value}\r\n`;
const FILE = (b = 'X') => part('form-data; name="file"; filename="a.png"', 'PNG', b, 'Content-Type: image/png\r\n');
const files = (contentType: string, body: string) =>
  run({ method: 'POST', path: '/v1/files', headers: { 'content-type': [contentType] }, body });

describe('multipart: ambiguous framing is refused (busboy reads the first, the old validator the last)', () => {
  test('a plain upload passes', async () => {
    const body = `${FILE()}${part('form-data; name="purpose"', 'dispute_evidence')}${part('form-data; name="copies"', '5')}--X--\r\n`;
    expect((await files('multipart/form-data; boundary=X', body)).action).toBe('pass');
  });
  test('two boundary parameters: busboy frames with the first (copies=50), we refuse with 400', async () => {
    // Under boundary X the part says copies=50; the X framing is a preamble under boundary Y, where copies=5.
    const body =
      `${FILE()}${part('form-data; name="purpose"', 'dispute_evidence')}${part('form-data; name="copies"', '50')}--X--\r\n` +
      `${FILE('Y')}${part('form-data; name="purpose"', 'dispute_evidence', 'Y')}${part('form-data; name="copies"', '5', 'Y')}--Y--\r\n`;
    const ct = 'multipart/form-data; boundary=X; boundary=Y';
    expect(await busboyFields(ct, Buffer.from(body))).toContainEqual(['copies', '50']);
    const v = await files(ct, body);
    expect(status(v)).toBe(400);
    expect(v.action === 'reject' && v.rejection.violations[0]!.detail).toContain('boundary more than once');
  });
  test('two Content-Disposition headers in a part: busboy takes the first name, we refuse', async () => {
    const body =
      `${FILE()}${part('form-data; name="purpose"', 'dispute_evidence')}` +
      `${part('form-data; name="copies"', '50', 'X', 'Content-Disposition: form-data; name="note"\r\n')}--X--\r\n`;
    expect(await busboyFields('multipart/form-data; boundary=X', Buffer.from(body))).toContainEqual(['copies', '50']);
    const v = await files('multipart/form-data; boundary=X', body);
    expect(where(v)).toEqual(['body multipart']);
    expect(v.action === 'reject' && v.rejection.violations[0]!.detail).toBe(
      'multipart part with more than one Content-Disposition',
    );
  });
  test('two name parameters: busboy takes the first, we refuse', async () => {
    const body = `${FILE()}${part('form-data; name="purpose"', 'dispute_evidence')}${part('form-data; name="copies"; name="note"', '50')}--X--\r\n`;
    expect(await busboyFields('multipart/form-data; boundary=X', Buffer.from(body))).toContainEqual(['copies', '50']);
    const v = await files('multipart/form-data; boundary=X', body);
    expect(v.action === 'reject' && v.rejection.violations[0]!.detail).toBe(
      'multipart Content-Disposition gives name more than once',
    );
  });
  test('RFC 5987 name* is refused (RFC 7578 §4.2)', async () => {
    const body = `${FILE()}${part("form-data; name*=utf-8''copies", '50')}--X--\r\n`;
    expect(status(await files('multipart/form-data; boundary=X', body))).toBe(400);
  });
  test('a bracketed alias of a declared multipart field (tags[] when tags is declared) is refused: multer reads it as tags', async () => {
    const body = `${FILE()}${part('form-data; name="purpose"', 'dispute_evidence')}${part('form-data; name="copies[]"', '50')}--X--\r\n`;
    expect(where(await files('multipart/form-data; boundary=X', body))).toEqual(['body/copies[] bracketed-alias']);
  });
});

describe('bracketed aliases of declared parameters and fields', () => {
  test.each(['limit[]=1000', 'limit[0]=1000', 'limit[x]=1000', 'limit%5B%5D=1000'])(
    'query %p: qs reads it as limit, we refuse',
    async (q) => {
      expect(qs.parse(q).limit).toBeDefined();
      const v = await run({ path: `/v1/checkout/sessions?${q}` });
      expect(status(v)).toBe(400);
      expect(where(v)[0]).toMatch(/^query\/limit\[.*\] bracketed-alias$/);
    },
  );
  test('form body success_url[]=… is refused (qs reads it as success_url)', async () => {
    expect(qs.parse('success_url[]=https://evil.example').success_url).toEqual(['https://evil.example']);
    expect(where(await post(`mode=payment&success_url=ok&success_url[]=x`))).toEqual([
      'body/success_url[] bracketed-alias',
    ]);
  });
  test('a parameter declared as ids[] (PHP style): ids[]=1 is it, ids[0]=1 is an alias', async () => {
    const doc = {
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: {
        '/x': {
          get: {
            parameters: [
              { name: 'ids[]', in: 'query', schema: { type: 'array', items: { type: 'integer', maximum: 10 } } },
            ],
          },
        },
      },
    };
    const p = {
      api: compileOpenApi(doc, { validate: ALL }),
      unknownOperations: 'reject' as const,
      rejectUnknownQuery: false,
    };
    const check = (q: string) =>
      validateOpenApiRequest(
        p,
        { method: 'GET', pathWithQuery: `/x?${q}`, headers: { 'content-length': ['0'] } },
        async () => new Uint8Array(0),
        LIMITS,
      );
    expect((await check('ids[]=1&ids[]=2')).action).toBe('pass');
    expect(where(await check('ids[]=11'))).toEqual(['query/ids[]/0 maximum']);
    expect(qs.parse('ids[0]=11').ids).toEqual(['11']);
    expect(where(await check('ids[0]=11'))).toEqual(['query/ids[0] bracketed-alias']);
  });
  test('an undeclared bracketed name is not an alias (additionalProperties decides)', async () => {
    expect(where(await post(`${BASE}&other[x]=1`))).toEqual(['body/other[x] additionalProperties']);
  });
});

describe('deepObject: Stripe-style form bodies and anyOf query parameters', () => {
  const VALID =
    `${BASE}&metadata[order_id]=6735&line_items[0][price]=price_123&line_items[0][quantity]=2` +
    '&line_items[1][price]=price_456&line_items[1][quantity]=1&line_items[1][adjustable_quantity][enabled]=true' +
    '&expand[]=customer&expand[]=line_items&payment_method_types[0]=card';
  test('a realistic body passes, read as qs reads it', async () => {
    expect((await post(VALID)).action).toBe('pass');
    const parsed = qs.parse(VALID) as Record<string, unknown>;
    expect(parsed.line_items).toEqual([
      { price: 'price_123', quantity: '2' },
      { price: 'price_456', quantity: '1', adjustable_quantity: { enabled: 'true' } },
    ]);
  });
  test('violations inside are located', async () => {
    expect(where(await post(`${BASE}&line_items[0][price]=p&line_items[0][quantity]=1000`))).toEqual([
      'body/line_items/0/quantity maximum',
    ]);
    expect(where(await post(`${BASE}&line_items[0][price]=p`))).toEqual(['body/line_items/0/quantity required']);
    expect(where(await post(`${BASE}&line_items[0][quantity]=1&line_items[0][colour]=red`))).toEqual([
      'body/line_items/0/colour additionalProperties',
    ]);
    expect(where(await post(`${BASE}&payment_method_types[]=bitcoin`))).toEqual(['body/payment_method_types/0 enum']);
    expect(where(await post(`${BASE}&metadata[order_id]=${'x'.repeat(501)}`))).toContain(
      'body/metadata/order_id maxLength',
    );
  });
  test('metadata= (empty, Stripe clears it) passes; ambiguous shapes are refused', async () => {
    expect((await post(`${BASE}&metadata=`)).action).toBe('pass');
    expect(where(await post(`${BASE}&metadata=&metadata[a]=b`))).toEqual(['body/metadata deepObject']);
    expect(where(await post(`${BASE}&line_items[1][quantity]=1`))).toEqual(['body/line_items deepObject']); // gap at 0
    expect(where(await post(`${BASE}&line_items[0][quantity]=1&line_items[0][quantity]=2`))).toEqual([
      'body/line_items deepObject',
    ]);
    expect(where(await post(`${BASE}&line_items[0]quantity=1`))).toEqual(['body/line_items[0]quantity deepObject']);
  });
  test('anyOf deepObject query: created[gte]=notanumber is refused, a range or a plain integer passes', async () => {
    expect((await run({ path: '/v1/checkout/sessions?created[gte]=1700000000&created[lt]=1800000000' })).action).toBe(
      'pass',
    );
    expect((await run({ path: '/v1/checkout/sessions?created=1700000000' })).action).toBe('pass');
    const bad = await run({ path: '/v1/checkout/sessions?created[gte]=notanumber' });
    expect(status(bad)).toBe(400);
    expect(where(bad)).toContain('query/created anyOf');
    expect(status(await run({ path: '/v1/checkout/sessions?created[gte]=0x10' }))).toBe(400);
    expect(status(await run({ path: '/v1/checkout/sessions?created[since]=1' }))).toBe(400);
  });
  test('deepObject array in the query: expand[]=a&expand[]=b is read as an array and its items validated', async () => {
    expect((await run({ path: '/v1/checkout/sessions?expand[]=customer&expand[]=line_items' })).action).toBe('pass');
    expect(where(await run({ path: `/v1/checkout/sessions?expand[]=customer&expand[]=${'x'.repeat(5001)}` }))).toEqual([
      'query/expand/1 maxLength',
    ]);
  });
});

describe('body presence from the body, not the headers', () => {
  test('a body without Content-Length nor Transfer-Encoding (HTTP/2) is read and validated', async () => {
    const v = await post('mode=bogus&success_url=x', { unframed: true });
    expect(where(v)).toEqual(['body/mode enum']);
    expect(v.reads).toEqual([unframedReadLimit(LIMITS)]); // read once
    expect((await post(BASE, { unframed: true })).action).toBe('pass');
  });
  test('an unframed body on an operation that defines none is refused; an empty one is no body', async () => {
    expect(where(await run({ path: '/v1/checkout/sessions', body: 'x=1', unframed: true }))).toEqual([
      'body unexpected-body',
    ]);
    expect((await run({ path: '/v1/checkout/sessions', body: '', unframed: true })).action).toBe('pass');
    expect(where(await post('', { unframed: true }))).toEqual(['body required']);
  });
  test('a chunked body over max_body_size: 413, read with the margin (not 500)', async () => {
    const big = `${BASE}&customer_email=${'a'.repeat(LIMITS.maxBodySize)}`;
    const v = await post(big, { unframed: true, headers: { ...FORM, 'transfer-encoding': ['chunked'] } });
    expect(status(v)).toBe(413);
    expect(v.reads).toEqual([unframedReadLimit(LIMITS)]);
    expect(unframedReadLimit(LIMITS)).toBeGreaterThan(LIMITS.maxBodySize);
  });
});
