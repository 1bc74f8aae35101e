// bulwark-docs `filter: authz` through the Kong emulator with the real plugin server (ours, or the stock one with
// BULWARK_PLUGINSERVER=stock): a route protected by bulwark-jwt (HS256 tokens with scopes and groups), bulwark-authz
// and bulwark-docs with the same rules; each caller's document lists the operations bulwark-authz allows it.
import { startEchoUpstream } from '../../../kong/echo-upstream/server';
import type { EmulatedResponse } from '../../../kong/emulator/kong';
import { startGatewayServer, type RunningGateway } from '../../../kong/emulator/gateway';
import {
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  serverKind,
  type Gateway,
} from '../../helpers/emulator';
import { PETSTORE_INTERNAL_FILE } from './fixtures';
import { epochSeconds, hs256Token } from '../../helpers/hs256';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const SECRET = 'bulwark-docs-authz-test-secret-of-32-bytes+';
const ISSUER = 'https://idp.example.com';
const AUDIENCE = 'pets-api';

function token(claims: Record<string, unknown>): string {
  const now = epochSeconds();
  return hs256Token({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, ...claims }, SECRET);
}

// The API route's rules, given to its bulwark-authz and (the same list) to bulwark-docs on the docs route. The docs
// have their own route because this bulwark-authz checks its rules against the OpenAPI document (openapi, for
// operation_id), which has no docs paths to write a rule for.
const RULES = [
  { name: 'list-pets', methods: ['GET'], path: '/v2/pets', scopes_all: ['pets:read'] },
  { name: 'add-pet', operation_id: 'addPet', scopes_all: ['pets:write'] },
  { name: 'read-pet', methods: ['GET'], path: '/v2/pets/{id}', groups_any: ['staff'] },
  // Object level: staff delete only their own pets: 'conditional', listed.
  {
    name: 'delete-own-pet',
    methods: ['DELETE'],
    path: '/v2/pets/{id}',
    groups_any: ['staff'],
    objects: [{ param: 'id', equals: 'subject' }],
  },
];

const READER = token({ sub: 'reader', scope: 'pets:read pets:write' });
const STAFF = token({ sub: 'staff-1', groups: ['staff'] });
const NOBODY = token({ sub: 'nobody' });

let gw: RunningGateway;
let closeEcho: () => Promise<void>;
const logs: string[] = [];
beforeAll(async () => {
  const echo = await startEchoUpstream(0);
  closeEcho = () => echo.close();
  const spec = JSON.stringify(PETSTORE_INTERNAL_FILE);
  const rules = JSON.stringify(RULES);
  const jwt = JSON.stringify({
    issuers: [{ issuer: ISSUER, secrets: [SECRET], algorithms: ['HS256'], audiences: [AUDIENCE] }],
  });
  gw = await startGatewayServer({
    declarativeConfig: `
_format_version: "3.0"
services:
  - name: pets
    url: http://echo:8080
    routes:
      - { name: pets, paths: ["/v2"], strip_path: false }
      - { name: pets-docs, paths: ["/v2/docs"], strip_path: false }
      - { name: open, paths: ["/open"], strip_path: false }
plugins:
  - name: bulwark-jwt
    route: pets
    config: ${jwt}
  - name: bulwark-jwt
    route: pets-docs
    config: ${jwt}
  - name: bulwark-authz
    route: pets
    config: { rules: ${rules}, openapi: { spec_file: ${spec} } }
  - name: bulwark-docs
    route: pets-docs
    config: { openapi: { spec_file: ${spec} }, path: /v2/docs, filter: authz, authz: { rules: ${rules} } }
  - name: bulwark-docs
    route: open
    config: { openapi: { spec_file: ${spec} }, path: /open/docs, filter: authz, authz: { rules: ${rules} } }
`,
    proxyPort: 0,
    adminPort: 0,
    plugins: ['bulwark-jwt', 'bulwark-authz', 'bulwark-docs'],
    server: serverKind(),
    upstreamAliases: { echo: { host: '127.0.0.1', port: echo.port } },
    onLog: (l: string) => logs.push(l),
  });
}, 120_000);
afterAllNoFailOpen(() => [
  gw ? ({ kong: gw.kong, stop: async () => (await gw.close(), await closeEcho()) } as unknown as Gateway) : undefined,
]);

async function get(path: string, bearer?: string): Promise<EmulatedResponse> {
  const res = await gw.kong.request({
    method: 'GET',
    path,
    headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
  });
  expect(res.report.failOpen).toEqual([]);
  return res;
}
const operationsOf = (res: EmulatedResponse): string[] => {
  const doc = JSON.parse(res.body.toString()) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.keys(item)
      .filter((k) => /^(get|put|post|delete|patch|head|options|trace)$/.test(k))
      .map((m) => `${m.toUpperCase()} ${p}`),
  );
};

describe("filter: authz (the operations the route's bulwark-authz rules allow each caller)", () => {
  test('two callers with different scopes / groups see different operations; a caller with neither sees none', async () => {
    const reader = await get('/v2/docs/openapi.json', READER);
    expect(reader.status).toBe(200);
    expect(operationsOf(reader)).toEqual(['GET /pets', 'POST /pets']);
    const staff = await get('/v2/docs/openapi.json', STAFF);
    expect(staff.status).toBe(200);
    // DELETE is granted for the caller's own pets only (object level): 'conditional', listed.
    expect(operationsOf(staff)).toEqual(['GET /pets/{id}', 'DELETE /pets/{id}']);
    const nobody = await get('/v2/docs/openapi.json', NOBODY);
    expect(nobody.status).toBe(200);
    expect(operationsOf(nobody)).toEqual([]);
    expect(new Set([reader, staff, nobody].map((r) => r.headers.first('etag'))).size).toBe(3);
    expect(staff.headers.first('cache-control')).toBe('private, no-cache');
  });

  test('what the document lists, bulwark-authz lets through (and what it leaves out, it refuses)', async () => {
    expect((await get('/v2/pets', READER)).status).toBe(200);
    expect((await get('/v2/pets', STAFF)).status).toBe(403);
    expect((await get('/v2/pets/7', STAFF)).status).toBe(200);
    expect((await get('/v2/pets/7', READER)).status).toBe(403);
  });

  test('without a token bulwark-jwt refuses the document (401); bulwark-docs never runs', async () => {
    const res = await get('/v2/docs/openapi.json');
    expect(res.status).toBe(401);
    expect(res.report.pdkCalls.some(([p]) => p === 'bulwark-docs')).toBe(false);
  });

  test('no caller identity (a route without an authentication plugin): 403, the reason logged, nothing listed', async () => {
    const res = await get('/open/docs/openapi.json');
    expect(res.status).toBe(403);
    expect(res.body.toString()).not.toContain('/pets');
    expect(logs.some((l) => l.includes('"reason":"docs_no_identity"'))).toBe(true);
  });

  test('RPC budget: the filtered document costs getPath, getMethod, one identity read, getHeader, the allow record (+ exit)', async () => {
    const res = await get('/v2/docs/openapi.json', STAFF);
    const calls = res.report.pdkCalls
      .filter(([p, m]) => p === 'bulwark-docs' && m !== 'kong.response.exit')
      .map(([, m]) => m);
    expect(calls).toEqual([
      'kong.request.get_path',
      'kong.request.get_method',
      'kong.ctx.shared.get',
      'kong.request.get_header',
      'kong.log.set_serialize_value',
    ]);
  });
});
