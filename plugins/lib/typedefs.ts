// Field types that more than one plugin declares alike, as Kong's kong/db/schema/typedefs.lua does for Kong's
// own plugins (typedefs.port, typedefs.header_name, ...). Each takes the plugin's own description (and, where
// plugins differ, the bound or default) and returns a field of lib/fields.ts: the Kong definition and the reader
// come from here, so two plugins cannot drift apart on what a "trusted proxy" or a "header name" is.
import { ConfigError, MAX_OUTBOUND_WAIT_MS } from './config';
import { array, boolean, integer, record, refine, string, type Infer } from './fields';
import type { RedisSettings } from './redis';

/** Lua pattern of an HTTP header name as Bulwark accepts it: letters, digits and '-'. */
export const HEADER_NAME_PATTERN = '^[%w%-]+$';
const HEADER_NAME = /^[A-Za-z0-9-]+$/;

/** A request or response header name (1–128 letters, digits, '-'). Kong's typedefs.header_name, narrower. */
export const headerName = <const D extends string | undefined = undefined>(description?: D) =>
  string({
    len_max: 128,
    match: HEADER_NAME_PATTERN,
    ...(description === undefined ? {} : { description }),
    check: (v: string) => (HEADER_NAME.test(v) ? undefined : `invalid header name ${JSON.stringify(v.slice(0, 64))}`),
  });

/**
 * CIDRs (IPv4 or IPv6, or bare addresses) of the proxies in front of Kong whose forwarding header is believed.
 * The Lua pattern only keeps out what cannot be an address; lib/ip.ts CidrList.parse checks each entry when
 * the instance starts (host bits, prefix length).
 */
export const trustedProxies = (description: string) =>
  array(string({ len_max: 64, match: '^[%x%.:]+/?%d*$' }), { len_max: 256, default: [], description });

/** Which header trusted proxies use to pass the client address (lib/client-ip.ts ForwardedHeaderKind). */
export const forwardedHeader = (description: string) =>
  string({ one_of: ['x-forwarded-for', 'forwarded'], default: 'x-forwarded-for', description });

/** Lua pattern that finds a PEM certificate block. */
export const PEM_CERTIFICATE_PATTERN = '%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-';

/** PEM certificate text (one certificate, or a bundle when `err` says so). */
export const pemCertificate = <const O extends { len_max: number; err?: string; description?: string }>(options: O) =>
  string({
    match: PEM_CERTIFICATE_PATTERN,
    err: 'expected a PEM certificate (-----BEGIN CERTIFICATE-----)',
    ...options,
  });

/** A TCP port. Kong's typedefs.port. */
export const port = <const O extends { description: string; required?: boolean; default?: number }>(options: O) =>
  integer({ ...options, between: [1, 65535] });

/**
 * Milliseconds a handler may wait on something outside Kong. At most MAX_OUTBOUND_WAIT_MS (10 s): Kong waits 60 s
 * for a step's reply and then skips the plugin (fail-open).
 */
export const outboundTimeoutMs = <const O extends { description: string; default: number; min: number }>(options: O) =>
  integer({ default: options.default, between: [options.min, MAX_OUTBOUND_WAIT_MS], description: options.description });

/**
 * A secret string that may be a vault reference ({vault://env/NAME}). Kong resolves it before the plugin sees
 * the config; the reader refuses "" (what Kong leaves of a reference it cannot resolve) and an unresolved one.
 */
export const secret = <
  const O extends { len_max: number; description?: string; required?: boolean; encrypted?: boolean },
>(
  options: O,
) => string({ ...options, referenceable: true });

/** Lua pattern of a name that goes into headers and Redis keys: letters, digits, '_', '.', '-'. */
export const SAFE_NAME_PATTERN = '^[%w_%.%-]+$';
const SAFE_NAME = /^[A-Za-z0-9_.-]+$/;

/** A name made of SAFE_NAME_PATTERN's characters (policy names, namespaces, Redis key prefixes). */
export const safeName = <
  const O extends { len_max: number; required?: boolean; default?: string; description: string },
>(
  options: O,
) =>
  refine(string({ ...options, match: SAFE_NAME_PATTERN }), (v) =>
    SAFE_NAME.test(v) ? undefined : 'letters, digits, "_", "." and "-" only',
  );

const HOST_PATTERN = '^[%w%.%-_:]+$'; // names and IP addresses (IPv6 without brackets)

/** A host name or IP address (IPv6 without brackets), at most 255 characters. */
export const hostName = <const O extends { description: string; required?: boolean; default?: string }>(options: O) =>
  refine(string({ ...options, len_max: 255, match: HOST_PATTERN }), (v) =>
    /^[A-Za-z0-9._:-]+$/.test(v) ? undefined : 'invalid host',
  );

const redisAddress = (what: string) =>
  record({
    host: hostName({ required: true, description: `Host name or IP address of a ${what}.` }),
    port: port({ required: true, description: `TCP port of the ${what}.` }),
  });

/** What differs between the plugins that keep state in Redis: the words about their use, the key prefix. */
export interface RedisFieldOptions {
  /** The record's description: what this plugin keeps in Redis, and what mode none means for it. */
  description: string;
  /** What mode `none` means for this plugin, e.g. 'in-memory'. */
  noneMeans: string;
  /** Said after the command timeout: what happens to the request when it passes. */
  afterTimeout?: string;
  keyPrefix: { default: string; description: string };
}

