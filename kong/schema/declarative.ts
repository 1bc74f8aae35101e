// Loader for Kong's declarative configuration (the DB-less `kong.yml`), validating like Kong 3.9 does
// before it accepts a file. Sources: kong/db/schema/others/declarative_config.lua (top-level layout,
// nesting, references, deterministic ids), kong/db/declarative/migrations/route_path.lua and
// kong/db/migrations/migrate_path_280_300.lua (1.1/2.1 path migration), kong/db/schema/entities/
// {services,routes,consumers,plugins}.lua and kong/db/schema/typedefs.lua (fields, defaults, checks).
//
// Scope: services, routes, consumers and plugins over http/https. Other Kong entities (upstreams,
// certificates, credentials...) are rejected with a message saying the emulator does not support them,
// rather than being silently ignored. Plugin `config` is passed through unvalidated.

import { createHash } from 'crypto';
import { parse as parseYaml } from 'yaml';
import type { Consumer, KongConfig, PluginEntity, Protocol, Route, Service } from './entities';
import { UUID_RE } from './validators';

export interface LoadDeclarativeOptions {
  /** The plugins enabled in kong.conf (`plugins = bundled,...`); a plugin entity naming another one is rejected. */
  knownPlugins?: Set<string>;
}

/** Thrown for an invalid file. `errors` holds one `path: message` line per problem (paths are 0-based). */
export class DeclarativeConfigError extends Error {
  readonly errors: string[];
  constructor(errors: string[]) {
    super(`invalid declarative configuration: ${errors.join('; ')}`);
    this.name = 'DeclarativeConfigError';
    this.errors = errors;
  }
}

// ---------------------------------------------------------------------------------------------
// UUIDs. Kong derives ids of entities that have a name (endpoint key) or a cache key as UUID v5
// (declarative_config.lua `generate_uuid`): namespace = v5(_entities namespace, entity name).
// ---------------------------------------------------------------------------------------------

const ENTITIES_NAMESPACE = 'fd02801f-0957-4a15-a55a-c8d9606f30b5';

/** RFC 4122 version-5 UUID (SHA-1 of namespace bytes + name), as resty.jit-uuid `factory_v5` builds it. */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(Buffer.from(name, 'utf8')).digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const entityNamespaces = new Map<string, string>();
function kongEntityId(entity: string, key: string): string {
  let ns = entityNamespaces.get(entity);
  if (!ns) {
    ns = uuidV5(ENTITIES_NAMESPACE, entity);
    entityNamespaces.set(entity, ns);
  }
  return uuidV5(ns, key);
}

// ---------------------------------------------------------------------------------------------
// Path helpers shared with the router (kong/tools/uri.lua).
// ---------------------------------------------------------------------------------------------

// RFC 3986 reserved characters: percent-triplets of these stay encoded (upper-cased) when normalising.
const RESERVED = new Set(Array.from("!*'();:@&=+$,/?%#[]", (c) => c.charCodeAt(0)));

/**
 * Kong's `normalize(uri, merge_slashes)` from kong/tools/uri.lua, on raw bytes (latin1 string in, latin1
 * string out): decodes %XX of non-reserved characters, upper-cases the rest, resolves `.`/`..` segments and
 * (with mergeSlashes) collapses `//`.
 */
export function kongNormalizeBytes(uri: string, mergeSlashes: boolean): string {
  if (uri === '' || uri === '/') return uri;
  if (uri.includes('%')) {
    uri = uri.replace(/%([0-9a-f]{2})/gi, (m, hex: string) => {
      const n = parseInt(hex, 16);
      return RESERVED.has(n) ? m.toUpperCase() : String.fromCharCode(n);
    });
  }
  if (!uri.includes('.') && (!mergeSlashes || !uri.includes('//'))) return uri;

  const out: string[] = [];
  while (uri.length > 0) {
    if (uri === '/.') {
      uri = '/';
    } else if (uri === '/..') {
      uri = '/';
      out.pop();
    } else if (uri === '.' || uri === '..') {
      uri = '';
    } else if (uri.startsWith('../')) {
      uri = uri.slice(3);
    } else if (uri.startsWith('./')) {
      uri = uri.slice(2);
    } else if (uri.startsWith('/./')) {
      uri = uri.slice(2);
    } else if (uri.startsWith('/../')) {
      uri = uri.slice(3);
      out.pop();
    } else if (mergeSlashes && uri.startsWith('//')) {
      uri = uri.slice(1);
    } else {
      const i = uri.indexOf('/', 1);
      if (i >= 0) {
        out.push(uri.slice(0, i));
        uri = uri.slice(i);
      } else {
        out.push(uri);
        uri = '';
      }
    }
  }
  return out.join('');
}

