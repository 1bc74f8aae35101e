// bulwark-validator availability through the Kong emulator and the real plugin server: one hostile request or one
// broken document must not stall the event loop that every plugin of the server shares. Documents: the real
// public ones of spec/fixtures/openapi (sources and licences in its README).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as zlib from 'node:zlib';
import {
  startGateway,
  Gateway,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const FIXTURES = path.join(__dirname, '../../fixtures/openapi');
const GALAXY = path.join(FIXTURES, 'scalar-galaxy/galaxy-3.1.json');

const REDOS_SPEC = JSON.stringify({
  openapi: '3.0.3',
  info: { title: 'redos', version: '1' },
  paths: {
    '/redos/search': {
      get: { parameters: [{ name: 'q', in: 'query', schema: { type: 'string', pattern: '^(a+)+$' } }] },
    },
  },
});

const BROKEN_OP_SPEC = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 'broken operation', version: '1' },
  paths: {
    '/bops/ok': { get: {} },
    // Passes the load-time checks (3.1 may name another resource by URI); Ajv cannot resolve it on first use.
    '/bops/broken': {
      post: {
        requestBody: { content: { 'application/json': { schema: { $ref: 'https://elsewhere.example/schema.json' } } } },
      },
    },
  },
});

function config(githubFile: string): string {
  return `
_format_version: "3.0"
services:
  - name: svc
    url: ECHO
    routes:
      - { name: redos, paths: ["/redos"], strip_path: false }
      - { name: other, paths: ["/other"], strip_path: false }
      - { name: bops, paths: ["/bops"], strip_path: false }
      - { name: galaxy, paths: ["/galaxy"], strip_path: false }
      - { name: github, paths: ["/gh"], strip_path: false }
plugins:
  - name: bulwark-validator
    route: redos
    config:
      openapi: { spec: ${JSON.stringify(REDOS_SPEC)} }
  - name: bulwark-transport
    route: other
    config: { https: { enforce: false } }
  - name: bulwark-validator
    route: bops
    config:
      openapi: { spec: ${JSON.stringify(BROKEN_OP_SPEC)} }
  - name: bulwark-validator
    route: galaxy
    config:
      openapi: { spec_file: ${JSON.stringify(GALAXY)}, base_paths: ["/galaxy"], load_mode: lenient }
  - name: bulwark-validator
    route: github
    config:
      openapi: { spec_file: ${JSON.stringify(githubFile)}, base_paths: ["/gh"] }
`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('bulwark-validator availability (emulator + real plugin server)', () => {
  let gw: Gateway;
  let tmp: string;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-gh-'));
    const githubFile = path.join(tmp, 'api.github.com.json');
    fs.writeFileSync(
      githubFile,
      zlib.gunzipSync(fs.readFileSync(path.join(FIXTURES, 'github/api.github.com.json.gz'))),
    );
    gw = await startGateway({ plugins: ['bulwark-validator', 'bulwark-transport'] });
    gw.configure(config(githubFile));
  });
  afterAllNoFailOpen(() => [gw]);
  afterAll(async () => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const timedRequest = async (r: Parameters<Gateway['kong']['request']>[0]) => {
    const t0 = performance.now();
    const res = await gw.kong.request(r);
    return { res, ms: performance.now() - t0 };
  };

  test('a ReDoS pattern attack on route A does not delay a request to route B served by another plugin', async () => {
    const attackPath = `/redos/search?q=${'a'.repeat(29)}!`;
    // Start both instances (and warm both emulated workers) before measuring.
    for (let i = 0; i < 2; i++) {
      expect((await gw.kong.request({ path: '/redos/search?q=aaa' })).status).toBe(200);
      expect((await gw.kong.request({ path: '/other' })).status).toBe(200);
    }
    const alone: number[] = [];
    for (let i = 0; i < 5; i++) alone.push((await timedRequest({ path: '/other' })).ms);
    // On V8's backtracking engine each attack blocks the plugin server for seconds; B would wait for all three.
    const attacks = [1, 2, 3].map(() => timedRequest({ path: attackPath }));
    const b = await timedRequest({ path: '/other' });
    const done = await Promise.all(attacks);
    for (const a of done) {
      expect(a.res.status).toBe(400);
      expect(JSON.parse(a.res.body.toString()).errors[0]).toMatchObject({ location: 'query/q', rule: 'pattern' });
    }
    expect(b.res.status).toBe(200);
    expect(b.ms).toBeLessThan(20 * median(alone));
  }, 120_000);

  test('an operation whose schema does not compile answers 500 with a log line naming it; other operations work', async () => {
    expect((await gw.kong.request({ path: '/bops/ok' })).status).toBe(200);
    const post = () =>
      gw.kong.request({
        method: 'POST',
        path: '/bops/broken',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
    const first = await post();
    expect(first.status).toBe(500);
    expect(first.report.upstreamRequest).toBeUndefined();
    expect(first.report.failOpen).toEqual([]);
    const second = await post();
    expect(second.status).toBe(500);
    const lines = gw.kong.log.filter((l) => l.includes('"event":"operation_schema_invalid"'));
    expect(lines.length).toBe(2);
    expect(lines[0]).toContain('"location":"paths./bops/broken.post.requestBody.content.application/json.schema"');
    expect(lines[0]).toContain("can't resolve reference https://elsewhere.example/schema.json");
    expect((await gw.kong.request({ path: '/bops/ok' })).status).toBe(200);
  });

  test("lenient load of Scalar's Galaxy (3.1, one meta-schema violation): served, and the violation logged once with its location", async () => {
    const ok = await gw.kong.request({
      method: 'POST',
      path: '/galaxy/planets',
      body: '{"name":"Mars"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(ok.status).toBe(200);
    const bad = await gw.kong.request({
      method: 'POST',
      path: '/galaxy/planets',
      body: '{"name":7}',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    const lines = gw.kong.log.filter((l) => l.includes('"event":"document_loaded_leniently"'));
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain(
      'paths./planets/{planetId}/image.post.requestBody.content.multipart/form-data.schema.properties.image.examples',
    );
    expect(lines[0]).toContain('"problems_total":1');
  });

  test("GitHub's 1,223-operation document (spec_file, 13 MB) starts and validates through Kong", async () => {
    const repo = await gw.kong.request({ path: '/gh/repos/octocat/hello-world' });
    expect(repo.status).toBe(200);
    const create = (body: string) =>
      gw.kong.request({
        method: 'POST',
        path: '/gh/repos/octocat/hello-world/issues',
        body,
        headers: { 'content-type': 'application/json' },
      });
    expect((await create('{"title":"Found a bug"}')).status).toBe(200);
    const bad = await create('{"body":"no title"}');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).errors).toContainEqual(
      expect.objectContaining({ location: 'body/title', rule: 'required' }),
    );
    expect((await gw.kong.request({ path: '/gh/no/such/api' })).status).toBe(404);
  }, 120_000);
});
