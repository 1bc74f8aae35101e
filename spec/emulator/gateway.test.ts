// The local gateway's proxy and Admin API subset over real HTTP, with the real plugin server.
import * as http from 'node:http';
import { startGatewayServer, RunningGateway } from '../../kong/emulator/gateway';
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import { fixturePluginsRoot, serverKind, BOTH_PLUGIN_SERVERS, runsOnPluginServers } from '../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function call(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { ...(payload && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const CONFIG = `
_format_version: "3.0"
services:
  - name: echo
    url: http://echo:8080/base
    routes:
      - name: api
        paths: ["/api"]
      - name: https-only
        paths: ["/secure"]
        protocols: ["https"]
`;

describe('npm run gateway: proxy and Admin API over HTTP', () => {
  let gw: RunningGateway;
  let echo: { port: number; close(): Promise<void> };
  beforeAll(async () => {
    echo = await startEchoUpstream(0);
    gw = await startGatewayServer({
      declarativeConfig: CONFIG,
      proxyPort: 0,
      adminPort: 0,
      pluginsRoot: fixturePluginsRoot,
      plugins: ['probe', 'probe-late'],
      server: serverKind(),
      upstreamAliases: { echo: { host: '127.0.0.1', port: echo.port } },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await echo?.close();
  });

  test("proxies a matched request to the service with strip_path and the service path, and Kong's upstream headers", async () => {
    const res = await call(gw.proxyPort, 'GET', '/api/items?x=1', undefined, { 'X-Client': 'yes' });
    expect(res.status).toBe(200);
    const seen = res.json();
    expect(seen.path).toBe('/base/items');
    expect(seen.headers['x-client']).toBe('yes');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(res.headers.via).toBe('1.1 kong/3.9.3');
    expect(res.headers['x-kong-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  test('kong/templates/nginx_kong.lua `underscores_in_headers on`: a header with underscores reaches the upstream as sent', async () => {
    const res = await call(gw.proxyPort, 'GET', '/api', undefined, { X_Forwarded_User: 'admin' });
    expect(res.json().headers.x_forwarded_user).toBe('admin');
  });

  test('mp_rpc.lua packs a header as the str of its bytes: raw bytes that are not UTF-8 reach the plugin server as sent', async () => {
    // Node writes this header text as latin1: the bytes e0 "<script>" c0 af a0 go on the wire.
    const created = await call(gw.adminPort, 'POST', '/routes/api/plugins', { name: 'probe', config: {} });
    expect(created.status).toBe(201);
    const probe = JSON.stringify([['request.getHeader', 'x-raw']]);
    const res = await call(gw.proxyPort, 'GET', '/api', undefined, {
      'x-probe-access': probe,
      'x-raw': '\xe0<script>\xc0\xaf\xa0',
    });
    const results = JSON.parse(res.json().headers['x-probe-results'] as string) as { results: unknown[] };
    if (serverKind() === 'bulwark') {
      // Each byte of a bad sequence as U+DC00 + byte (plugins/lib/kong-strings.ts).
      expect(results.results).toEqual(['\uDCE0<script>\uDCC0\uDCAF\uDCA0']);
    } else {
      // The stock server's lenient decoding: 0xe0 takes "<s" with it, c0 af becomes "/".
      expect(JSON.stringify(results.results)).not.toContain('<script>');
    }
    expect((await call(gw.adminPort, 'DELETE', `/plugins/${created.json().id as string}`)).status).toBe(204);
  });

  test('runloop/handler.lua: unmatched → 404 "no Route matched with those values"; https-only route over http → 426', async () => {
    const nf = await call(gw.proxyPort, 'GET', '/none');
    expect(nf.status).toBe(404);
    expect(nf.json().message).toBe('no Route matched with those values');
    const up = await call(gw.proxyPort, 'GET', '/secure');
    expect(up.status).toBe(426);
    expect(up.json()).toEqual({ message: 'Please use HTTPS protocol' });
  });

  test('Admin API: GET /status and GET / list the loaded plugins', async () => {
    expect((await call(gw.adminPort, 'GET', '/status')).status).toBe(200);
    const root = (await call(gw.adminPort, 'GET', '/')).json();
    expect(Object.keys(root.plugins.available_on_server).sort()).toEqual(['probe', 'probe-late']);
  });

  test('Admin API: create, update and delete a route plugin, applied live with new instances', async () => {
    const created = await call(gw.adminPort, 'POST', '/routes/api/plugins', { name: 'probe', config: { tag: 'v1' } });
    expect(created.status).toBe(201);
    const plugin = created.json();
    expect(plugin.config).toMatchObject({ tag: 'v1', mode: 'normal', limit: 10 });
    const probeCall = () => call(gw.proxyPort, 'GET', '/api', undefined, { 'x-probe-access': '[]' });
    expect(JSON.parse((await probeCall()).json().headers['x-probe-results']).config.tag).toBe('v1');

    const patched = await call(gw.adminPort, 'PATCH', `/plugins/${plugin.id}`, { config: { tag: 'v2' } });
    expect(patched.status).toBe(200);
    expect(patched.json().config).toMatchObject({ tag: 'v2', limit: 10 });
    expect(JSON.parse((await probeCall()).json().headers['x-probe-results']).config.tag).toBe('v2');

    const listed = (await call(gw.adminPort, 'GET', '/routes/api/plugins')).json();
    expect(listed.data.map((p: { id: string }) => p.id)).toEqual([plugin.id]);

    expect((await call(gw.adminPort, 'DELETE', `/plugins/${plugin.id}`)).status).toBe(204);
    expect((await probeCall()).json().headers['x-probe-results']).toBeUndefined();
  });

  test('Admin API: a bad plugin config is a 400 schema violation naming the field', async () => {
    const res = await call(gw.adminPort, 'POST', '/plugins', { name: 'probe', config: { limit: 'many' } });
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({
      code: 2,
      name: 'schema violation',
      fields: { config: { limit: expect.any(String) } },
    });
    const unknown = await call(gw.adminPort, 'POST', '/plugins', { name: 'nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.json().message).toMatch(/plugin 'nope' not enabled/);
  });

  test('Admin API form bodies cannot pollute Object.prototype: `__proto__.route` / `__proto__.exited` are unknown fields', async () => {
    // A service-scoped plugin that must keep running (lookupConfig compares entity.route with undefined).
    const scoped = await call(gw.adminPort, 'POST', '/services/echo/plugins', {
      name: 'probe',
      config: { tag: 'svc' },
    });
    expect(scoped.status).toBe(201);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const body of [
      'name=probe&__proto__.route=zzz',
      'name=probe&__proto__.exited=1',
      'name=probe&constructor.prototype.route=zzz',
    ]) {
      const res = await call(gw.adminPort, 'POST', '/plugins', body, form);
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ code: 2, name: 'schema violation' });
      expect(res.json().fields).toHaveProperty([body.split('&')[1].split('.')[0]], 'unknown field');
    }
    const nested = await call(gw.adminPort, 'POST', '/plugins', 'name=probe&config.__proto__.tag=x', form);
    expect(nested.status).toBe(400);
    expect(({} as Record<string, unknown>).route).toBeUndefined();
    expect(({} as Record<string, unknown>).exited).toBeUndefined();
    const res = await call(gw.proxyPort, 'GET', '/api', undefined, { 'x-probe-access': '[]' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.json().headers['x-probe-results']).config.tag).toBe('svc');
    expect((await call(gw.adminPort, 'DELETE', `/plugins/${scoped.json().id}`)).status).toBe(204);
  });

  test('Admin API: consumers can be created, fetched by username and deleted', async () => {
    const c = await call(gw.adminPort, 'POST', '/consumers', { username: 'bob' });
    expect(c.status).toBe(201);
    expect((await call(gw.adminPort, 'GET', '/consumers/bob')).json().id).toBe(c.json().id);
    expect((await call(gw.adminPort, 'POST', '/consumers', { username: 'bob' })).status).toBe(409);
    const scoped = await call(gw.adminPort, 'POST', '/consumers/bob/plugins', {
      name: 'probe-late',
      config: { tag: 'bob' },
    });
    expect(scoped.status).toBe(201);
    expect(scoped.json().consumer).toEqual({ id: c.json().id });
    expect((await call(gw.adminPort, 'DELETE', '/consumers/bob')).status).toBe(204);
    expect((await call(gw.adminPort, 'GET', '/consumers/bob')).status).toBe(404);
    expect((await call(gw.adminPort, 'GET', `/plugins/${scoped.json().id}`)).status).toBe(404);
  });

  test('Admin API routes: read-only services and routes, unknown paths and scopes, PUT creates under the given id', async () => {
    expect((await call(gw.adminPort, 'GET', '/services/echo')).json().name).toBe('echo');
    expect((await call(gw.adminPort, 'GET', '/services')).json().data.length).toBeGreaterThan(0);
    expect((await call(gw.adminPort, 'PUT', '/services/echo', { url: 'http://x' })).status).toBe(405);
    expect((await call(gw.adminPort, 'POST', '/routes/api/anything', {})).status).toBe(405);
    expect((await call(gw.adminPort, 'GET', '/nowhere')).status).toBe(404);
    expect((await call(gw.adminPort, 'GET', '/services/nope/plugins')).status).toBe(404);
    expect((await call(gw.adminPort, 'GET', '/schemas/plugins/probe')).status).toBe(200);
    const id = '6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c';
    const put = await call(gw.adminPort, 'PUT', `/plugins/${id}`, { name: 'probe', config: { tag: 'put' } });
    expect(put.status).toBe(200);
    expect(put.json()).toMatchObject({ id, config: { tag: 'put' } });
    expect(
      (await call(gw.adminPort, 'PATCH', '/plugins/6f1c2b3a-0d4e-4f5a-8b6c-000000000000', { config: {} })).status,
    ).toBe(404);
    expect((await call(gw.adminPort, 'DELETE', `/plugins/${id}`)).status).toBe(204);
  });
});
