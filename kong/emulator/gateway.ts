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
    const tlsProxy = https.createServer({ key: opts.tls.key, cert: opts.tls.cert, requestCert: true, rejectUnauthorized: false }, (req, res) =>
      void proxyHandler(kong, req, res, 'https'),
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
    pems.push(`-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`);
    cert = cert.issuerCertificate;
  }
  return pems.join('');
}

async function proxyHandler(kong: KongEmulator, req: http.IncomingMessage, res: http.ServerResponse, scheme: 'http' | 'https'): Promise<void> {
  try {
    const body = await readBody(req);
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const headers: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    const out = await kong.handle({
      method: req.method ?? 'GET',
      scheme,
      clientCertChainPem: scheme === 'https' ? peerChainPem(req.socket as TLSSocket) : undefined,
      tlsVersion: scheme === 'https' ? (req.socket as TLSSocket).getProtocol() ?? undefined : undefined,
      serverName: scheme === 'https' ? ((req.socket as TLSSocket & { servername?: string }).servername || undefined) : undefined,
      rawPath: q < 0 ? target : target.slice(0, q),
      rawQuery: q < 0 ? '' : target.slice(q + 1),
      headers,
      body,
      httpVersion: Number(req.httpVersion) || 1.1,
      clientIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      clientPort: req.socket.remotePort ?? 0,
      serverPort: req.socket.localPort ?? 8000,
    }, { stream: true });
    if (out.report.handshakeFailed) {
      req.socket.destroy(); // Kong aborts the handshake when the certificate phase fails
      return;
    }
    const raw: string[] = [];
    for (const [k, vs] of out.headers.entries()) for (const v of vs) raw.push(k, v);
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
  constructor(readonly status: number, readonly body: unknown) {
    super(typeof body === 'object' && body && 'message' in body ? String((body as { message: unknown }).message) : String(body));
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
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), Server: `kong/${KONG_VERSION}` });
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
      o[last] = prev === undefined ? coerceFormValue(v) : Array.isArray(prev) ? [...prev, coerceFormValue(v)] : [prev, coerceFormValue(v)];
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

