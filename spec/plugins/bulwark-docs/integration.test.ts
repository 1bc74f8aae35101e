// bulwark-docs through the Kong emulator with the real plugin server (ours, or the stock one with
// BULWARK_PLUGINSERVER=stock): behind bulwark-api-key on the route, before bulwark-validator; the redacted document
// filtered per caller, ETag / If-None-Match, Cache-Control, the page's CSP, the UI files from the npm package, the
// RPC budget of handler.ts.
import type { EmulatedResponse } from '../../../kong/emulator/kong';
import { afterAllNoFailOpen, BOTH_PLUGIN_SERVERS, runsOnPluginServers, type Gateway } from '../../helpers/emulator';
import { ADMIN, DOCS_PATH, READER, startDocsGateway, type DocsGateway } from './gateway';
import { PLANTED_SECRETS } from './fixtures';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

let docs: DocsGateway;
beforeAll(async () => {
  docs = await startDocsGateway();
}, 120_000);
// The suite's fail-open check over the emulator behind the HTTP gateway.
afterAllNoFailOpen(() => [docs ? ({ kong: docs.gw.kong, stop: () => docs.close() } as unknown as Gateway) : undefined]);

async function get(path: string, headers: Record<string, string> = {}): Promise<EmulatedResponse> {
  const res = await docs.gw.kong.request({ method: 'GET', path, headers });
  expect(res.report.failOpen).toEqual([]);
  return res;
}
const withKey = (key: string, extra: Record<string, string> = {}) => ({ 'x-api-key': key, ...extra });
const header = (res: EmulatedResponse, name: string) => res.headers.first(name);
const operationsOf = (res: EmulatedResponse): string[] => {
  const doc = JSON.parse(res.body.toString()) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`));
};
/** bulwark-docs' PDK calls, without the final exit (kong-pdk does not wait for its reply: racy in the report). */
const docsCalls = (res: EmulatedResponse) =>
  res.report.pdkCalls.filter(([p, m]) => p === 'bulwark-docs' && m !== 'kong.response.exit').map(([, m]) => m);

describe('behind the route authentication', () => {
  test.each([DOCS_PATH, `${DOCS_PATH}/openapi.json`, `${DOCS_PATH}/assets/swagger-ui-bundle.js`])(
    'without a key %s is refused by bulwark-api-key (401), bulwark-docs never runs',
    async (path) => {
      const res = await get(path);
      expect(res.status).toBe(401);
      expect(res.report.exitedBy).toBe('bulwark-api-key');
      expect(res.report.pdkCalls.some(([p]) => p === 'bulwark-docs')).toBe(false);
    },
  );
});

describe('the document, filtered per caller', () => {
  test('a reader gets the read operations and the public one; an admin gets every public operation', async () => {
    const reader = await get(`${DOCS_PATH}/openapi.json`, withKey(READER.key));
    expect(reader.status).toBe(200);
    expect(header(reader, 'content-type')).toBe('application/json; charset=utf-8');
    expect(operationsOf(reader)).toEqual(['GET /pets', 'GET /pets/{id}', 'GET /health']);
    const admin = await get(`${DOCS_PATH}/openapi.json`, withKey(ADMIN.key));
    expect(operationsOf(admin)).toEqual([
      'GET /pets',
      'POST /pets',
      'GET /pets/{id}',
      'DELETE /pets/{id}',
      'GET /health',
    ]);
    expect(header(admin, 'etag')).not.toEqual(header(reader, 'etag'));
  });

  test('redacted: no internal operation, server or secret example reaches the caller', async () => {
    const res = await get(`${DOCS_PATH}/openapi.json`, withKey(ADMIN.key));
    const text = res.body.toString();
    for (const s of [...PLANTED_SECRETS, 'reindex', 'pets-backend.internal', '10.20.0.7', 'x-internal', 'arn:aws'])
      expect(text).not.toContain(s);
    expect(JSON.parse(text).servers).toEqual([
      { url: 'https://petstore.swagger.io/v2' },
      { url: 'https://api.example.com/v2' },
    ]);
  });

  test('Cache-Control private (per caller), ETag, and 304 on If-None-Match with no body', async () => {
    const first = await get(`${DOCS_PATH}/openapi.json`, withKey(READER.key));
    expect(header(first, 'cache-control')).toBe('private, no-cache');
    const etag = header(first, 'etag') as string;
    expect(etag).toMatch(/^"[\w-]+\.[\w-]+"$/);
    const again = await get(`${DOCS_PATH}/openapi.json`, withKey(READER.key, { 'if-none-match': etag }));
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(header(again, 'etag')).toBe(etag);
    // Another caller's ETag does not match: the admin gets its own document.
    const other = await get(`${DOCS_PATH}/openapi.json`, withKey(ADMIN.key, { 'if-none-match': etag }));
    expect(other.status).toBe(200);
  });

  test('filter: none serves the whole redacted document, cacheable as one (no private)', async () => {
    const res = await get('/all/docs/openapi.json');
    expect(res.status).toBe(200);
    expect(header(res, 'cache-control')).toBe('no-cache');
    expect(operationsOf(res)).toHaveLength(5);
  });

  test('RPC budget: document 6 (getPath, getMethod, readIdentity, getHeader, the allow record, exit); a non-docs request 1 + the decision record', async () => {
    const res = await get(`${DOCS_PATH}/openapi.json`, withKey(READER.key));
    expect(docsCalls(res)).toEqual([
      'kong.request.get_path',
      'kong.request.get_method',
      'kong.ctx.shared.get',
      'kong.request.get_header',
      'kong.log.set_serialize_value',
    ]);
    const api = await get('/v2/pets?limit=1', withKey(READER.key));
    expect(api.status).toBe(200);
    expect(docsCalls(api)).toEqual(['kong.request.get_path', 'kong.log.set_serialize_value']);
  });
});

describe('the page and the UI files', () => {
  test('the page: Swagger UI from this gateway, the document URL fixed, a nonce CSP without unsafe-inline, browser headers', async () => {
    const res = await get(DOCS_PATH, withKey(READER.key));
    expect(res.status).toBe(200);
    const csp = header(res, 'content-security-policy') as string;
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)![1]!;
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("connect-src 'self'");
    const html = res.body.toString();
    expect(html).toContain(`<script nonce="${nonce}" src="${DOCS_PATH}/assets/swagger-ui-bundle.js">`);
    expect(html).toContain(`"url":"${DOCS_PATH}/openapi.json"`);
    expect(html).toContain('"queryConfigEnabled":false');
    expect(html).not.toMatch(/https?:\/\//);
    expect(header(res, 'cache-control')).toBe('no-store');
    expect(header(res, 'x-frame-options')).toBe('DENY');
    expect(header(res, 'x-content-type-options')).toBe('nosniff');
    expect(header(res, 'cross-origin-opener-policy')).toBe('same-origin');
    // A fresh nonce per response.
    const again = await get(DOCS_PATH, withKey(READER.key));
    expect(header(again, 'content-security-policy')).not.toBe(csp);
  });

  test('?url= changes nothing: the page is the same apart from the nonce', async () => {
    const plain = (await get(DOCS_PATH, withKey(READER.key))).body.toString().replace(/nonce="[^"]*"/g, '');
    const withUrl = (
      await get(`${DOCS_PATH}?url=https://evil.example/spec.json&configUrl=https://evil.example/c`, withKey(READER.key))
    ).body
      .toString()
      .replace(/nonce="[^"]*"/g, '');
    expect(withUrl).toBe(plain);
  });

  test("the UI files are swagger-ui-dist's own, with ETag; nothing else of the package; other docs paths 404", async () => {
    const js = await get(`${DOCS_PATH}/assets/swagger-ui-bundle.js`, withKey(READER.key));
    expect(js.status).toBe(200);
    expect(header(js, 'content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.body.length).toBeGreaterThan(1_000_000);
    expect(js.body.toString()).not.toContain('sourceMappingURL=swagger-ui-bundle.js.map');
    const etag = header(js, 'etag') as string;
    expect(
      (await get(`${DOCS_PATH}/assets/swagger-ui-bundle.js`, withKey(READER.key, { 'if-none-match': etag }))).status,
    ).toBe(304);
    expect((await get(`${DOCS_PATH}/assets/swagger-ui.css`, withKey(READER.key))).status).toBe(200);
    for (const p of ['/assets/package.json', '/assets/../../etc/passwd', '/assets/index.html', '/other'])
      expect([p, (await get(`${DOCS_PATH}${p}`, withKey(READER.key))).status]).toEqual([p, 404]);
  });

  test('methods other than GET and HEAD: 405 with Allow', async () => {
    const res = await docs.gw.kong.request({
      method: 'POST',
      path: `${DOCS_PATH}/openapi.json`,
      headers: withKey(READER.key),
    });
    expect(res.status).toBe(405);
    expect(res.headers.first('allow')).toBe('GET, HEAD');
  });

  test('bulwark-validator still guards the API on the same route (docs paths never reach it)', async () => {
    const res = await docs.gw.kong.request({ method: 'GET', path: '/v2/undocumented', headers: withKey(READER.key) });
    expect(res.status).toBe(404);
    expect(res.report.exitedBy).toBe('bulwark-validator');
  });
});