/** A config path (a UTF-8 JS string) normalised like Kong, returned as a UTF-8 JS string. */
function normalizeConfigPath(path: string): string {
  return Buffer.from(kongNormalizeBytes(Buffer.from(path, 'utf8').toString('latin1'), true), 'latin1').toString('utf8');
}

/**
 * Converts a Kong route regex (PCRE syntax, as written after `~`) into a JS RegExp source. Kong 3.9's
 * traditional_compatible router hands it to the Rust `regex` crate (kong/router/transform.lua rewrites
 * `(?<` to `(?P<`), which has no look-around and no back-references: such a path cannot be loaded there.
 * Returns an error string when the regex is unusable.
 */
export function routeRegexSource(regex: string): { source: string } | { error: string } {
  if (/\(\?<?[=!]/.test(regex))
    return { error: `invalid regex: '${regex}' (look-around is not supported by Kong's router)` };
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(regex)) {
    return { error: `invalid regex: '${regex}' (back-references are not supported by Kong's router)` };
  }
  const source = regex.replace(/\(\?P</g, '(?<');
  try {
    new RegExp(source);
  } catch (e) {
    return { error: `invalid regex: '${regex}' (${(e as Error).message})` };
  }
  return { source };
}

// ---------------------------------------------------------------------------------------------
// Field validators (kong/db/schema/typedefs.lua)
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const NAME_RE = /^[A-Za-z0-9._~-]+$/; // typedefs.name
const UTF8_NAME_RE = /^[A-Za-z0-9._~\u0080-\u{10FFFF}-]+$/u; // typedefs.utf8_name
const METHOD_RE = /^[A-Z]+$/; // typedefs.http_method (%u+)
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/; // utils.validate_header_name (RFC 7230 token)
// typedefs.path's character class: unreserved, sub-delims, ':' '@' '/' and '%'.
const PATH_CHARS_RE = /^\/[A-Za-z0-9._~/%:@!$&'()*+,;=-]*$/;
const HOSTNAME_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/;
const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function validIpv4(s: string): boolean {
  const m = IPV4_RE.exec(s);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

/** utils.normalize_ip-like split: name or IPv4 or [IPv6], optional :port. */
function parseHostPort(s: string): { host: string; port?: number } | null {
  let host = s;
  let portStr: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return null;
    host = s.slice(0, end + 1);
    const rest = s.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      portStr = rest.slice(1);
    }
    if (!/^\[[0-9a-fA-F:.]+\]$/.test(host)) return null;
  } else {
    const i = s.indexOf(':');
    if (i >= 0) {
      host = s.slice(0, i);
      portStr = s.slice(i + 1);
    }
    if (!(validIpv4(host) || (HOSTNAME_RE.test(host) && !/^[\d.]+$/.test(host)))) return null;
  }
  if (portStr !== undefined) {
    if (!/^\d+$/.test(portStr) || Number(portStr) > 65535) return null;
    return { host, port: Number(portStr) };
  }
  return { host };
}

function validatePath(path: string): string | null {
  // typedefs.path: starts_with "/", no empty segments, RFC 3986 characters, well-formed percent-encoding.
  if (!path.startsWith('/')) return 'should start with: /';
  if (path.includes('//')) return 'must not have empty segments';
  if (!PATH_CHARS_RE.test(path)) {
    return `invalid path: '${path}' (characters outside of the reserved list of RFC 3986 found)`;
  }
  const bad = /%(?![0-9a-fA-F]{2})..?/.exec(path);
  if (bad) return `invalid url-encoded value: '${bad[0]}'`;
  return null;
}

/** typedefs.router_path: `/prefix` (normalised) or `~/regex`. */
function validateRouterPath(path: string): string | null {
  if (!path.startsWith('/') && !path.startsWith('~/')) return 'should start with: / (fixed path) or ~/ (regex path)';
  if (path.includes('//')) return 'must not have empty segments';
  const bad = /%(?![0-9a-fA-F]{2})..?/.exec(path);
  if (bad) return `invalid url-encoded value: '${bad[0]}'`;
  if (!path.startsWith('~')) {
    const normalized = normalizeConfigPath(path);
    if (normalized !== path) return `non-normalized path, consider use '${normalized}' instead`;
    return null;
  }
  const r = routeRegexSource(path.slice(1));
  return 'error' in r ? r.error : null;
}

/** typedefs.hosts element: at most one wildcard, leftmost or rightmost label, optional port. */
function validateRouteHost(h: string): string | null {
  if ((h.match(/\*/g) ?? []).length > 1) return 'invalid wildcard: must have at most one wildcard';
  if (h.includes('*') && !(h.startsWith('*.') || /\.\*(:\d+)?$/.test(h))) {
    return 'invalid wildcard: must be placed at leftmost or rightmost label';
  }
  if (!parseHostPort(h.replace('*', 'abc'))) return `invalid value: ${h}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// The loader
// ---------------------------------------------------------------------------------------------

const FORMAT_VERSIONS = ['1.1', '2.1', '3.0'];

// Top-level collections Kong knows but the emulator does not implement: rejected explicitly.
const UNSUPPORTED_COLLECTIONS = new Set([
  'upstreams',
  'targets',
  'certificates',
  'ca_certificates',
  'snis',
  'vaults',
  'keys',
  'key_sets',
  'filter_chains',
  'consumer_groups',
  'workspaces',
  'parameters',
  'clustering_data_planes',
  'keyauth_credentials',
  'basicauth_credentials',
  'hmacauth_credentials',
  'jwt_secrets',
  'acls',
  'oauth2_credentials',
  'oauth2_authorization_codes',
  'oauth2_tokens',
  'mtls_auth_credentials',
]);

const META_FIELDS = ['_comment', '_ignore'];
const AUTO_FIELDS = ['created_at', 'updated_at'];

const SERVICE_FIELDS = new Set([
  'id',
  'name',
  'retries',
  'protocol',
  'host',
  'port',
  'path',
  'connect_timeout',
  'write_timeout',
  'read_timeout',
  'tags',
  'client_certificate',
  'tls_verify',
  'tls_verify_depth',
  'ca_certificates',
  'enabled',
  'url',
  'routes',
  'plugins',
  ...META_FIELDS,
  ...AUTO_FIELDS,
]);
const ROUTE_FIELDS = new Set([
  'id',
  'name',
  'protocols',
  'methods',
  'hosts',
  'paths',
  'headers',
  'https_redirect_status_code',
  'regex_priority',
  'strip_path',
  'path_handling',
  'preserve_host',
  'request_buffering',
  'response_buffering',
  'snis',
  'sources',
  'destinations',
  'tags',
  'service',
  'plugins',
  ...META_FIELDS,
  ...AUTO_FIELDS,
]);
const CONSUMER_FIELDS = new Set([
  'id',
  'username',
  'custom_id',
  'tags',
  'plugins',
  ...META_FIELDS,
  'created_at',
  'updated_at',
]);
const PLUGIN_FIELDS = new Set([
  'id',
  'name',
  'instance_name',
  'config',
  'route',
  'service',
  'consumer',
  'protocols',
  'enabled',
  'tags',
  'ordering',
  ...META_FIELDS,
  ...AUTO_FIELDS,
]);
// Fields Kong accepts that this emulator cannot honour; present with a non-null value = rejected.
const UNSUPPORTED_FIELDS: Record<string, Set<string>> = {
  services: new Set(['client_certificate']),
  routes: new Set(['snis', 'sources', 'destinations']),
  plugins: new Set(['ordering']),
  consumers: new Set(),
};

type Parent = { entity: 'services' | 'routes' | 'consumers'; id: string };

interface RawRef {
  at: string;
  value: unknown;
}

interface PendingRoute {
  route: Route;
  serviceRef?: RawRef;
}
interface PendingPlugin {
  plugin: PluginEntity;
  at: string;
  refs: Partial<Record<'route' | 'service' | 'consumer', RawRef>>;
}

class Loader {
  readonly errors: string[] = [];
  readonly services: Service[] = [];
  readonly routes: PendingRoute[] = [];
  readonly consumers: Consumer[] = [];
  readonly plugins: PendingPlugin[] = [];

  constructor(private readonly opts: LoadDeclarativeOptions) {}

  err(at: string, msg: string): void {
    this.errors.push(`${at}: ${msg}`);
  }

  checkFields(entity: keyof typeof UNSUPPORTED_FIELDS, at: string, item: Obj, allowed: Set<string>): void {
    for (const k of Object.keys(item)) {
      if (!allowed.has(k)) {
        this.err(`${at}.${k}`, 'unknown field');
      } else if (
        UNSUPPORTED_FIELDS[entity]!.has(k) &&
        item[k] !== null &&
        !(Array.isArray(item[k]) && (item[k] as unknown[]).length === 0)
      ) {
        this.err(`${at}.${k}`, `'${k}' is a Kong field the Bulwark emulator does not support`);
      }
    }
  }

  str(at: string, v: unknown, opts: { re?: RegExp; reMsg?: string } = {}): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      this.err(at, 'expected a string');
      return undefined;
    }
    if (opts.re && !opts.re.test(v)) {
      this.err(at, opts.reMsg ?? `invalid value '${v}'`);
      return undefined;
    }
    return v;
  }

  int(at: string, v: unknown, def: number, min: number, max: number): number {
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.err(at, 'expected an integer');
      return def;
    }
    if (v < min || v > max) {
      this.err(at, `value should be between ${min} and ${max}`);
      return def;
    }
    return v;
  }

  bool(at: string, v: unknown, def: boolean): boolean {
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') {
      this.err(at, 'expected a boolean');
      return def;
    }
    return v;
  }

  strArray(at: string, v: unknown): string[] | undefined {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) {
      this.err(at, 'expected an array');
      return undefined;
    }
    const out: string[] = [];
    v.forEach((e, i) => {
      if (typeof e !== 'string') this.err(`${at}[${i}]`, 'expected a string');
      else out.push(e);
    });
    return out;
  }

  /** A "set": an array of strings, duplicates dropped (Kong's set type). */
  strSet(at: string, v: unknown): string[] | undefined {
    const a = this.strArray(at, v);
    return a && Array.from(new Set(a));
  }

  tags(at: string, v: unknown): string[] | undefined {
    const t = this.strSet(at, v);
    t?.forEach((tag, i) => {
      if (!/^[\x21-\x2b\x2d\x2e\x30-\x7e\u0080-\u{10FFFF}]+$/u.test(tag)) {
        this.err(
          `${at}[${i}]`,
          `invalid tag '${tag}': expected printable ascii (except \`,\` and \`/\`) or valid utf-8 sequences`,
        );
      }
    });
    return t;
  }

  explicitId(at: string, v: unknown): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !UUID_RE.test(v)) {
      this.err(`${at}.id`, 'expected a valid UUID');
      return undefined;
    }
    return v.toLowerCase();
  }

  /**
   * A foreign key written in the file: a name/id string, or `{ id: ... }` (declarative_config.lua turns
   * top-level foreign fields into strings, and validate_references also takes `key.id`). decK's
   * `{ name: ... }` form is not Kong's and is refused.
   */
  ref(at: string, v: unknown): RawRef | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return { at, value: v };
    if (isObject(v) && typeof v.id === 'string' && Object.keys(v).length === 1) return { at, value: v.id };
    this.err(at, 'expected a string (the name or id of the entity) or a record with only an id');
    return undefined;
  }

  // ------------------------------------------------------------------ services

  service(at: string, raw: unknown, index: number): void {
    if (!isObject(raw)) return this.err(at, 'expected a record');
    this.checkFields('services', at, raw, SERVICE_FIELDS);

    const name = this.str(`${at}.name`, raw.name, {
      re: NAME_RE,
      reMsg: `invalid value '${String(raw.name)}': it must only contain alphanumeric and '., -, _, ~' characters`,
    });
    // services.lua `url` shorthand: expands to protocol/host/port/path and overrides those fields.
    let protocol: unknown = raw.protocol;
    let host: unknown = raw.host;
    let port: unknown = raw.port;
    let path: unknown = raw.path;
    if (raw.url !== undefined && raw.url !== null) {
      const u = this.parseServiceUrl(`${at}.url`, raw.url);
      if (u) ({ protocol, host, port, path } = u);
    }
    protocol = protocol ?? 'http';
    if (protocol !== 'http' && protocol !== 'https') {
      this.err(
        `${at}.protocol`,
        `'${String(protocol)}' is not supported by the Bulwark emulator (http and https only)`,
      );
      protocol = 'http';
    }
    const hostStr = this.str(`${at}.host`, host);
    if (hostStr === undefined) {
      if (host === undefined || host === null) this.err(`${at}.host`, 'required field missing');
    } else {
      const hp = parseHostPort(hostStr);
      if (!hp) this.err(`${at}.host`, `invalid value: ${hostStr}`);
      else if (hp.port !== undefined) this.err(`${at}.host`, 'must not have a port');
    }
    const pathStr = this.str(`${at}.path`, path);
    if (pathStr !== undefined) {
      const e = validatePath(pathStr);
      if (e) this.err(`${at}.path`, e);
    }
    if (raw.tls_verify !== undefined && raw.tls_verify !== null) this.bool(`${at}.tls_verify`, raw.tls_verify, false);
    if (raw.tls_verify_depth !== undefined) this.int(`${at}.tls_verify_depth`, raw.tls_verify_depth, 0, 0, 64);
    if (raw.ca_certificates !== undefined) {
      this.strArray(`${at}.ca_certificates`, raw.ca_certificates)?.forEach((c, i) => {
        if (!UUID_RE.test(c)) this.err(`${at}.ca_certificates[${i}]`, 'expected a valid UUID');
      });
    }

    const MAX_TIMEOUT = 2 ** 31 - 2;
    const service: Service = {
      id:
        this.explicitId(at, raw.id) ??
        (name ? kongEntityId('services', name) : kongEntityId('services', `#position:${index}`)),
      ...(name !== undefined ? { name } : {}),
      protocol: protocol as 'http' | 'https',
      host: hostStr ?? '',
      // services.lua: port default 80 whatever the protocol; only the url shorthand derives 443 from https.
      port: this.int(`${at}.port`, port, 80, 0, 65535),
      ...(pathStr !== undefined ? { path: pathStr } : {}),
      connect_timeout: this.int(`${at}.connect_timeout`, raw.connect_timeout, 60000, 1, MAX_TIMEOUT),
      read_timeout: this.int(`${at}.read_timeout`, raw.read_timeout, 60000, 1, MAX_TIMEOUT),
      write_timeout: this.int(`${at}.write_timeout`, raw.write_timeout, 60000, 1, MAX_TIMEOUT),
      retries: this.int(`${at}.retries`, raw.retries, 5, 0, 32767),
      enabled: this.bool(`${at}.enabled`, raw.enabled, true),
    };
    const tags = this.tags(`${at}.tags`, raw.tags);
    if (tags) service.tags = tags;
    this.services.push(service);

    const parent: Parent = { entity: 'services', id: service.id };
    this.nested(at, raw, 'routes', (a, r, i) => this.route(a, r, i, parent));
    this.nested(at, raw, 'plugins', (a, p) => this.plugin(a, p, parent));
  }

  parseServiceUrl(at: string, v: unknown): { protocol: unknown; host: unknown; port: unknown; path: unknown } | null {
    if (typeof v !== 'string') {
      this.err(at, 'expected a string');
      return null;
    }
    // socket.url-style parse: scheme://[userinfo@]host[:port][/path][?query][#fragment]
    const m =
      /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?(\/[^?#]*)?(?:\?[^#]*)?(?:#.*)?$/.exec(
        v,
      );
    if (!m) {
      this.err(at, v.includes('://') ? 'could not parse url' : 'missing scheme in url');
      return null;
    }
    const scheme = m[1]!.toLowerCase();
    const host = m[2]!;
    if (host === '') {
      this.err(at, 'missing host in url');
      return null;
    }
    let port: unknown;
    if (m[3] !== undefined && m[3] !== '') {
      port = /^\d+$/.test(m[3]) ? Number(m[3]) : m[3];
    } else {
      port = scheme === 'https' ? 443 : 80;
    }
    return { protocol: scheme, host, port, path: m[4] };
  }

  // ------------------------------------------------------------------ routes

  route(at: string, raw: unknown, index: number, parent?: Parent): void {
    if (!isObject(raw)) return this.err(at, 'expected a record');
    this.checkFields('routes', at, raw, ROUTE_FIELDS);

    const name = this.str(`${at}.name`, raw.name, {
      re: UTF8_NAME_RE,
      reMsg: `invalid value '${String(raw.name)}': the only accepted ascii characters are alphanumerics or ., -, _, and ~`,
    });

    let protocols = this.strSet(`${at}.protocols`, raw.protocols) ?? ['http', 'https'];
    if (protocols.length === 0) this.err(`${at}.protocols`, 'length must be at least 1');
    protocols.forEach((p, i) => {
      if (p !== 'http' && p !== 'https') {
        this.err(`${at}.protocols[${i}]`, `'${p}' is not supported by the Bulwark emulator (http and https only)`);
      }
    });
    protocols = protocols.filter((p) => p === 'http' || p === 'https');

    const methods = this.strSet(`${at}.methods`, raw.methods);
    methods?.forEach((m, i) => {
      if (!METHOD_RE.test(m)) this.err(`${at}.methods[${i}]`, `invalid value '${m}': must be uppercase letters`);
    });
    const hosts = this.strArray(`${at}.hosts`, raw.hosts);
    hosts?.forEach((h, i) => {
      const e = validateRouteHost(h);
      if (e) this.err(`${at}.hosts[${i}]`, e);
    });

    let paths = this.strArray(`${at}.paths`, raw.paths);
    if (paths && this.formatVersion !== '3.0') paths = paths.map(migrateLegacyPath);
    paths?.forEach((p, i) => {
      const e = validateRouterPath(p);
      if (e) this.err(`${at}.paths[${i}]`, e);
    });

    let headers: Record<string, string[]> | undefined;
    if (raw.headers !== undefined && raw.headers !== null) {
      if (!isObject(raw.headers)) {
        this.err(`${at}.headers`, 'expected a map');
      } else {
        headers = {};
        for (const [k, v] of Object.entries(raw.headers)) {
          if (!HEADER_NAME_RE.test(k))
            this.err(
              `${at}.headers.${k}`,
              `bad header name '${k}', allowed characters are A-Z, a-z, 0-9, '_', and '-'`,
            );
          else if (k.toLowerCase() === 'host') {
            this.err(`${at}.headers`, "cannot contain 'host' header, which must be specified in the 'hosts' attribute");
          }
          const vals = this.strArray(`${at}.headers.${k}`, v);
          if (vals) headers[k] = vals;
        }
      }
    }

    const regexPriority = this.int(`${at}.regex_priority`, raw.regex_priority, 0, -(2 ** 31), 2 ** 31 - 1);
    const redirect = this.int(`${at}.https_redirect_status_code`, raw.https_redirect_status_code, 426, 0, 999);
    if (![426, 301, 302, 307, 308].includes(redirect)) {
      this.err(`${at}.https_redirect_status_code`, 'expected one of: 426, 301, 302, 307, 308');
    }
    if (
      raw.path_handling !== undefined &&
      raw.path_handling !== null &&
      raw.path_handling !== 'v0' &&
      raw.path_handling !== 'v1'
    ) {
      this.err(`${at}.path_handling`, 'expected one of: v0, v1');
    }
    this.bool(`${at}.request_buffering`, raw.request_buffering, true);
    this.bool(`${at}.response_buffering`, raw.response_buffering, true);

    // routes_subschemas.lua: an http(s) route must be selectable by something.
    const has = (v: unknown[] | Record<string, unknown> | undefined) =>
      v !== undefined && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
    if (!has(methods) && !has(hosts) && !has(headers) && !has(paths)) {
      const which = protocols.includes('https') && !protocols.includes('http') ? 'https' : 'http';
      this.err(at, `must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is '${which}'`);
    }

    let serviceRef: RawRef | undefined;
    let serviceId: string | undefined;
    if (parent) {
      if (raw.service !== undefined && raw.service !== null) this.err(`${at}.service`, 'value must be null');
      serviceId = parent.id;
    } else {
      serviceRef = this.ref(`${at}.service`, raw.service);
    }

    const route: Route = {
      id:
        this.explicitId(at, raw.id) ??
        (name ? kongEntityId('routes', name) : kongEntityId('routes', `#position:${at}:${index}`)),
      ...(name !== undefined ? { name } : {}),
      ...(serviceId ? { service: serviceId } : {}),
      protocols: protocols as Protocol[],
      ...(methods ? { methods } : {}),
      ...(hosts ? { hosts } : {}),
      ...(paths ? { paths } : {}),
      ...(headers ? { headers } : {}),
      strip_path: this.bool(`${at}.strip_path`, raw.strip_path, true),
      preserve_host: this.bool(`${at}.preserve_host`, raw.preserve_host, false),
      regex_priority: regexPriority,
      https_redirect_status_code: redirect,
    };
    const tags = this.tags(`${at}.tags`, raw.tags);
    if (tags) route.tags = tags;
    this.routes.push({ route, ...(serviceRef ? { serviceRef } : {}) });

    this.nested(at, raw, 'plugins', (a, p) => this.plugin(a, p, { entity: 'routes', id: route.id }));
  }

  formatVersion = '3.0';

  // ------------------------------------------------------------------ consumers

  consumer(at: string, raw: unknown, index: number): void {
    if (!isObject(raw)) return this.err(at, 'expected a record');
    this.checkFields('consumers', at, raw, CONSUMER_FIELDS);
    const username = this.str(`${at}.username`, raw.username);
    const customId = this.str(`${at}.custom_id`, raw.custom_id);
    if (username === undefined && customId === undefined) {
      this.err(at, "at least one of these fields must be non-empty: 'custom_id', 'username'");
    }
    const consumer: Consumer = {
      id:
        this.explicitId(at, raw.id) ??
        (username !== undefined
          ? kongEntityId('consumers', username)
          : kongEntityId('consumers', `#position:${index}`)),
      ...(username !== undefined ? { username } : {}),
      ...(customId !== undefined ? { custom_id: customId } : {}),
    };
    const tags = this.tags(`${at}.tags`, raw.tags);
    if (tags) consumer.tags = tags;
    this.consumers.push(consumer);
    this.nested(at, raw, 'plugins', (a, p) => this.plugin(a, p, { entity: 'consumers', id: consumer.id }));
  }

  // ------------------------------------------------------------------ plugins

  plugin(at: string, raw: unknown, parent?: Parent): void {
    if (!isObject(raw)) return this.err(at, 'expected a record');
    this.checkFields('plugins', at, raw, PLUGIN_FIELDS);
    const name = this.str(`${at}.name`, raw.name);
    if (name === undefined) {
      if (raw.name === undefined || raw.name === null) this.err(`${at}.name`, 'required field missing');
    } else if (this.opts.knownPlugins && !this.opts.knownPlugins.has(name)) {
      // kong/db/schema/plugin_loader.lua / plugins.lua wording.
      this.err(`${at}.name`, `plugin '${name}' not enabled; add it to the 'plugins' configuration property`);
    }
    const instanceName = this.str(`${at}.instance_name`, raw.instance_name, {
      re: UTF8_NAME_RE,
      reMsg: `invalid value '${String(raw.instance_name)}': the only accepted ascii characters are alphanumerics or ., -, _, and ~`,
    });
    let config: Record<string, unknown> = {};
    if (raw.config !== undefined && raw.config !== null) {
      if (!isObject(raw.config)) this.err(`${at}.config`, 'expected a record');
      else config = raw.config;
    }
    const protocols = this.strSet(`${at}.protocols`, raw.protocols) ?? ['grpc', 'grpcs', 'http', 'https'];
    protocols.forEach((p, i) => {
      if (!['grpc', 'grpcs', 'http', 'https'].includes(p)) {
        this.err(`${at}.protocols[${i}]`, 'expected one of: grpc, grpcs, http, https');
      }
    });
    if (protocols.length === 0) this.err(`${at}.protocols`, 'length must be at least 1');

    const refs: PendingPlugin['refs'] = {};
    for (const k of ['route', 'service', 'consumer'] as const) {
      if (parent && parent.entity === `${k}s`) {
        if (raw[k] !== undefined && raw[k] !== null) this.err(`${at}.${k}`, 'value must be null');
        continue;
      }
      const r = this.ref(`${at}.${k}`, raw[k]);
      if (r) refs[k] = r;
    }

    const plugin: PluginEntity = {
      id: this.explicitId(at, raw.id) ?? '',
      name: name ?? '',
      ...(instanceName !== undefined ? { instance_name: instanceName } : {}),
      enabled: this.bool(`${at}.enabled`, raw.enabled, true),
      config,
      protocols: protocols as Protocol[],
    };
    if (parent?.entity === 'services') plugin.service = parent.id;
    if (parent?.entity === 'routes') plugin.route = parent.id;
    if (parent?.entity === 'consumers') plugin.consumer = parent.id;
    if (!plugin.id) {
      // declarative_config.lua build_cache_key: "plugins:<name>:<route>:<service>:<consumer>", where a
      // nested plugin uses its parent's id and a top-level one the reference exactly as written.
      const part = (k: 'route' | 'service' | 'consumer') =>
        plugin[k] ?? (typeof refs[k]?.value === 'string' ? (refs[k]!.value as string) : '');
      plugin.id = kongEntityId(
        'plugins',
        ['plugins', plugin.name, part('route'), part('service'), part('consumer')].join(':'),
      );
    }
    const tags = this.tags(`${at}.tags`, raw.tags);
    if (tags) plugin.tags = tags;
    this.plugins.push({ plugin, at, refs });
  }

  nested(at: string, raw: Obj, key: string, fn: (at: string, item: unknown, index: number) => void): void {
    const v = raw[key];
    if (v === undefined || v === null) return;
    const base = at === '' ? key : `${at}.${key}`;
    if (!Array.isArray(v)) return this.err(base, 'expected an array');
    v.forEach((item, i) => fn(`${base}[${i}]`, item, i));
  }

  // ------------------------------------------------------------------ cross-entity checks

  resolve(): KongConfig {
    const index = <T extends { id: string }>(
      entity: string,
      items: T[],
      keyOf: (t: T) => string | undefined,
      at: (i: number) => string,
    ) => {
      const byId = new Map<string, T>();
      const byKey = new Map<string, T>();
      items.forEach((item, i) => {
        const key = keyOf(item);
        if (key !== undefined && byKey.has(key)) {
          // Ids derived from the name collide too; one message is enough.
          this.err(at(i), `uniqueness violation: '${entity}' entity with name set to '${key}' already declared`);
        } else if (byId.has(item.id)) {
          this.err(
            at(i),
            `uniqueness violation: '${entity}' entity with primary key set to '${item.id}' already declared`,
          );
        }
        byId.set(item.id, item);
        if (key !== undefined) byKey.set(key, item);
      });
      // declarative_config.lua find_entity: endpoint key first, then primary key.
      return (ref: string) => byKey.get(ref) ?? byId.get(ref.toLowerCase());
    };
    const findService = index(
      'services',
      this.services,
      (s) => s.name,
      (i) => `services[${i}]`,
    );
    const findRoute = index(
      'routes',
      this.routes.map((r) => r.route),
      (r) => r.name,
      (i) => `routes[${i}]`,
    );
    const findConsumer = index(
      'consumers',
      this.consumers,
      (c) => c.username,
      (i) => `consumers[${i}]`,
    );
    const customIds = new Set<string>();
    this.consumers.forEach((c, i) => {
      if (c.custom_id === undefined) return;
      if (customIds.has(c.custom_id))
        this.err(`consumers[${i}].custom_id`, `uniqueness violation: custom_id '${c.custom_id}' already declared`);
      customIds.add(c.custom_id);
    });

    const dangling = (ref: RawRef, field: string, entity: string) =>
      this.err(ref.at, `invalid reference '${field}: ${String(ref.value)}' (no such entry in '${entity}')`);

    for (const { route, serviceRef } of this.routes) {
      if (!serviceRef) continue;
      const s = findService(String(serviceRef.value));
      if (s) route.service = s.id;
      else dangling(serviceRef, 'service', 'services');
    }
    const seenScopes = new Map<string, string>();
    const instanceNames = new Set<string>();
    for (const { plugin, refs, at } of this.plugins) {
      if (refs.service) {
        const s = findService(String(refs.service.value));
        if (s) plugin.service = s.id;
        else dangling(refs.service, 'service', 'services');
      }
      if (refs.route) {
        const r = findRoute(String(refs.route.value));
        if (r) plugin.route = r.id;
        else dangling(refs.route, 'route', 'routes');
      }
      if (refs.consumer) {
        const c = findConsumer(String(refs.consumer.value));
        if (c) plugin.consumer = c.id;
        else dangling(refs.consumer, 'consumer', 'consumers');
      }
      // plugins.lua cache_key {name, route, service, consumer}: one plugin of a name per scope.
      const scope = [plugin.name, plugin.route ?? '', plugin.service ?? '', plugin.consumer ?? ''].join(':');
      const first = seenScopes.get(scope);
      if (first)
        this.err(
          at,
          `uniqueness violation: plugin '${plugin.name}' is already configured on the same scope at ${first}`,
        );
      else seenScopes.set(scope, at);
      if (plugin.instance_name !== undefined) {
        if (instanceNames.has(plugin.instance_name))
          this.err(
            `${at}.instance_name`,
            `uniqueness violation: instance_name '${plugin.instance_name}' already declared`,
          );
        instanceNames.add(plugin.instance_name);
      }
    }
    index(
      'plugins',
      this.plugins.map((p) => p.plugin),
      () => undefined,
      (i) => this.plugins[i]!.at,
    );

    return {
      services: this.services,
      routes: this.routes.map((r) => r.route),
      consumers: this.consumers,
      plugins: this.plugins.map((p) => p.plugin),
    };
  }
}

