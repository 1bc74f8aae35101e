#!/usr/bin/env node
// bulwark-validator benchmark, measured side by side in one run (timings on a shared machine are noisy; read
// the ratios, not the absolute numbers):
// 1. per request: the full validation of a JSON request (operation match, parameters, hardened JSON scan,
//    JSON.parse, Ajv) against JSON.parse alone of the same body, for small, medium and large bodies;
// 2. start-up: compile time of a generated OpenAPI document with many operations, per operation.
// Usage: node dist/js/scripts/bench/validator.js [operations=500]
import { performance } from 'node:perf_hooks';
import { compileOpenApi } from '../../plugins/bulwark-validator/openapi';
import { validateOpenApiRequest } from '../../plugins/bulwark-validator/validate';
import { scanJson, DEFAULT_JSON_LIMITS } from '../../plugins/lib/json-guard';
import type { BodyLimits } from '../../plugins/bulwark-validator/request-body';

const ALL = new Set(['path', 'query', 'header', 'cookie', 'body'] as const);

const ITEM = {
  type: 'object',
  required: ['sku', 'qty', 'price'],
  properties: {
    sku: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{1,8}$' },
    qty: { type: 'integer', minimum: 1, maximum: 1000 },
    price: { type: 'number', minimum: 0 },
    note: { type: 'string', maxLength: 200 },
    tags: { type: 'array', items: { type: 'string', maxLength: 20 }, maxItems: 10 },
  },
  additionalProperties: false,
};

function orderDoc() {
  return {
    openapi: '3.0.3',
    info: { title: 'bench', version: '1' },
    servers: [{ url: '/v1' }],
    components: {
      schemas: {
        Item: ITEM,
        Order: {
          type: 'object',
          required: ['customer', 'items'],
          properties: {
            customer: {
              type: 'object',
              required: ['id', 'email'],
              properties: {
                id: { type: 'integer', format: 'int64' },
                email: { type: 'string', format: 'email' },
                name: { type: 'string', nullable: true },
              },
            },
            items: { type: 'array', items: { $ref: '#/components/schemas/Item' }, maxItems: 100000 },
          },
        },
      },
    },
    paths: {
      '/shops/{shopId}/orders': {
        post: {
          parameters: [
            { name: 'shopId', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
            { name: 'dryRun', in: 'query', schema: { type: 'boolean' } },
            { name: 'X-Request-Id', in: 'header', schema: { type: 'string', format: 'uuid' } },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Order' } } },
          },
        },
      },
    },
  };
}

function orderBody(items: number): string {
  const list = Array.from({ length: items }, (_, i) => ({
    sku: `ABC-${i}`,
    qty: (i % 9) + 1,
    price: 9.99,
    note: 'handle with care',
    tags: ['a', 'b'],
  }));
  return JSON.stringify({ customer: { id: 42, email: 'jane@example.com', name: null }, items: list });
}

function generatedDoc(operations: number) {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = { Item: ITEM };
  for (let i = 0; i < operations; i++) {
    schemas[`Thing${i}`] = {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', maxLength: 50 },
        items: { type: 'array', items: { $ref: '#/components/schemas/Item' } },
        n: { type: 'integer', minimum: i },
      },
    };
    const op = {
      operationId: `op${i}`,
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
        { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 100 } },
      ],
      requestBody: { content: { 'application/json': { schema: { $ref: `#/components/schemas/Thing${i}` } } } },
    };
    paths[`/r${Math.floor(i / 2)}/{id}`] = {
      ...(paths[`/r${Math.floor(i / 2)}/{id}`] as object),
      [i % 2 === 0 ? 'post' : 'put']: op,
    };
  }
  return { openapi: '3.0.3', info: { title: 'many', version: '1' }, paths, components: { schemas } };
}

