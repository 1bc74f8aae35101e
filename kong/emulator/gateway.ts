// `npm run gateway`: Kong's proxy (port 8000) and a subset of its Admin API (port 8001) on top of the emulator.
import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { KongEmulator, EmulatorOptions, ConfigError } from './kong';
import { loadDeclarative } from './declarative';
import type { Consumer, KongConfig, PluginEntity, Protocol } from './entities';
import { KONG_VERSION } from './pdk';
import { kongStringByteString, kongStringFromByteString } from '../../plugins/lib/kong-strings';

export interface GatewayOptions extends EmulatorOptions {
  declarativeConfig: string;
  proxyPort?: number;
  adminPort?: number;
  listenHost?: string;
  /**
   * The proxy port the declarative config assumes for URLs that point at this gateway itself (kong.yml: bulwark-jwt
   * fetches bulwark-oauth2's JWKS from http://127.0.0.1:8000). `http://127.0.0.1:<port>` and `http://localhost:<port>`
   * in the config are pointed at the proxy's actual port, so `--port 9000` does not fetch from whatever listens on 8000.
   */
  selfProxyPort?: number;
  /** Kong's TLS proxy listener (8443): server key and certificate in PEM. */
  tls?: { key: string; cert: string; port?: number };
}

export interface RunningGateway {
  kong: KongEmulator;
  proxyPort: number;
  adminPort: number;
  /** The TLS proxy port when `tls` was given. */
  tlsPort?: number;
  close(): Promise<void>;
}

export async function startGatewayServer(opts: GatewayOptions): Promise<RunningGateway> {
  const kong = await KongEmulator.start(opts);
  const host = opts.listenHost ?? '127.0.0.1';
  const proxy = http.createServer((req, res) => void proxyHandler(kong, req, res, 'http'));
  const admin = http.createServer((req, res) => void adminHandler(kong, req, res));
  const servers: http.Server[] = [];
  try {
    // The proxy listens first: its actual port goes into the config's self-references.
    await listen(proxy, opts.proxyPort ?? 8000, host);
    servers.push(proxy);
    const text = pointSelfUrlsAt(opts.declarativeConfig, opts.selfProxyPort, (proxy.address() as AddressInfo).port);
    kong.setConfig(loadDeclarative(text, { knownPlugins: new Set(kong.plugins.keys()) }));
    await listen(admin, opts.adminPort ?? 8001, host);
    servers.push(admin);
  } catch (err) {
    await Promise.all(servers.map(close));
    await kong.stop();
    throw err;
  }
  let tlsPort: number | undefined;
  if (opts.tls) {
    // The client certificate is always asked for and never verified by the listener: what a plugin gets from
    // kong.client.tls.get_full_client_certificate_chain depends on its certificate phase (see pdk.ts).
    const tlsProxy = https.createServer(
      { key: opts.tls.key, cert: opts.tls.cert, requestCert: true, rejectUnauthorized: false },
      (req, res) => void proxyHandler(kong, req, res, 'https'),
    );
    await listen(tlsProxy, opts.tls.port ?? 8443, host);
    tlsPort = (tlsProxy.address() as AddressInfo).port;
    servers.push(tlsProxy);
  }
  return {
    kong,
    proxyPort: (proxy.address() as AddressInfo).port,
    adminPort: (admin.address() as AddressInfo).port,
    tlsPort,
    async close() {
      await Promise.all(servers.map(close));
      await kong.stop();
    },
  };
}

/** Replaces `http://127.0.0.1:<from>` / `http://localhost:<from>` (a whole port number) with the actual port. */
export function pointSelfUrlsAt(text: string, from: number | undefined, actual: number): string {
  if (from === undefined || from === actual) return text;
  return text.replace(new RegExp(`(http://(?:127\\.0\\.0\\.1|localhost)):${from}(?![0-9])`, 'g'), `$1:${actual}`);
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The presented client certificate chain as PEM, leaf first. */
function peerChainPem(socket: TLSSocket): string | undefined {
  let cert = socket.getPeerCertificate(true);
  if (!cert || !cert.raw) return undefined;
  const pems: string[] = [];
  const seen = new Set<string>();
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    pems.push(
      `-----BEGIN CERTIFICATE-----\n${cert.raw
        .toString('base64')
        .replace(/(.{64})/g, '$1\n')
        .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`,
    );
    cert = cert.issuerCertificate;
  }
  return pems.join('');
}