/**
 * A plugin's `redis` record (standalone, Sentinel or Cluster; TLS; ACL users and vault-referenced passwords;
 * timeouts; key prefix), as Kong's own plugins share one `redis` typedef. `redisSettings` reads it into the
 * connection settings lib/redis.ts takes; equal settings share one connection across plugins.
 */
export const redis = (options: RedisFieldOptions) =>
  record(
    {
      mode: string({
        one_of: ['none', 'standalone', 'sentinel', 'cluster'],
        default: 'none',
        description: `none (${options.noneMeans}), standalone (host/port), sentinel (sentinel_nodes + sentinel_master) or cluster (cluster_nodes).`,
      }),
      host: hostName({ default: '127.0.0.1', description: 'Redis host for standalone mode.' }),
      port: port({ default: 6379, description: 'Redis port for standalone mode.' }),
      database: integer({
        default: 0,
        between: [0, 15],
        description: 'Redis database number (not used in cluster mode).',
      }),
      username: secret({
        len_max: 256,
        description: 'ACL user name (Redis 6+). Unset: the default user. May be a vault reference.',
      }),
      password: secret({
        len_max: 1024,
        encrypted: true,
        description:
          'Password of the ACL user (or requirepass). May be a vault reference, e.g. {vault://env/redis-password}.',
      }),
      sentinel_master: string({
        len_max: 255,
        description: 'Name of the master group the sentinels watch (sentinel mode).',
      }),
      sentinel_nodes: array(redisAddress('Redis Sentinel'), {
        len_max: 16,
        default: [],
        description: 'Sentinel addresses (sentinel mode).',
      }),
      sentinel_username: secret({ len_max: 256, description: 'ACL user for the sentinels, if they require one.' }),
      sentinel_password: secret({
        len_max: 1024,
        encrypted: true,
        description: 'Password for the sentinels, if they require one. May be a vault reference.',
      }),
      cluster_nodes: array(redisAddress('Redis Cluster node'), {
        len_max: 64,
        default: [],
        description: 'Seed nodes of the Redis Cluster (cluster mode); the rest are discovered.',
      }),
      ssl: boolean({ default: false, description: 'Connect to Redis (and sentinels) over TLS.' }),
      ssl_verify: boolean({ default: true, description: "Verify the Redis server's TLS certificate and host name." }),
      server_name: hostName({ description: 'TLS server name (SNI and verification); unset: the host.' }),
      ssl_ca_certificate: refine(
        pemCertificate({
          len_max: 262144,
          err: 'expected PEM certificate(s) (-----BEGIN CERTIFICATE-----)',
          description: 'PEM CA certificate(s) to verify Redis with, instead of the system trust store.',
        }),
        (v) =>
          /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(v)
            ? undefined
            : 'expected PEM certificate(s)',
      ),
      connect_timeout_ms: outboundTimeoutMs({
        default: 1000,
        min: 10,
        description: 'Connection timeout to Redis in milliseconds (at most 10 s).',
      }),
      timeout_ms: outboundTimeoutMs({
        default: 500,
        min: 10,
        description: `Longest wait for one Redis reply in milliseconds (at most 10 s, well inside Kong's 60 s wait for a plugin step)${options.afterTimeout === undefined ? '' : `; ${options.afterTimeout}`}.`,
      }),
      key_prefix: safeName({ len_max: 64, ...options.keyPrefix }),
    },
    {
      required: true,
      description: options.description,
      entity_checks: [
        {
          conditional: {
            if_field: 'mode',
            if_match: { eq: 'sentinel' },
            then_field: 'sentinel_master',
            then_match: { required: true },
          },
        },
        {
          conditional: {
            if_field: 'mode',
            if_match: { eq: 'sentinel' },
            then_field: 'sentinel_nodes',
            then_match: { len_min: 1 },
          },
        },
        {
          conditional: {
            if_field: 'mode',
            if_match: { eq: 'cluster' },
            then_field: 'cluster_nodes',
            then_match: { len_min: 1 },
          },
        },
      ],
    },
  );

/** A parsed `redis` record. */
export type RedisFields = Infer<ReturnType<typeof redis>>;

/**
 * The connection settings of a parsed `redis` record (undefined: mode none). Re-checks the entity checks at
 * instance start (configs that never passed Kong: unit tests, validate-config); `path` names the record.
 */
export function redisSettings(r: RedisFields, path = 'redis'): RedisSettings | undefined {
  const mode = r.mode;
  if (mode === 'none') return undefined;
  const settings: RedisSettings = {
    mode,
    host: r.host,
    port: r.port,
    database: r.database,
    username: r.username,
    password: r.password,
    sentinelMaster: r.sentinel_master,
    sentinels: r.sentinel_nodes,
    sentinelUsername: r.sentinel_username,
    sentinelPassword: r.sentinel_password,
    clusterNodes: r.cluster_nodes,
    tls: { enabled: r.ssl, verify: r.ssl_verify, serverName: r.server_name, ca: r.ssl_ca_certificate },
    connectTimeoutMs: r.connect_timeout_ms,
    commandTimeoutMs: r.timeout_ms,
  };
  if (mode === 'sentinel') {
    if (settings.sentinelMaster === undefined)
      throw new ConfigError(`${path}.sentinel_master`, 'required in sentinel mode');
    if (settings.sentinels.length === 0)
      throw new ConfigError(`${path}.sentinel_nodes`, 'at least one sentinel is required in sentinel mode');
  }
  if (mode === 'cluster' && settings.clusterNodes.length === 0) {
    throw new ConfigError(`${path}.cluster_nodes`, 'at least one node is required in cluster mode');
  }
  return settings;
}