function timePerOp(fn: () => unknown, minMs = 300): number {
  for (let i = 0; i < 20; i++) fn(); // warm-up
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    fn();
    n++;
    t = performance.now();
  }
  return (t - t0) / n;
}

async function timePerOpAsync(fn: () => Promise<unknown>, minMs = 300): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    await fn();
    n++;
    t = performance.now();
  }
  return (t - t0) / n;
}

function fmt(ms: number): string {
  return ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}

async function main(): Promise<void> {
  const operations = Number(process.argv[2] ?? 500);
  const api = compileOpenApi(orderDoc(), { validate: ALL });
  const policy = { api, unknownOperations: 'reject' as const, rejectUnknownQuery: false };
  const limits: BodyLimits = {
    maxBodySize: 64 * 1024 * 1024,
    maxParameters: 100,
    json: { ...DEFAULT_JSON_LIMITS, maxArrayLength: 100000 },
  };

  process.stdout.write('Per request: full validation vs JSON.parse of the same body\n');
  process.stdout.write(
    `${'body'.padEnd(22)}${'JSON.parse'.padStart(12)}${'scan only'.padStart(12)}${'validation'.padStart(12)}${'scan/parse'.padStart(12)}${'valid./parse'.padStart(14)}\n`,
  );
  for (const items of [1, 100, 10000]) {
    const text = orderBody(items);
    const bytes = Buffer.from(text);
    const headers = {
      'content-type': ['application/json'],
      'content-length': [String(bytes.length)],
      'x-request-id': ['123e4567-e89b-12d3-a456-426614174000'],
    };
    const req = { method: 'POST', pathWithQuery: '/v1/shops/7/orders?dryRun=true', headers };
    const verdict = await validateOpenApiRequest(policy, req, async () => bytes, limits);
    if (verdict.action !== 'pass') throw new Error(`bench body does not validate: ${JSON.stringify(verdict)}`);
    const minMs = items >= 10000 ? 1500 : 400;
    const parse = timePerOp(() => JSON.parse(text), minMs);
    const scan = timePerOp(() => scanJson(bytes, limits.json), minMs);
    const full = await timePerOpAsync(() => validateOpenApiRequest(policy, req, async () => bytes, limits), minMs);
    const label = `${items} item(s), ${bytes.length < 10240 ? `${bytes.length} B` : `${(bytes.length / 1024).toFixed(0)} KiB`}`;
    process.stdout.write(
      `${label.padEnd(22)}${fmt(parse).padStart(12)}${fmt(scan).padStart(12)}${fmt(full).padStart(12)}${(scan / parse).toFixed(1).padStart(11)}x${(full / parse).toFixed(1).padStart(13)}x\n`,
    );
  }

  process.stdout.write(
    `\nStart-up: compiling a generated document with ${operations} operations (each: path + query parameter, JSON body with a $ref)\n`,
  );
  const doc = generatedDoc(operations);
  const small = orderDoc();
  const tSmall0 = performance.now();
  compileOpenApi(small, { validate: ALL });
  const smallMs = performance.now() - tSmall0;
  const t0 = performance.now();
  const compiled = compileOpenApi(doc, { validate: ALL });
  const totalMs = performance.now() - t0;
  process.stdout.write(
    `${'document'.padEnd(28)}${'operations'.padStart(12)}${'total'.padStart(12)}${'per operation'.padStart(16)}\n`,
  );
  process.stdout.write(
    `${'orders (1 operation)'.padEnd(28)}${'1'.padStart(12)}${fmt(smallMs).padStart(12)}${fmt(smallMs).padStart(16)}\n`,
  );
  process.stdout.write(
    `${`generated`.padEnd(28)}${String(compiled.operationCount).padStart(12)}${fmt(totalMs).padStart(12)}${fmt(totalMs / compiled.operationCount).padStart(16)}\n`,
  );
  process.stdout.write(
    '(the 1-operation figure includes creating the Ajv instances and their meta-schemas, paid once per document)\n',
  );
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