async function proxyHandler(
  kong: KongEmulator,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  scheme: 'http' | 'https',
): Promise<void> {
  try {
    const body = await readBody(req);
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const headers: [string, string][] = [];
    // Node gives header bytes as latin1 text; Kong hands a plugin server the bytes (see rpc.ts): as Kong strings.
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      headers.push([req.rawHeaders[i], kongStringFromByteString(req.rawHeaders[i + 1])]);
    }
    const out = await kong.handle(
      {
        method: req.method ?? 'GET',
        scheme,
        clientCertChainPem: scheme === 'https' ? peerChainPem(req.socket as TLSSocket) : undefined,
        tlsVersion: scheme === 'https' ? ((req.socket as TLSSocket).getProtocol() ?? undefined) : undefined,
        serverName:
          scheme === 'https' ? (req.socket as TLSSocket & { servername?: string }).servername || undefined : undefined,
        rawPath: q < 0 ? target : target.slice(0, q),
        rawQuery: q < 0 ? '' : target.slice(q + 1),
        headers,
        body,
        httpVersion: Number(req.httpVersion) || 1.1,
        clientIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        clientPort: req.socket.remotePort ?? 0,
        serverPort: req.socket.localPort ?? 8000,
      },
      { stream: true },
    );
    if (out.report.handshakeFailed) {
      req.socket.destroy(); // Kong aborts the handshake when the certificate phase fails
      return;
    }
    const raw: string[] = [];
    // The bytes of each value (Node writes header text as latin1): a plugin's "é" as C3 A9, as nginx sends it.
    for (const [k, vs] of out.headers.entries()) for (const v of vs) raw.push(k, kongStringByteString(v));
    res.writeHead(out.status, raw);
    const stream = out.bodyStream;
    if (!stream) {
      res.end(out.body);
      return;
    }
    // Unbuffered proxying: each chunk goes to the client as it arrives (proxy_pass). A body cut short upstream
    // cuts the client's response short too; a client that goes away stops the upstream read.
    res.flushHeaders();
    stream.pipe(res);
    stream.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) stream.destroy();
    });
  } catch (err) {
    kong.log.push(`[error] proxy: ${(err as Error).stack ?? err}`);
    if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ message: 'An unexpected error occurred' }));
  }
}

// ---------------------------------------------------------------------------------------------- Admin API

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(
      typeof body === 'object' && body && 'message' in body
        ? String((body as { message: unknown }).message)
        : String(body),
    );
  }
}

const notFound = () => new HttpError(404, { message: 'Not found' });

function send(res: http.ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status, { 'Content-Length': '0', Server: `kong/${KONG_VERSION}` });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    Server: `kong/${KONG_VERSION}`,
  });
  res.end(text);
}

