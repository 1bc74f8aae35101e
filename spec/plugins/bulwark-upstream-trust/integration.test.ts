// bulwark-upstream-trust end to end: the Kong emulator with the real plugin server signs; real backends (Express,
// Fastify, plain Node) verify with the verifier kit. A request through the gateway is accepted; a direct request,
// a replay, and a request whose path or body was altered after signing are refused.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { KongEmulator } from '../../../kong/emulator/kong';
import { loadDeclarative } from '../../../kong/emulator/declarative';
import { distPluginsDir } from '../../../kong/emulator/plugin-server';
import { fixturePluginsRoot, serverKind, BOTH_PLUGIN_SERVERS, runsOnPluginServers } from '../../helpers/emulator';
import {
  createVerifier,
  expressMiddleware,
  fastifyPlugin,
  verifyNodeRequest,
} from '../../../plugins/bulwark-upstream-trust/verifier';
import { ecKey, edKey } from '../bulwark-oauth2/fixtures';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const ISSUER = 'https://gateway.example.com';
type Res = Awaited<ReturnType<KongEmulator['request']>>;

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A backend: records what it received (before verification), then answers with what the verifier found. */
interface Backend {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** One-line plugin entries in a temporary root: the probe (publishes an identity) next to the built plugin. */
function pluginsRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-ut-plugins-'));
  const entry = (name: string, target: string) => {
    fs.mkdirSync(path.join(root, name));
    fs.writeFileSync(
      path.join(root, name, 'index.js'),
      `'use strict';\nmodule.exports = require(${JSON.stringify(target)});\n`,
    );
  };
  entry('probe', path.join(fixturePluginsRoot, 'probe', 'index.js'));
  entry('bulwark-upstream-trust', path.join(distPluginsDir, 'bulwark-upstream-trust', 'index.js'));
  return root;
}