/**
 * Kong 1.1/2.1 → 3.0 route path migration (kong/db/migrations/migrate_path_280_300.lua): a path made only
 * of `[a-zA-Z0-9.\-_~/%]` is a prefix and is normalised; anything else was a regex and gets a `~`, with
 * percent-encoded non-reserved characters decoded (regex metacharacters escaped).
 */
function migrateLegacyPath(path: string): string {
  if (/^[a-zA-Z0-9.\-_~/%]*$/.test(path)) return normalizeConfigPath(path);
  const META = new Set(Array.from('.^-{}\\|', (c) => c.charCodeAt(0)));
  return (
    '~' +
    path.replace(/%([0-9a-f]{2})/gi, (m, hex: string) => {
      const n = parseInt(hex, 16);
      if (RESERVED.has(n)) return m.toUpperCase();
      const ch = String.fromCharCode(n);
      return META.has(n) ? `\\${ch}` : ch;
    })
  );
}

/**
 * Parses and validates a Kong declarative configuration (YAML or JSON text) and returns its entities with
 * ids assigned and references resolved to ids. Throws DeclarativeConfigError listing every problem.
 */
export function loadDeclarative(text: string, opts: LoadDeclarativeOptions = {}): KongConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw new DeclarativeConfigError([
      `failed parsing declarative configuration: ${(e as Error).message.split('\n')[0]}`,
    ]);
  }
  if (!isObject(doc)) throw new DeclarativeConfigError(['expected an object at the top level']);

  const loader = new Loader(opts);
  const version = doc._format_version;
  if (version === undefined || version === null) {
    loader.err('_format_version', 'required field missing');
  } else if (typeof version !== 'string' || !FORMAT_VERSIONS.includes(version)) {
    loader.err('_format_version', `expected one of: ${FORMAT_VERSIONS.join(', ')}`);
  } else {
    loader.formatVersion = version;
  }
  if (doc._transform !== undefined) loader.bool('_transform', doc._transform, true);

  for (const key of Object.keys(doc)) {
    if (
      ['_format_version', '_transform', '_comment', '_ignore', 'services', 'routes', 'consumers', 'plugins'].includes(
        key,
      )
    )
      continue;
    if (UNSUPPORTED_COLLECTIONS.has(key))
      loader.err(key, `'${key}' is a Kong entity the Bulwark emulator does not support`);
    else loader.err(key, 'unknown field');
  }
  loader.nested('', doc, 'services', (at, item, i) => loader.service(at, item, i));
  loader.nested('', doc, 'routes', (at, item, i) => loader.route(at, item, i));
  loader.nested('', doc, 'consumers', (at, item, i) => loader.consumer(at, item, i));
  loader.nested('', doc, 'plugins', (at, item) => loader.plugin(at, item));

  const config = loader.resolve();
  if (loader.errors.length > 0) throw new DeclarativeConfigError(loader.errors);
  return config;
}

/** The service as a URL, e.g. `http://echo:8080/v1` (the inverse of the `url` shorthand). */
export function serviceUrl(service: Service): string {
  const host = service.host.includes(':') && !service.host.startsWith('[') ? `[${service.host}]` : service.host;
  return `${service.protocol}://${host}:${service.port}${service.path ?? ''}`;
}