function parseAdminBody(req: http.IncomingMessage, raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {};
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('application/x-www-form-urlencoded')) {
    // Kong's form syntax: config.key=value, config.list=a&config.list=b, config.rec.sub=v. Null-prototype
    // objects: a key such as `__proto__.route` is then an own field (refused as unknown), never Object.prototype.
    const out = nullObject();
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) {
      const parts = k.replace(/\[\]$/, '').split('.');
      let o = out;
      for (const p of parts.slice(0, -1)) {
        const next = o[p];
        if (next !== null && typeof next === 'object' && !Array.isArray(next)) o = next as Record<string, unknown>;
        else o = o[p] = nullObject();
      }
      const last = parts[parts.length - 1];
      const prev = o[last];
      o[last] =
        prev === undefined
          ? coerceFormValue(v)
          : Array.isArray(prev)
            ? [...prev, coerceFormValue(v)]
            : [prev, coerceFormValue(v)];
    }
    return out;
  }
  try {
    const v = JSON.parse(raw.toString('utf8'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new HttpError(400, { message: 'Cannot parse JSON body' });
  }
}

function nullObject(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

function coerceFormValue(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v;
}

function pluginView(p: PluginEntity) {
  return {
    id: p.id,
    name: p.name,
    instance_name: p.instance_name ?? null,
    enabled: p.enabled,
    protocols: p.protocols,
    config: p.config,
    route: p.route ? { id: p.route } : null,
    service: p.service ? { id: p.service } : null,
    consumer: p.consumer ? { id: p.consumer } : null,
    tags: p.tags ?? null,
  };
}

/** One Admin API request as its route handler sees it. */
interface AdminCall {
  kong: KongEmulator;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  raw: Buffer;
  /** The `:name` segments of the route pattern, URL-decoded. */
  params: Record<string, string>;
  cfg: KongConfig;
  /** Replaces the configuration (a rejected config is a 400 with Kong's schema violation). */
  apply(next: KongConfig): void;
}

type AdminHandler = (c: AdminCall) => void;
type ScopeKind = 'services' | 'routes' | 'consumers';
type PluginScope = { service?: string; route?: string; consumer?: string };

/** The plugin collection's scope: `/plugins` (global view) or `/{services,routes,consumers}/{x}/plugins`. */
function pluginScope(c: AdminCall, kind?: ScopeKind): PluginScope {
  if (!kind) return {};
  const id = resolveEntity(c.cfg, kind, c.params.owner);
  if (!id) throw notFound();
  return kind === 'services' ? { service: id } : kind === 'routes' ? { route: id } : { consumer: id };
}

function inScope(scope: PluginScope, p: PluginEntity): boolean {
  return (
    (!scope.service || p.service === scope.service) &&
    (!scope.route || p.route === scope.route) &&
    (!scope.consumer || p.consumer === scope.consumer)
  );
}

function findPlugin(c: AdminCall, scope: PluginScope): PluginEntity | undefined {
  return c.cfg.plugins.find(
    (p) => (p.id === c.params.plugin || p.instance_name === c.params.plugin) && inScope(scope, p),
  );
}

/** The plugin routes of one collection (kong/api/routes/plugins.lua and the nested endpoints). */
function pluginRoutes(prefix: string, kind?: ScopeKind): [string, string, AdminHandler][] {
  const listPlugins: AdminHandler = (c) => {
    const scope = pluginScope(c, kind);
    send(c.res, 200, { data: c.cfg.plugins.filter((p) => inScope(scope, p)).map(pluginView), next: null });
  };
  const createPlugin: AdminHandler = (c) => {
    const scope = pluginScope(c, kind);
    const entity = pluginFromBody(parseAdminBody(c.req, c.raw), scope, c.cfg);
    const stored = { ...entity, config: validate(c.kong, entity.name, entity.config) };
    c.apply({ ...c.cfg, plugins: [...c.cfg.plugins, stored] });
    send(c.res, 201, pluginView(stored));
  };
  const getPlugin: AdminHandler = (c) => {
    const existing = findPlugin(c, pluginScope(c, kind));
    if (!existing) throw notFound();
    send(c.res, 200, pluginView(existing));
  };
  const deletePlugin: AdminHandler = (c) => {
    const existing = findPlugin(c, pluginScope(c, kind));
    if (existing) c.apply({ ...c.cfg, plugins: c.cfg.plugins.filter((p) => p !== existing) });
    send(c.res, 204);
  };
  const writePlugin =
    (method: 'PATCH' | 'PUT'): AdminHandler =>
    (c) => {
      const scope = pluginScope(c, kind);
      const existing = findPlugin(c, scope);
      if (!existing && method === 'PATCH') throw notFound();
      const body = parseAdminBody(c.req, c.raw);
      const base = method === 'PATCH' && existing ? existing : undefined;
      const merged = pluginFromBody(
        { ...(base ? pluginView(base) : {}), ...body, id: existing?.id ?? c.params.plugin },
        scope,
        c.cfg,
        base,
      );
      const patchConfig = base ? deepMerge(base.config, (body.config as Record<string, unknown>) ?? {}) : merged.config;
      const stored = { ...merged, config: validate(c.kong, merged.name, patchConfig) };
      const plugins = existing ? c.cfg.plugins.map((p) => (p === existing ? stored : p)) : [...c.cfg.plugins, stored];
      c.apply({ ...c.cfg, plugins });
      send(c.res, 200, pluginView(stored));
    };
  return [
    ['GET', prefix, listPlugins],
    ['POST', prefix, createPlugin],
    ['GET', `${prefix}/:plugin`, getPlugin],
    ['DELETE', `${prefix}/:plugin`, deletePlugin],
    ['PATCH', `${prefix}/:plugin`, writePlugin('PATCH')],
    ['PUT', `${prefix}/:plugin`, writePlugin('PUT')],
  ];
}

const createConsumer: AdminHandler = (c) => {
  const body = parseAdminBody(c.req, c.raw);
  const username = typeof body.username === 'string' && body.username ? body.username : undefined;
  const custom_id = typeof body.custom_id === 'string' && body.custom_id ? body.custom_id : undefined;
  if (!username && !custom_id) {
    throw new HttpError(
      400,
      schemaError({ '@entity': ["at least one of these fields must be non-empty: 'custom_id', 'username'"] }),
    );
  }
  if (username && c.cfg.consumers.some((x) => x.username === username)) {
    const message = `UNIQUE violation detected on '{username="${username}"}'`;
    throw new HttpError(409, { code: 5, name: 'unique constraint violation', message, fields: { username } });
  }
  const consumer: Consumer = {
    id: typeof body.id === 'string' ? body.id : randomUUID(),
    username,
    custom_id,
    tags: body.tags as string[] | undefined,
  };
  c.apply({ ...c.cfg, consumers: [...c.cfg.consumers, consumer] });
  send(c.res, 201, consumer);
};

function findConsumer(c: AdminCall): Consumer | undefined {
  const id = resolveEntity(c.cfg, 'consumers', c.params.consumer);
  return c.cfg.consumers.find((x) => x.id === id);
}

/** GET of the read-only services and routes (any other method on them: 405, see adminHandler). */
function readOnlyRoutes(kind: 'services' | 'routes'): [string, string, AdminHandler][] {
  const list = (c: AdminCall) => (kind === 'services' ? c.cfg.services : c.cfg.routes) as { id: string }[];
  return [
    ['GET', `/${kind}`, (c) => send(c.res, 200, { data: list(c), next: null })],
    [
      'GET',
      `/${kind}/:entity`,
      (c) => {
        const id = resolveEntity(c.cfg, kind, c.params.entity);
        const e = list(c).find((x) => x.id === id);
        if (!e) throw notFound();
        send(c.res, 200, e);
      },
    ],
  ];
}

/** The Admin API subset: [method, path pattern (`:name` matches one segment), handler]. */
const ADMIN_ROUTES: [string, string, AdminHandler][] = [
  [
    'GET',
    '/',
    (c) =>
      send(c.res, 200, {
        version: KONG_VERSION,
        node_id: c.kong.nodeId,
        plugins: {
          available_on_server: Object.fromEntries(
            [...c.kong.plugins.values()].map((p) => [
              p.info.Name,
              { version: p.info.Version, priority: p.info.Priority },
            ]),
          ),
        },
        configuration: { database: 'off (emulated, Admin API writes applied in memory)' },
      }),
  ],
  [
    'GET',
    '/status',
    (c) =>
      send(c.res, 200, {
        database: { reachable: true },
        server: { connections_active: 0, total_requests: 0 },
        plugin_servers: c.kong.processes.map((p) => ({ name: p.entry.name, running: p.running })),
      }),
  ],
  [
    'GET',
    '/schemas/plugins/:name',
    (c) => {
      const p = c.kong.plugins.get(c.params.name);
      if (!p) throw notFound();
      send(c.res, 200, p.info.Schema);
    },
  ],
  ...pluginRoutes('/plugins'),
  ...pluginRoutes('/services/:owner/plugins', 'services'),
  ...pluginRoutes('/routes/:owner/plugins', 'routes'),
  ...pluginRoutes('/consumers/:owner/plugins', 'consumers'),
  ['GET', '/consumers', (c) => send(c.res, 200, { data: c.cfg.consumers, next: null })],
  ['POST', '/consumers', createConsumer],
  [
    'GET',
    '/consumers/:consumer',
    (c) => {
      const consumer = findConsumer(c);
      if (!consumer) throw notFound();
      send(c.res, 200, consumer);
    },
  ],
  [
    'DELETE',
    '/consumers/:consumer',
    (c) => {
      // Kong cascades the delete to the consumer's plugins.
      const consumer = findConsumer(c);
      if (consumer) {
        const rest = {
          consumers: c.cfg.consumers.filter((x) => x !== consumer),
          plugins: c.cfg.plugins.filter((p) => p.consumer !== consumer.id),
        };
        c.apply({ ...c.cfg, ...rest });
      }
      send(c.res, 204);
    },
  ],
  [
    'PATCH',
    '/consumers/:consumer',
    (c) => {
      const consumer = findConsumer(c);
      if (!consumer) throw notFound();
      const updated = {
        ...consumer,
        ...pick(parseAdminBody(c.req, c.raw), ['username', 'custom_id', 'tags']),
      } as Consumer;
      c.apply({ ...c.cfg, consumers: c.cfg.consumers.map((x) => (x === consumer ? updated : x)) });
      send(c.res, 200, updated);
    },
  ],
  ...readOnlyRoutes('services'),
  ...readOnlyRoutes('routes'),
];

/** The first route whose method and pattern match, with the pattern's parameters. */
function matchAdminRoute(
  method: string,
  segs: string[],
): { handler: AdminHandler; params: Record<string, string> } | undefined {
  for (const [m, pattern, handler] of ADMIN_ROUTES) {
    if (m !== method) continue;
    const parts = pattern.split('/').filter(Boolean);
    if (parts.length !== segs.length) continue;
    const params: Record<string, string> = {};
    if (parts.every((part, i) => (part.startsWith(':') ? ((params[part.slice(1)] = segs[i]), true) : part === segs[i])))
      return { handler, params };
  }
  return undefined;
}

async function adminHandler(kong: KongEmulator, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  try {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://admin');
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const route = matchAdminRoute(method, segs);
    if (!route) {
      if ((segs[0] === 'services' || segs[0] === 'routes') && method !== 'GET') {
        throw new HttpError(405, {
          message: 'services and routes are read-only here: edit kong.yml and restart the gateway',
        });
      }
      throw notFound();
    }
    const apply = (next: KongConfig) => {
      try {
        kong.setConfig(next);
      } catch (err) {
        if (err instanceof ConfigError) throw new HttpError(400, err.violation ?? { message: err.message });
        throw err;
      }
    };
    route.handler({ kong, req, res, raw, params: route.params, cfg: kong.getConfig(), apply });
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, err.body);
    kong.log.push(`[error] admin: ${(err as Error).stack ?? err}`);
    return send(res, 500, { message: 'An unexpected error occurred' });
  }
}

function validate(kong: KongEmulator, name: string, config: unknown): Record<string, unknown> {
  if (!kong.plugins.has(name)) {
    throw new HttpError(
      400,
      schemaError({ name: `plugin '${name}' not enabled; add it to the 'plugins' configuration property` }),
    );
  }
  try {
    return kong.validatePluginConfig(name, config);
  } catch (err) {
    if (err instanceof ConfigError) throw new HttpError(400, err.violation ?? { message: err.message });
    throw err;
  }
}

function schemaError(fields: Record<string, unknown>) {
  const parts = Object.entries(fields).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
  return { code: 2, name: 'schema violation', message: `schema violation (${parts.join('; ')})`, fields };
}

function resolveEntity(cfg: KongConfig, kind: 'services' | 'routes' | 'consumers', key: string): string | undefined {
  if (kind === 'consumers') return cfg.consumers.find((c) => c.id === key || c.username === key)?.id;
  const list = kind === 'services' ? cfg.services : cfg.routes;
  return list.find((e) => e.id === key || e.name === key)?.id;
}

function refId(v: unknown, cfg: KongConfig, kind: 'services' | 'routes' | 'consumers'): string | undefined {
  if (v === null || v === undefined) return undefined;
  const key =
    typeof v === 'string'
      ? v
      : typeof v === 'object'
        ? ((v as { id?: string; name?: string; username?: string }).id ??
          (v as { name?: string }).name ??
          (v as { username?: string }).username)
        : undefined;
  if (!key) return undefined;
  const id = resolveEntity(cfg, kind, key);
  if (!id)
    throw new HttpError(
      400,
      schemaError({
        [kind.slice(0, -1)]: `the foreign key '{id="${key}"}' does not reference an existing '${kind}' entity.`,
      }),
    );
  return id;
}

// kong/db/schema/entities/plugins.lua (Kong 3.9) fields.
const PLUGIN_ENTITY_FIELDS = new Set([
  'id',
  'name',
  'instance_name',
  'created_at',
  'updated_at',
  'route',
  'service',
  'consumer',
  'consumer_group',
  'config',
  'protocols',
  'enabled',
  'tags',
  'ordering',
]);

function pluginFromBody(
  body: Record<string, unknown>,
  scope: { service?: string; route?: string; consumer?: string },
  cfg: KongConfig,
  base?: PluginEntity,
): PluginEntity {
  if (typeof body.name !== 'string' || !body.name)
    throw new HttpError(400, schemaError({ name: 'required field missing' }));
  // kong/db/schema/init.lua validate_fields: a field the plugins entity does not have is "unknown field".
  const unknown = Object.keys(body).filter((k) => !PLUGIN_ENTITY_FIELDS.has(k));
  if (unknown.length > 0)
    throw new HttpError(400, schemaError(Object.fromEntries(unknown.map((k) => [k, 'unknown field']))));
  return {
    id: typeof body.id === 'string' ? body.id : randomUUID(),
    name: body.name,
    instance_name: typeof body.instance_name === 'string' ? body.instance_name : base?.instance_name,
    enabled: typeof body.enabled === 'boolean' ? body.enabled : (base?.enabled ?? true),
    config: (body.config as Record<string, unknown>) ?? {},
    route: scope.route ?? refId(body.route, cfg, 'routes'),
    service: scope.service ?? refId(body.service, cfg, 'services'),
    consumer: scope.consumer ?? refId(body.consumer, cfg, 'consumers'),
    protocols: (body.protocols as Protocol[]) ?? base?.protocols ?? ['grpc', 'grpcs', 'http', 'https'],
    tags: (body.tags as string[]) ?? base?.tags,
  };
}

function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.assign(nullObject(), base);
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}