async function adminHandler(kong: KongEmulator, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  try {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://admin');
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const cfg = kong.getConfig();
    const apply = (next: KongConfig) => {
      try {
        kong.setConfig(next);
      } catch (err) {
        if (err instanceof ConfigError) throw new HttpError(400, err.violation ?? { message: err.message });
        throw err;
      }
    };

    if (segs.length === 0 && method === 'GET') {
      return send(res, 200, {
        version: KONG_VERSION,
        node_id: kong.nodeId,
        plugins: { available_on_server: Object.fromEntries([...kong.plugins.values()].map((p) => [p.info.Name, { version: p.info.Version, priority: p.info.Priority }])) },
        configuration: { database: 'off (emulated, Admin API writes applied in memory)' },
      });
    }
    if (segs[0] === 'status' && segs.length === 1 && method === 'GET') {
      return send(res, 200, {
        database: { reachable: true },
        server: { connections_active: 0, total_requests: 0 },
        plugin_servers: kong.processes.map((p) => ({ name: p.entry.name, running: p.running })),
      });
    }
    if (segs[0] === 'schemas' && segs[1] === 'plugins' && segs[2] && method === 'GET') {
      const p = kong.plugins.get(segs[2]);
      if (!p) throw notFound();
      return send(res, 200, p.info.Schema);
    }

    // Scoped plugin collections: /services/{x}/plugins, /routes/{x}/plugins, /consumers/{x}/plugins
    let scope: { service?: string; route?: string; consumer?: string } = {};
    let rest = segs;
    if (['services', 'routes', 'consumers'].includes(segs[0]) && segs.length >= 3 && segs[2] === 'plugins') {
      const id = resolveEntity(cfg, segs[0] as 'services' | 'routes' | 'consumers', segs[1]);
      if (!id) throw notFound();
      scope = segs[0] === 'services' ? { service: id } : segs[0] === 'routes' ? { route: id } : { consumer: id };
      rest = segs.slice(2);
    }

    if (rest[0] === 'plugins') {
      const inScope = (p: PluginEntity) =>
        (!scope.service || p.service === scope.service) && (!scope.route || p.route === scope.route) && (!scope.consumer || p.consumer === scope.consumer);
      if (rest.length === 1 && method === 'GET') return send(res, 200, { data: cfg.plugins.filter(inScope).map(pluginView), next: null });
      if (rest.length === 1 && method === 'POST') {
        const body = parseAdminBody(req, raw);
        const entity = pluginFromBody(body, scope, cfg);
        const config = validate(kong, entity.name, entity.config);
        const stored = { ...entity, config };
        apply({ ...cfg, plugins: [...cfg.plugins, stored] });
        return send(res, 201, pluginView(stored));
      }
      if (rest.length === 2) {
        const existing = cfg.plugins.find((p) => (p.id === rest[1] || p.instance_name === rest[1]) && inScope(p));
        if (method === 'GET') {
          if (!existing) throw notFound();
          return send(res, 200, pluginView(existing));
        }
        if (method === 'DELETE') {
          if (existing) apply({ ...cfg, plugins: cfg.plugins.filter((p) => p !== existing) });
          return send(res, 204);
        }
        if (method === 'PATCH' || method === 'PUT') {
          if (!existing && method === 'PATCH') throw notFound();
          const body = parseAdminBody(req, raw);
          const base = method === 'PATCH' && existing ? existing : undefined;
          const merged = pluginFromBody({ ...(base ? pluginView(base) : {}), ...body, id: existing?.id ?? rest[1] }, scope, cfg, base);
          const config = validate(kong, merged.name, method === 'PATCH' && base ? deepMerge(base.config, (body.config as Record<string, unknown>) ?? {}) : merged.config);
          const stored = { ...merged, config };
          apply({ ...cfg, plugins: existing ? cfg.plugins.map((p) => (p === existing ? stored : p)) : [...cfg.plugins, stored] });
          return send(res, 200, pluginView(stored));
        }
      }
    }

    if (segs[0] === 'consumers' && segs.length <= 2) {
      if (segs.length === 1 && method === 'GET') return send(res, 200, { data: cfg.consumers, next: null });
      if (segs.length === 1 && method === 'POST') {
        const body = parseAdminBody(req, raw);
        const username = typeof body.username === 'string' && body.username ? body.username : undefined;
        const custom_id = typeof body.custom_id === 'string' && body.custom_id ? body.custom_id : undefined;
        if (!username && !custom_id) {
          throw new HttpError(400, schemaError({ '@entity': ["at least one of these fields must be non-empty: 'custom_id', 'username'"] }));
        }
        if (username && cfg.consumers.some((c) => c.username === username)) {
          throw new HttpError(409, { code: 5, name: 'unique constraint violation', message: `UNIQUE violation detected on '{username="${username}"}'`, fields: { username } });
        }
        const consumer: Consumer = { id: typeof body.id === 'string' ? body.id : randomUUID(), username, custom_id, tags: body.tags as string[] | undefined };
        apply({ ...cfg, consumers: [...cfg.consumers, consumer] });
        return send(res, 201, consumer);
      }
      const id = resolveEntity(cfg, 'consumers', segs[1]);
      const consumer = cfg.consumers.find((c) => c.id === id);
      if (method === 'GET') {
        if (!consumer) throw notFound();
        return send(res, 200, consumer);
      }
      if (method === 'DELETE') {
        // Kong cascades the delete to the consumer's plugins.
        if (consumer) apply({ ...cfg, consumers: cfg.consumers.filter((c) => c !== consumer), plugins: cfg.plugins.filter((p) => p.consumer !== consumer.id) });
        return send(res, 204);
      }
      if (method === 'PATCH' && consumer) {
        const body = parseAdminBody(req, raw);
        const updated = { ...consumer, ...pick(body, ['username', 'custom_id', 'tags']) } as Consumer;
        apply({ ...cfg, consumers: cfg.consumers.map((c) => (c === consumer ? updated : c)) });
        return send(res, 200, updated);
      }
    }
    if ((segs[0] === 'services' || segs[0] === 'routes') && method === 'GET') {
      const list = segs[0] === 'services' ? cfg.services : cfg.routes;
      if (segs.length === 1) return send(res, 200, { data: list, next: null });
      if (segs.length === 2) {
        const id = resolveEntity(cfg, segs[0], segs[1]);
        const e = (list as { id: string }[]).find((x) => x.id === id);
        if (!e) throw notFound();
        return send(res, 200, e);
      }
    }
    if (['services', 'routes'].includes(segs[0]) && method !== 'GET') {
      throw new HttpError(405, { message: 'services and routes are read-only here: edit kong.yml and restart the gateway' });
    }
    throw notFound();
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, err.body);
    kong.log.push(`[error] admin: ${(err as Error).stack ?? err}`);
    return send(res, 500, { message: 'An unexpected error occurred' });
  }
}

function validate(kong: KongEmulator, name: string, config: unknown): Record<string, unknown> {
  if (!kong.plugins.has(name)) {
    throw new HttpError(400, schemaError({ name: `plugin '${name}' not enabled; add it to the 'plugins' configuration property` }));
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
  const key = typeof v === 'string' ? v : typeof v === 'object' ? ((v as { id?: string; name?: string; username?: string }).id ?? (v as { name?: string }).name ?? (v as { username?: string }).username) : undefined;
  if (!key) return undefined;
  const id = resolveEntity(cfg, kind, key);
  if (!id) throw new HttpError(400, schemaError({ [kind.slice(0, -1)]: `the foreign key '{id="${key}"}' does not reference an existing '${kind}' entity.` }));
  return id;
}

// kong/db/schema/entities/plugins.lua (Kong 3.9) fields.
const PLUGIN_ENTITY_FIELDS = new Set([
  'id', 'name', 'instance_name', 'created_at', 'updated_at', 'route', 'service', 'consumer', 'consumer_group', 'config', 'protocols',
  'enabled', 'tags', 'ordering',
]);

function pluginFromBody(body: Record<string, unknown>, scope: { service?: string; route?: string; consumer?: string }, cfg: KongConfig, base?: PluginEntity): PluginEntity {
  if (typeof body.name !== 'string' || !body.name) throw new HttpError(400, schemaError({ name: 'required field missing' }));
  // kong/db/schema/init.lua validate_fields: a field the plugins entity does not have is "unknown field".
  const unknown = Object.keys(body).filter((k) => !PLUGIN_ENTITY_FIELDS.has(k));
  if (unknown.length > 0) throw new HttpError(400, schemaError(Object.fromEntries(unknown.map((k) => [k, 'unknown field']))));
  return {
    id: typeof body.id === 'string' ? body.id : randomUUID(),
    name: body.name,
    instance_name: typeof body.instance_name === 'string' ? body.instance_name : base?.instance_name,
    enabled: typeof body.enabled === 'boolean' ? body.enabled : base?.enabled ?? true,
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
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}