describe('bulwark-upstream-trust end to end (emulator + real plugin server + verifying backends)', () => {
  const ed = edKey();
  const ec = ecKey('P-256');
  const edKid = 'gw-ed-1';
  const ecKid = 'gw-ec-1';
  let kong: KongEmulator;
  let root: string;
  let expressBackend: Backend;
  let fastifyBackend: Backend & { app: FastifyInstance };
  let nodeBackend: Backend;
  let jwks: { keys: Record<string, unknown>[] };

  const identity = {
    v: 1,
    authenticated: true,
    authenticatedBy: 'bulwark-jwt',
    method: 'jwt',
    subject: 'alice',
    consumer: { id: '8a2d9d0e-6c51-4d8f-9b7a-3e1f2c4d5e6f', username: 'alice' },
    credential: { kind: 'jwt', id: 'tok-1' },
    scopes: ['orders:read'],
    groups: [],
    claims: {},
  };
  const publishIdentity = JSON.stringify([['ctx.shared.set', 'bulwark.identity', identity]]);

  const verifierOptions = (audience: string, format: 'jwt' | 'http-message-signatures' = 'jwt') => ({
    issuer: ISSUER,
    audience,
    format,
    jwks: { keys: jwks.keys },
  });

  beforeAll(async () => {
    root = pluginsRoot();
    kong = await KongEmulator.start({
      server: serverKind(),
      pluginsRoot: root,
      plugins: ['bulwark-upstream-trust', 'probe'],
    });

    // The JWKS the plugin serves is what the backends pin (a fresh config first, then the backends).
    const keys = [JSON.stringify({ ...ed.jwk, kid: edKid }), JSON.stringify({ ...ec.jwk, kid: ecKid })];
    const configure = (ports: { express: number; fastify: number; node: number }) => {
      const trust = (extra: Record<string, unknown>) => ({ issuer: ISSUER, signing_keys: keys, ...extra });
      kong.setConfig(
        loadDeclarative(
          JSON.stringify({
            _format_version: '3.0',
            services: [
              {
                name: 'orders',
                url: `http://127.0.0.1:${ports.express}`,
                routes: [
                  { name: 'orders', paths: ['/orders'], strip_path: false },
                  { name: 'small', paths: ['/small'], strip_path: false },
                ],
              },
              {
                name: 'ledger',
                url: `http://127.0.0.1:${ports.fastify}/v1`,
                routes: [{ name: 'ledger', paths: ['/ledger'], strip_path: true }],
              },
              {
                name: 'billing',
                url: `http://127.0.0.1:${ports.node}`,
                routes: [{ name: 'billing', paths: ['/billing'], strip_path: false }],
              },
              {
                name: 'keys',
                url: `http://127.0.0.1:${ports.node}`,
                routes: [{ name: 'jwks', paths: ['/.well-known/gateway-jwks'] }],
              },
            ],
            plugins: [
              { name: 'probe', route: 'orders' },
              { name: 'bulwark-upstream-trust', service: 'orders', config: trust({}) },
              { name: 'bulwark-upstream-trust', route: 'small', config: trust({ max_body_size: 16 }) },
              { name: 'bulwark-upstream-trust', service: 'ledger', config: trust({ active_key_id: ecKid }) },
              {
                name: 'bulwark-upstream-trust',
                service: 'billing',
                config: trust({ format: 'http-message-signatures' }),
              },
              {
                name: 'bulwark-upstream-trust',
                service: 'keys',
                config: trust({ jwks_path: '/.well-known/gateway-jwks', jwks_max_age: 120 }),
              },
            ],
          }),
          { knownPlugins: new Set(kong.plugins.keys()) },
        ),
      );
    };
    configure({ express: 1, fastify: 1, node: 1 });
    const res = await kong.request({ path: '/.well-known/gateway-jwks' });
    expect(res.status).toBe(200);
    jwks = JSON.parse(res.body.toString('utf8')) as typeof jwks;

    // Express: the middleware first, then the application.
    {
      const received: Received[] = [];
      const app = express();
      app.use((req, _res, next) => {
        received.push({ method: req.method, url: req.originalUrl, headers: { ...req.headers } });
        next();
      });
      app.use(expressMiddleware(verifierOptions('orders')));
      app.use((req, res) => {
        const r = req as typeof req & { bulwark?: { identity: unknown } };
        res.json({
          ok: true,
          url: req.originalUrl,
          identity: r.bulwark?.identity,
          body: Buffer.isBuffer(req.body) ? req.body.toString('utf8') : null,
        });
      });
      const server = http.createServer(app);
      const port = await listen(server);
      expressBackend = { port, received, close: () => closeServer(server) };
    }
    // Fastify: the plugin, then a route; bodies parsed by Fastify from the same bytes.
    {
      const received: Received[] = [];
      const app = Fastify();
      app.addHook('onRequest', async (req) => {
        received.push({ method: req.raw.method ?? '', url: req.raw.url ?? '', headers: { ...req.raw.headers } });
      });
      await app.register(fastifyPlugin(verifierOptions('ledger')) as never);
      app.all('/*', async (req) => ({
        ok: true,
        url: req.raw.url,
        identity: (req as unknown as { bulwark: { identity: unknown } }).bulwark.identity,
        body: req.body ?? null,
      }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as AddressInfo).port;
      fastifyBackend = { app, port, received, close: () => app.close() };
    }
    // Plain Node with the RFC 9421 format.
    {
      const received: Received[] = [];
      const verifier = createVerifier(verifierOptions('billing', 'http-message-signatures'));
      const server = http.createServer((req, res) => {
        received.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
        void verifyNodeRequest(verifier, req, res).then((ok) => {
          if (ok === undefined) return;
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ ok: true, url: req.url, identity: ok.identity, body: ok.body.toString('utf8') }));
        });
      });
      const port = await listen(server);
      nodeBackend = { port, received, close: () => closeServer(server) };
    }
    configure({ express: expressBackend.port, fastify: fastifyBackend.port, node: nodeBackend.port });
  });

  afterAll(async () => {
    await kong?.stop();
    await expressBackend?.close();
    await fastifyBackend?.close();
    await nodeBackend?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const failOpen: unknown[] = [];
  async function viaGateway(r: Parameters<KongEmulator['request']>[0]): Promise<Res> {
    const res = await kong.request(r);
    failOpen.push(...res.report.failOpen);
    return res;
  }
  afterEach(() => expect(failOpen).toEqual([]));

  /** A request straight to a backend port, bypassing the gateway. */
  function direct(
    port: number,
    method: string,
    target: string,
    headers: http.OutgoingHttpHeaders,
    body?: string,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path: target, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          }),
        );
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const json = (res: Res) => JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
  const last = (b: Backend) => b.received[b.received.length - 1]!;
  /** The headers the gateway sent, minus the connection-specific ones, to resend them directly. */
  function resendable(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
    const out: http.OutgoingHttpHeaders = { ...h };
    delete out.connection;
    delete out['content-length'];
    delete out['transfer-encoding'];
    return out;
  }

  test('the JWKS endpoint serves public members only, with Cache-Control', async () => {
    const res = await viaGateway({ path: '/.well-known/gateway-jwks' });
    expect(res.headers.first('cache-control')).toBe('public, max-age=120');
    expect(res.headers.first('content-type')).toBe('application/jwk-set+json');
    expect(jwks.keys.map((k) => k.kid)).toEqual([edKid, ecKid]);
    for (const k of jwks.keys) for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(k).not.toHaveProperty(m);
    expect(res.report.upstreamRequest).toBeUndefined();
    expect((await viaGateway({ method: 'POST', path: '/.well-known/gateway-jwks' })).status).toBe(405);
  });

  test('Express: accepted through the gateway, with the identity the authenticating plugin published', async () => {
    const res = await viaGateway({ path: '/orders/7?limit=5', headers: { 'x-probe-access': publishIdentity } });
    expect(res.status).toBe(200);
    expect(json(res)).toMatchObject({
      ok: true,
      url: '/orders/7?limit=5',
      identity: { subject: 'alice', scopes: ['orders:read'] },
    });
    const post = await viaGateway({
      method: 'POST',
      path: '/orders',
      headers: { 'content-type': 'application/json' },
      body: '{"item":"book"}',
    });
    expect(post.status).toBe(200);
    expect(json(post)).toMatchObject({ ok: true, body: '{"item":"book"}', identity: null });
  });

  test('refused: a direct request, a replay, another path, another query, another body, another method', async () => {
    const d = await direct(expressBackend.port, 'GET', '/orders/7', { host: `127.0.0.1:${expressBackend.port}` });
    expect(d).toEqual({ status: 401, json: { error: 'missing_token', message: expect.any(String) } });

    expect((await viaGateway({ path: '/orders/7?limit=5' })).status).toBe(200);
    const got = last(expressBackend);
    const h = resendable(got.headers);
    expect((await direct(expressBackend.port, 'GET', got.url, h)).json.error).toBe('replayed');
    expect((await direct(expressBackend.port, 'GET', '/orders/8?limit=5', h)).json.error).toBe('path_mismatch');
    expect((await direct(expressBackend.port, 'GET', '/orders/7?limit=500', h)).json.error).toBe('query_mismatch');
    expect((await direct(expressBackend.port, 'DELETE', got.url, h)).json.error).toBe('method_mismatch');

    expect(
      (
        await viaGateway({
          method: 'POST',
          path: '/orders',
          headers: { 'content-type': 'application/json' },
          body: '{"qty":1}',
        })
      ).status,
    ).toBe(200);
    const post = last(expressBackend);
    expect(
      (await direct(expressBackend.port, 'POST', '/orders', resendable(post.headers), '{"qty":9}')).json.error,
    ).toBe('body_digest_mismatch');
    expect(
      (await direct(expressBackend.port, 'POST', '/orders', resendable(post.headers), '{"qty":1}')).json.error,
    ).toBe('replayed');
  });

  test('a client cannot hand the backend a token of its own: every inbound spelling is removed', async () => {
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';
    const res = await viaGateway({
      path: '/orders/1',
      headers: {
        'X-Bulwark-Upstream-Token': forged,
        X_Bulwark_Upstream_Token: forged,
        'bulwark-identity': 'e30',
        signature: 'bulwark=:AA==:',
      },
    });
    expect(res.status).toBe(200);
    const sent = res.report.upstreamRequest!.headers;
    expect(sent.get('x-bulwark-upstream-token')).toHaveLength(1);
    expect(sent.get('x-bulwark-upstream-token')![0]).not.toBe(forged);
    expect(sent.get('x_bulwark_upstream_token')).toBeUndefined();
    expect(sent.get('bulwark-identity')).toBeUndefined();
    expect(sent.get('signature')).toBeUndefined();

    // Behind 150 filler headers (past Kong's default get_headers cap of 100) the forged spelling is still found.
    const filler: Record<string, string> = {};
    for (let i = 0; i < 150; i++) filler[`x-filler-${i}`] = 'f';
    const late = await viaGateway({ path: '/orders/1', headers: { ...filler, X_Bulwark_Upstream_Token: forged } });
    expect(late.status).toBe(200);
    expect(late.report.upstreamRequest!.headers.get('x_bulwark_upstream_token')).toBeUndefined();
  });

  test('Fastify behind strip_path and a service path: the token binds the path Kong sends (/v1/...)', async () => {
    const res = await viaGateway({
      method: 'POST',
      path: '/ledger/entries?page=2',
      headers: { 'content-type': 'application/json' },
      body: '{"amount":3}',
    });
    expect(res.status).toBe(200);
    expect(json(res)).toMatchObject({ ok: true, url: '/v1/entries?page=2', body: { amount: 3 } });
    const got = last(fastifyBackend);
    // Signed with the active EC key.
    const token = got.headers['x-bulwark-upstream-token'] as string;
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toMatchObject({
      alg: 'ES256',
      kid: ecKid,
      typ: 'bulwark-upstream+jwt',
    });
    expect((await direct(fastifyBackend.port, 'GET', '/v1/entries', { host: got.headers.host })).json.error).toBe(
      'missing_token',
    );
    expect(
      (await direct(fastifyBackend.port, 'POST', '/v1/other?page=2', resendable(got.headers), '{"amount":3}')).json
        .error,
    ).toBe('path_mismatch');
    expect(
      (await direct(fastifyBackend.port, 'POST', '/v1/entries?page=2', resendable(got.headers), '{"amount":300}')).json
        .error,
    ).toBe('body_digest_mismatch');
    expect(
      (await direct(fastifyBackend.port, 'POST', '/v1/entries?page=2', resendable(got.headers), '{"amount":3}')).json
        .error,
    ).toBe('replayed');
  });

  test('RFC 9421 format, plain Node backend: accepted via the gateway; altered or replayed requests refused', async () => {
    const res = await viaGateway({
      method: 'PUT',
      path: '/billing/inv/4',
      headers: { 'content-type': 'text/plain' },
      body: 'paid',
    });
    expect(res.status).toBe(200);
    expect(json(res)).toMatchObject({ ok: true, url: '/billing/inv/4', body: 'paid' });
    const got = last(nodeBackend);
    expect(got.headers['signature-input']).toMatch(
      /^bulwark=\("@method" "@authority" "@path" "@query" "content-digest" "bulwark-identity"\);created=\d+;expires=\d+;keyid="gw-ed-1";alg="ed25519";nonce="[^"]+";tag="bulwark-upstream-trust"$/,
    );
    expect((await direct(nodeBackend.port, 'PUT', '/billing/inv/4', { host: got.headers.host })).json.error).toBe(
      'missing_token',
    );
    expect(
      (await direct(nodeBackend.port, 'PUT', '/billing/inv/4', resendable(got.headers), 'unpaid')).json.error,
    ).toBe('body_digest_mismatch');
    // The signature covers @path as received: another path no longer matches the signature base.
    expect((await direct(nodeBackend.port, 'PUT', '/billing/inv/5', resendable(got.headers), 'paid')).json.error).toBe(
      'bad_signature',
    );
    expect((await direct(nodeBackend.port, 'PUT', '/billing/inv/4', resendable(got.headers), 'paid')).json.error).toBe(
      'replayed',
    );
  });

  test('a body over max_body_size is refused at the gateway with 413 (fail closed), the upstream never called', async () => {
    const res = await viaGateway({
      method: 'POST',
      path: '/small',
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(17),
    });
    expect(res.status).toBe(413);
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(
      (
        await viaGateway({
          method: 'POST',
          path: '/small',
          headers: { 'content-type': 'text/plain' },
          body: 'x'.repeat(16),
        })
      ).status,
    ).toBe(200);
  });

  test('PDK round trips: a GET without body makes 9 calls (identity, method, headers, upstream_uri, query, upstream_host, service, setHeaders, decision record); a body adds getRawBody', async () => {
    const calls = (res: Res) =>
      res.report.pdkCalls.filter(([plugin]) => plugin === 'bulwark-upstream-trust').map(([, method]) => method);
    const res = await viaGateway({ path: '/billing/x' });
    expect(res.status).toBe(200);
    expect(calls(res)).toEqual([
      'kong.ctx.shared.get',
      'kong.request.get_method',
      'kong.request.get_headers',
      'kong.nginx.get_var',
      'kong.request.get_raw_query',
      'kong.nginx.get_var',
      'kong.router.get_service',
      'kong.service.request.set_headers',
      'kong.log.set_serialize_value',
    ]);
    const post = await viaGateway({ method: 'POST', path: '/billing/x', body: 'abc' });
    expect(calls(post)).toHaveLength(10);
    expect(calls(post)).toContain('kong.request.get_raw_body');
  });
});
