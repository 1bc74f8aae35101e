// Redaction of real public OpenAPI documents (spec/fixtures/openapi): x-internal (Redocly semantics), internal
// servers, secret-looking examples, listed extensions, unused components.
import { keyPattern } from '../../../../plugins/bulwark-api-key/key-format';
import {
  isInternalHost,
  operations,
  REDACTED,
  redactDocument,
  type JsonObject,
} from '../../../../plugins/bulwark-docs/redact';
import { PLANTED_SECRETS, petstore, petstoreInternal, uspto } from '../fixtures';

const OPTIONS = {
  publicBaseUrl: 'https://api.example.com/v2',
  removeExtensions: ['x-amazon-apigateway-integration'],
  apiKeyPrefixes: ['bwk_live', 'bwk_test'],
};

const keys = (doc: JsonObject) => operations(doc).map((o) => `${o.method.toUpperCase()} ${o.path}`);

describe('x-internal (Redocly semantics)', () => {
  const doc = redactDocument(petstoreInternal(), OPTIONS);
  const text = JSON.stringify(doc);

  test('internal path items and operations are removed; the rest stay', () => {
    expect(keys(doc)).toEqual(['GET /pets', 'POST /pets', 'GET /pets/{id}', 'DELETE /pets/{id}', 'GET /health']);
    expect(text).not.toContain('reindex');
    expect(text).not.toContain('/audit');
  });

  test('internal parameters and schema properties are removed', () => {
    const paths = doc.paths as Record<string, Record<string, { parameters: { name: string }[] }>>;
    expect(paths['/pets']!.get!.parameters.map((p) => p.name)).toEqual(['tags', 'limit', 'x-api-key']);
    const schemas = (doc.components as Record<string, Record<string, unknown>>).schemas!;
    expect(Object.keys((schemas.NewPet as { properties: object }).properties)).toEqual(['name', 'tag', 'owner']);
    expect(text).not.toContain('internalNotes');
    expect(text).not.toContain('x-internal');
  });

  test('components only internal parts used are pruned, and unused security schemes', () => {
    const components = doc.components as Record<string, Record<string, unknown>>;
    expect(Object.keys(components.schemas!).sort()).toEqual(['Error', 'NewPet', 'Pet']);
    expect(Object.keys(components.securitySchemes!)).toEqual(['oauth']);
  });

  test('internal servers are replaced by the public base URL (once); public ones stay', () => {
    expect(doc.servers).toEqual([{ url: 'https://petstore.swagger.io/v2' }, { url: 'https://api.example.com/v2' }]);
    expect(text).not.toContain('pets-backend.internal');
    expect(text).not.toContain('10.20.0.7');
  });

  test('without a public base URL internal servers are removed', () => {
    const d = redactDocument(petstoreInternal(), { ...OPTIONS, publicBaseUrl: undefined });
    expect(d.servers).toEqual([{ url: 'https://petstore.swagger.io/v2' }]);
  });

  test('listed extensions are removed, others kept', () => {
    expect(text).not.toContain('x-amazon-apigateway-integration');
    expect(text).not.toContain('arn:aws:lambda');
    const kept = redactDocument({ ...petstoreInternal(), 'x-logo': { url: 'https://x/l.png' } }, OPTIONS);
    expect(kept['x-logo']).toEqual({ url: 'https://x/l.png' });
  });

  test('the source document is not modified', () => {
    const source = petstoreInternal();
    const before = JSON.stringify(source);
    redactDocument(source, OPTIONS);
    expect(JSON.stringify(source)).toBe(before);
  });
});

describe('secret-looking examples', () => {
  test('no planted secret survives (API key, JWT, private key, passwords), and no string matches a secret pattern', () => {
    const source = JSON.stringify(petstoreInternal());
    for (const s of PLANTED_SECRETS) expect(source).toContain(s); // the fixture does carry them
    const text = JSON.stringify(redactDocument(petstoreInternal(), OPTIONS));
    for (const s of PLANTED_SECRETS) expect(text).not.toContain(s);
    expect(new RegExp(keyPattern(['bwk_live', 'bwk_test'])).test(text)).toBe(false);
    expect(/eyJ[A-Za-z0-9_-]+\.eyJ/.test(text)).toBe(false);
    expect(/-----BEGIN [A-Z ]*PRIVATE KEY/.test(text)).toBe(false);
    expect(text).toContain(REDACTED);
  });

  test('values around the secrets stay (the example is still useful)', () => {
    const doc = redactDocument(petstoreInternal(), OPTIONS) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const example = doc.paths['/pets'].post.requestBody.content['application/json'].examples.withOwner.value;
    expect(example).toEqual({ name: 'Rex', tag: 'dog', owner: { email: 'ann@example.com', password: REDACTED } });
    expect(doc.paths['/pets/{id}'].get.parameters[1].example).toBe(`Bearer ${REDACTED}`);
    expect(doc.components.schemas.NewPet.properties.owner.properties.password.example).toBe(REDACTED);
  });

  test('a key of a prefix the operator did not list is not taken for a Bulwark key', () => {
    const doc = {
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      paths: { '/a': { get: { description: 'use bwk_live_PlZoQOn7D4hqHZzjAAUZrw8tuTv4VVNe_2SpKr6', responses: {} } } },
    };
    expect(JSON.stringify(redactDocument(doc, { ...OPTIONS, apiKeyPrefixes: ['acme_live'] }))).toContain('bwk_live_');
    expect(JSON.stringify(redactDocument(doc, OPTIONS))).not.toContain('bwk_live_');
  });
});

describe('real documents without internal parts', () => {
  test.each([
    ['petstore', petstore],
    ['uspto', uspto],
  ])('%s: every operation survives unchanged (USPTO\'s non-secret "apiKey" fields included)', (_name, load) => {
    const source = load() as JsonObject;
    const doc = redactDocument(source, OPTIONS);
    expect(keys(doc)).toEqual(keys(source));
    expect(doc.paths).toEqual(source.paths);
    expect(doc.servers).toEqual(source.servers);
  });
});

test('isInternalHost: private, loopback and cluster names are internal; public names and relative URLs are not', () => {
  for (const u of [
    'http://localhost:8080',
    'http://10.1.2.3/',
    'https://172.20.0.1',
    'http://192.168.1.1',
    'http://db',
    'https://api.svc',
    'http://pets.internal:8080/v2',
    'http://[::1]:80/',
    'http://x.cluster.local',
  ])
    expect([u, isInternalHost(u)]).toEqual([u, true]);
  for (const u of ['https://api.example.com/v2', '/v2', '{scheme}://developer.uspto.gov/ds-api', 'https://8.8.8.8/'])
    expect([u, isInternalHost(u)]).toEqual([u, false]);
});
