// bulwark-api-key's config: Kong's (schema-validated, defaulted) config object → a typed, precomputed form. What the
// schema cannot express is checked here; a ConfigError names the field and stops the instance (Kong answers 500).
import { ConfigError, ConfigReader } from '../lib/config';
import type { ForwardedHeaderKind } from '../lib/client-ip';
import { CidrList } from '../lib/ip';
import { redisSettingsKey, type RedisSettings } from '../lib/redis';
import { parseRedisConfig } from '../lib/redis-config';
import { isValidPrefix } from './key-format';
import { HASH_RE, parseKeyRecord, RecordError, type HashAlgorithm, type KeyRecord } from './key-record';
import { DeclarativeKeyStore, sharedRedisKeyStore, type KeyStore } from './key-store';
import type { KeySources } from './key-source';
import type { LockoutPolicy, LockoutTarget } from './lockout';

export type OutagePolicy = 'fail-closed' | 'serve-cached';

export const MIN_PEPPER_LENGTH = 32;

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

function member(record: unknown, key: string): unknown {
  return record !== null && typeof record === 'object' && !Array.isArray(record)
    ? (record as Record<string, unknown>)[key]
    : undefined;
}

function readKeys(root: ConfigReader, raw: unknown, algorithm: HashAlgorithm): KeyRecord[] {
  const value = member(raw, 'keys');
  if (value === undefined || value === null) return [];
  if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return [];
  if (!Array.isArray(value)) throw new ConfigError(root.field('keys'), 'expected an array');
  const ids = new Set<string>();
  const hashes = new Set<string>();
  return value.map((entry, i) => {
    const at = `${root.field('keys')}[${i}]`;
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
  const root = new ConfigReader(raw);
  const prefixes = root.stringArray('key_prefixes', ['bwk_live']);
  if (prefixes.length === 0) throw new ConfigError(root.field('key_prefixes'), 'at least one prefix is required');
  prefixes.forEach((p, i) => {
    if (!isValidPrefix(p))
      throw new ConfigError(
        `${root.field('key_prefixes')}[${i}]`,
        'lower-case letters and digits in words joined by single "_" (2-24)',
      );
  });

  const pepper = root.optionalSecretString('pepper');
  if (pepper !== undefined && pepper.length < MIN_PEPPER_LENGTH)
    throw new ConfigError(root.field('pepper'), `at least ${MIN_PEPPER_LENGTH} characters`);
  const algorithm: HashAlgorithm = pepper === undefined ? 'sha256' : 'hmac-sha256';

  const storeKind = root.oneOf('store', ['declarative', 'redis'] as const, 'declarative');
  const keys = readKeys(root, raw, algorithm);
  const redis = parseRedisConfig(root, raw, 'bulwark-ak');
  const c = root.record('cache');
  const onStoreError = root.oneOf<OutagePolicy>('on_store_error', ['fail-closed', 'serve-cached'], 'fail-closed');
  let store: KeyStore;
  if (storeKind === 'redis') {
    if (redis.settings === undefined)
      throw new ConfigError(
        root.record('redis').field('mode'),
        'store redis needs a Redis (standalone, sentinel or cluster)',
      );
    if (keys.length > 0)
      throw new ConfigError(root.field('keys'), 'store redis reads its keys from Redis: leave keys empty');
    store = sharedRedisKeyStore(redis.settings, redisSettingsKey(redis.settings), redis.keyPrefix, {
      ttlMs: c.integer('ttl_seconds', 10, 1, 3600) * 1000,
      negativeTtlMs: c.integer('negative_ttl_seconds', 10, 0, 3600) * 1000,
      staleMs: onStoreError === 'serve-cached' ? c.integer('stale_seconds', 300, 0, 86400) * 1000 : 0,
      maxEntries: c.integer('max_entries', 10000, 100, 1_000_000),
    });
  } else {
    store = new DeclarativeKeyStore(keys);
  }

  const keyNames = root.stringArray('key_names', ['x-api-key', 'apikey']).map((n) => n.toLowerCase());
  const schemeRaw = root.optionalString('authorization_scheme');
  if (keyNames.length === 0 && schemeRaw === undefined)
    throw new ConfigError(
      root.field('key_names'),
      'no place to read a key from (set key_names or authorization_scheme)',
    );
  const keyInQuery = root.boolean('key_in_query', false);

  const realm = root.string('realm', 'kong');
  if (!/^[A-Za-z0-9._\- ]{1,64}$/.test(realm))
    throw new ConfigError(root.field('realm'), 'letters, digits, space, ".", "_" and "-" only');

  const l = root.record('lockout');
  const lockout: LockoutPolicy | undefined = l.boolean('enabled', true)
    ? {
        maxFailures: l.integer('max_failures', 10, 1, 10000),
        windowMs: l.integer('window_seconds', 60, 1, 86400) * 1000,
        lockoutMs: l.integer('lockout_seconds', 300, 1, 86400) * 1000,
      }
    : undefined;
  const pluginId = root.optionalString('__plugin_id');
  const lockoutTarget: LockoutTarget =
    redis.settings === undefined
      ? { namespace: pluginId ?? redis.keyPrefix }
      : {
          namespace: redis.keyPrefix,
          redis: {
            settings: redis.settings,
            settingsKey: redisSettingsKey(redis.settings),
            keyPrefix: redis.keyPrefix,
          },
        };

  const anonymous = root.optionalString('anonymous');
  if (anonymous !== undefined && anonymous.trim() === '')
    throw new ConfigError(root.field('anonymous'), 'empty consumer');

  return {
    prefixes: new Set(prefixes),
    store,
    ...(pepper !== undefined ? { pepper } : {}),
    sources: {
      headers: keyNames,
      ...(schemeRaw !== undefined ? { authorizationScheme: schemeRaw.toLowerCase() } : {}),
      queryParams: keyInQuery ? keyNames : [],
    },
    keyHeaderNames: keyNames,
    hideCredentials: root.boolean('hide_credentials', true),
    ...(anonymous !== undefined ? { anonymous } : {}),
    runOnPreflight: root.boolean('run_on_preflight', true),
    realm,
    requiredScopes: root.stringArray('required_scopes'),
    onStoreError,
    ...(lockout !== undefined ? { lockout } : {}),
    lockoutTarget,
    trustedProxies: CidrList.parse(root.stringArray('trusted_proxies'), root.field('trusted_proxies')),
    forwardedHeader: root.oneOf<ForwardedHeaderKind>(
      'forwarded_header',
      ['x-forwarded-for', 'forwarded'],
      'x-forwarded-for',
    ),
    ...(redis.settings !== undefined ? { redis: redis.settings } : {}),
  };
}
