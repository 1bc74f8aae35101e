// bulwark-api-key's config: the fields declared in schema.ts, read by lib/fields.ts, → a typed, precomputed form.
// Only rules across fields and precomputation (the key store, the lockout target) are here; a ConfigError names the
// field and stops the instance (Kong answers 500: fail closed).
import { ConfigError } from '../lib/config';
import type { ForwardedHeaderKind } from '../lib/client-ip';
import { readConfig, type Infer } from '../lib/fields';
import { CidrList } from '../lib/ip';
import { redisSettingsKey, type RedisSettings } from '../lib/redis';
import { redisSettings } from '../lib/typedefs';
import { HASH_RE, parseKeyRecord, RecordError, type HashAlgorithm, type KeyRecord } from './key-record';
import { DeclarativeKeyStore, sharedRedisKeyStore, type KeyStore } from './key-store';
import type { KeySources } from './key-source';
import type { LockoutPolicy, LockoutTarget } from './lockout';
import { ConfigFields } from './schema';

export { MIN_PEPPER_LENGTH } from './schema';

export type OutagePolicy = 'fail-closed' | 'serve-cached';

export interface ApiKeyConfig {
  prefixes: ReadonlySet<string>;
  store: KeyStore;
  pepper?: string;
  sources: KeySources;
  /** Every configured key header name (hide_credentials clears each spelling of them). */
  keyHeaderNames: string[];
  hideCredentials: boolean;
  anonymous?: string;
  runOnPreflight: boolean;
  realm: string;
  requiredScopes: string[];
  onStoreError: OutagePolicy;
  lockout?: LockoutPolicy;
  lockoutTarget: LockoutTarget;
  trustedProxies: CidrList;
  forwardedHeader: ForwardedHeaderKind;
  redis?: RedisSettings;
}

type RawConfig = Infer<typeof ConfigFields>;

/** The declarative keys, each parsed by the one key-record parser (also used for Redis records). */
function readKeys(entries: RawConfig['keys'], algorithm: HashAlgorithm): KeyRecord[] {
  const ids = new Set<string>();
  const hashes = new Set<string>();
  return entries.map((entry, i) => {
    const at = `keys[${i}]`;
    let record: KeyRecord;
    try {
      record = parseKeyRecord(entry, at);
    } catch (err) {
      if (err instanceof RecordError) throw new ConfigError(err.field, err.reason);
      throw err;
    }
    const alg = HASH_RE.exec(record.hash)![1];
    if (alg !== algorithm) {
      throw new ConfigError(
        `${at}.hash`,
        algorithm === 'hmac-sha256'
          ? 'a sha256 hash, but a pepper is configured (issue it again with the pepper)'
          : 'an hmac-sha256 hash needs the pepper it was made with',
      );
    }
    if (ids.has(record.id)) throw new ConfigError(`${at}.id`, `duplicate key id "${record.id}"`);
    if (hashes.has(record.hash)) throw new ConfigError(`${at}.hash`, 'the same key is listed twice');
    ids.add(record.id);
    hashes.add(record.hash);
    return record;
  });
}

export function parseApiKeyConfig(raw: unknown): ApiKeyConfig {
  const conf = readConfig(ConfigFields, raw);
  const pepper = conf.pepper;
  const algorithm: HashAlgorithm = pepper === undefined ? 'sha256' : 'hmac-sha256';
  const keys = readKeys(conf.keys, algorithm);
  const redis = redisSettings(conf.redis);
  const keyPrefix = conf.redis.key_prefix;
  const onStoreError = conf.on_store_error;
  let store: KeyStore;
  if (conf.store === 'redis') {
    if (redis === undefined)
      throw new ConfigError('redis.mode', 'store redis needs a Redis (standalone, sentinel or cluster)');
    if (keys.length > 0) throw new ConfigError('keys', 'store redis reads its keys from Redis: leave keys empty');
    const c = conf.cache;
    store = sharedRedisKeyStore(redis, redisSettingsKey(redis), keyPrefix, {
      ttlMs: c.ttl_seconds * 1000,
      negativeTtlMs: c.negative_ttl_seconds * 1000,
      staleMs: onStoreError === 'serve-cached' ? c.stale_seconds * 1000 : 0,
      maxEntries: c.max_entries,
    });
  } else {
    store = new DeclarativeKeyStore(keys);
  }

  const keyNames = conf.key_names.map((n) => n.toLowerCase());
  const scheme = conf.authorization_scheme;
  if (keyNames.length === 0 && scheme === undefined)
    throw new ConfigError('key_names', 'no place to read a key from (set key_names or authorization_scheme)');

  const l = conf.lockout;
  const lockout: LockoutPolicy | undefined = l.enabled
    ? { maxFailures: l.max_failures, windowMs: l.window_seconds * 1000, lockoutMs: l.lockout_seconds * 1000 }
    : undefined;
  const pluginId = (raw as Record<string, unknown>).__plugin_id;
  const lockoutTarget: LockoutTarget =
    redis === undefined
      ? { namespace: typeof pluginId === 'string' && pluginId !== '' ? pluginId : keyPrefix }
      : { namespace: keyPrefix, redis: { settings: redis, settingsKey: redisSettingsKey(redis), keyPrefix } };
  const anonymous = conf.anonymous;

  return {
    prefixes: new Set(conf.key_prefixes),
    store,
    ...(pepper !== undefined ? { pepper } : {}),
    sources: {
      headers: keyNames,
      ...(scheme !== undefined ? { authorizationScheme: scheme.toLowerCase() } : {}),
      queryParams: conf.key_in_query ? keyNames : [],
    },
    keyHeaderNames: keyNames,
    hideCredentials: conf.hide_credentials,
    ...(anonymous !== undefined ? { anonymous } : {}),
    runOnPreflight: conf.run_on_preflight,
    realm: conf.realm,
    requiredScopes: conf.required_scopes,
    onStoreError,
    ...(lockout !== undefined ? { lockout } : {}),
    lockoutTarget,
    trustedProxies: CidrList.parse(conf.trusted_proxies, 'trusted_proxies'),
    forwardedHeader: conf.forwarded_header,
    ...(redis !== undefined ? { redis } : {}),
  };
}
