// The `redis` config record of a Bulwark plugin that keeps state in Redis: its Kong schema fields and the parser
// that turns it into `RedisSettings` (lib/redis.ts). The same fields, bounds and checks as bulwark-rate-limit's
// `redis` record (which predates this module and still has its own copy), so an operator configures every plugin's
// Redis the same way and equal settings share one connection (lib/redis.ts registry).
import { ConfigError, ConfigReader, MAX_OUTBOUND_WAIT_MS } from './config';
import type { RedisAddress, RedisSettings } from './redis';

const HOST_PATTERN = '^[%w%.%-_:]+$'; // names and IP addresses (IPv6 without brackets)
const PEM_CERTIFICATE = '%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-';
const NAME_PATTERN = '^[%w_%.%-]+$';
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

const address = (what: string) => ({
  type: 'record',
  fields: [
    {
      host: {
        type: 'string',
        required: true,
        len_max: 255,
        match: HOST_PATTERN,
        description: `Host name or IP address of a ${what}.`,
      },
    },
    { port: { type: 'integer', required: true, between: [1, 65535], description: `TCP port of the ${what}.` } },
  ],
});

/** The schema of a `redis` record; `purpose` completes the record's description, `keyPrefix` is the default prefix. */
export function redisSchemaField(purpose: string, keyPrefix: string): Record<string, unknown> {
  return {
    type: 'record',
    required: true,
    description: purpose,
    fields: [
      {
        mode: {
          type: 'string',
          one_of: ['none', 'standalone', 'sentinel', 'cluster'],
          default: 'none',
          description:
            'none (no Redis), standalone (host/port), sentinel (sentinel_nodes + sentinel_master) or cluster (cluster_nodes).',
        },
      },
      {
        host: {
          type: 'string',
          default: '127.0.0.1',
          len_max: 255,
          match: HOST_PATTERN,
          description: 'Redis host for standalone mode.',
        },
      },
      { port: { type: 'integer', default: 6379, between: [1, 65535], description: 'Redis port for standalone mode.' } },
      {
        database: {
          type: 'integer',
          default: 0,
          between: [0, 15],
          description: 'Redis database number (not used in cluster mode).',
        },
      },
      {
        username: {
          type: 'string',
          len_max: 256,
          referenceable: true,
          description: 'ACL user name (Redis 6+). Unset: the default user. May be a vault reference.',
        },
      },
      {
        password: {
          type: 'string',
          len_max: 1024,
          referenceable: true,
          encrypted: true,
          description:
            'Password of the ACL user (or requirepass). May be a vault reference, e.g. {vault://env/redis-password}.',
        },
      },
      {
        sentinel_master: {
          type: 'string',
          len_max: 255,
          description: 'Name of the master group the sentinels watch (sentinel mode).',
        },
      },
      {
        sentinel_nodes: {
          type: 'array',
          len_max: 16,
          default: [],
          elements: address('Redis Sentinel'),
          description: 'Sentinel addresses (sentinel mode).',
        },
      },
      {
        sentinel_username: {
          type: 'string',
          len_max: 256,
          referenceable: true,
          description: 'ACL user for the sentinels, if they require one.',
        },
      },
      {
        sentinel_password: {
          type: 'string',
          len_max: 1024,
          referenceable: true,
          encrypted: true,
          description: 'Password for the sentinels, if they require one. May be a vault reference.',
        },
      },
      {
        cluster_nodes: {
          type: 'array',
          len_max: 64,
          default: [],
          elements: address('Redis Cluster node'),
          description: 'Seed nodes of the Redis Cluster (cluster mode); the rest are discovered.',
        },
      },
      { ssl: { type: 'boolean', default: false, description: 'Connect to Redis (and sentinels) over TLS.' } },
      {
        ssl_verify: {
          type: 'boolean',
          default: true,
          description: "Verify the Redis server's TLS certificate and host name.",
        },
      },
      {
        server_name: {
          type: 'string',
          len_max: 255,
          match: HOST_PATTERN,
          description: 'TLS server name (SNI and verification); unset: the host.',
        },
      },
      {
        ssl_ca_certificate: {
          type: 'string',
          len_max: 262144,
          match: PEM_CERTIFICATE,
          err: 'expected PEM certificate(s) (-----BEGIN CERTIFICATE-----)',
          description: 'PEM CA certificate(s) to verify Redis with, instead of the system trust store.',
        },
      },
      {
        connect_timeout_ms: {
          type: 'integer',
          default: 1000,
          between: [10, 10000],
          description: 'Connection timeout to Redis in milliseconds (at most 10 s).',
        },
      },
      {
        timeout_ms: {
          type: 'integer',
          default: 500,
          between: [10, 10000],
          description:
            "Longest wait for one Redis reply in milliseconds (at most 10 s, well inside Kong's 60 s wait for a plugin step).",
        },
      },
      {
        key_prefix: {
          type: 'string',
          default: keyPrefix,
          len_max: 64,
          match: NAME_PATTERN,
          description: 'Prefix of every key this plugin reads or writes in Redis.',
        },
      },
    ],
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
  };
}

/** A raw member of a config record. */
function member(record: unknown, key: string): unknown {
  return record !== null && typeof record === 'object' && !Array.isArray(record)
    ? (record as Record<string, unknown>)[key]
    : undefined;
}

function parseAddresses(parent: ConfigReader, key: string, rawParent: unknown): RedisAddress[] {
  const value = member(rawParent, key);
  if (value === undefined || value === null) return [];
  if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return [];
  if (!Array.isArray(value)) throw new ConfigError(parent.field(key), 'expected an array');
  return value.map((v, i) => {
    const r = new ConfigReader(v, `${parent.field(key)}[${i}]`);
    const host = r.string('host');
    if (!/^[A-Za-z0-9._:-]{1,255}$/.test(host)) throw new ConfigError(r.field('host'), 'invalid host');
    return { host, port: r.integer('port', 0, 1, 65535) };
  });
}

export interface ParsedRedisConfig {
  /** undefined: mode none. */
  settings?: RedisSettings;
  keyPrefix: string;
}

/** The `redis` record of `root` (raw: the same record as Kong sent it). */
export function parseRedisConfig(root: ConfigReader, rawRoot: unknown, defaultKeyPrefix: string): ParsedRedisConfig {
  const r = root.record('redis');
  const rawRedis = member(rawRoot, 'redis');
  const keyPrefix = r.string('key_prefix', defaultKeyPrefix);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(keyPrefix))
    throw new ConfigError(r.field('key_prefix'), 'letters, digits, "_", "." and "-" only');
  const mode = r.oneOf('mode', ['none', 'standalone', 'sentinel', 'cluster'] as const, 'none');
  if (mode === 'none') return { keyPrefix };
  const caText = r.optionalString('ssl_ca_certificate');
  if (caText !== undefined && !PEM_CERT.test(caText))
    throw new ConfigError(r.field('ssl_ca_certificate'), 'expected PEM certificate(s)');
  const settings: RedisSettings = {
    mode,
    host: r.string('host', '127.0.0.1'),
    port: r.integer('port', 6379, 1, 65535),
    database: r.integer('database', 0, 0, 15),
    username: r.optionalSecretString('username'),
    password: r.optionalSecretString('password'),
    sentinelMaster: r.optionalString('sentinel_master'),
    sentinels: parseAddresses(r, 'sentinel_nodes', rawRedis),
    sentinelUsername: r.optionalSecretString('sentinel_username'),
    sentinelPassword: r.optionalSecretString('sentinel_password'),
    clusterNodes: parseAddresses(r, 'cluster_nodes', rawRedis),
    tls: {
      enabled: r.boolean('ssl', false),
      verify: r.boolean('ssl_verify', true),
      serverName: r.optionalString('server_name'),
      ca: caText,
    },
    connectTimeoutMs: r.integer('connect_timeout_ms', 1000, 10, MAX_OUTBOUND_WAIT_MS),
    commandTimeoutMs: r.integer('timeout_ms', 500, 10, MAX_OUTBOUND_WAIT_MS),
  };
  if (mode === 'sentinel') {
    if (settings.sentinelMaster === undefined)
      throw new ConfigError(r.field('sentinel_master'), 'required in sentinel mode');
    if (settings.sentinels.length === 0)
      throw new ConfigError(r.field('sentinel_nodes'), 'at least one sentinel is required in sentinel mode');
  }
  if (mode === 'cluster' && settings.clusterNodes.length === 0) {
    throw new ConfigError(r.field('cluster_nodes'), 'at least one node is required in cluster mode');
  }
  return { settings, keyPrefix };
}
