// The `abuse` record (schema.ts) → AbuseSettings (guard.ts), seconds turned into milliseconds once.
import type { Infer } from '../../lib/fields';
import { redisSettingsKey } from '../../lib/redis';
import { redisSettings } from '../../lib/typedefs';
import type { DetectorPolicy } from './detectors';
import type { AbuseSettings } from './guard';
import type { AbuseField } from './schema';

export type AbuseConfig = NonNullable<Infer<typeof AbuseField>>;

export interface ParsedAbuse {
  enabled: boolean;
  settings: AbuseSettings;
  /** Stable text of the settings (secrets only hashed, via the Redis settings key): equal configs share counters. */
  namespace: string;
}

const policy = (d: {
  enabled: boolean;
  action: 'monitor' | 'block';
  window_seconds: number;
  ttl_seconds: number;
}): DetectorPolicy => ({
  enabled: d.enabled,
  action: d.action,
  windowMs: d.window_seconds * 1000,
  ttlMs: d.ttl_seconds * 1000,
});

export function abuseSettings(c: AbuseConfig): ParsedAbuse {
  const settings: AbuseSettings = {
    policies: {
      failed_auth_ip: { ...policy(c.failed_auth_ip), threshold: c.failed_auth_ip.threshold },
      failed_auth_credential: { ...policy(c.failed_auth_credential), threshold: c.failed_auth_credential.threshold },
      error_share: {
        ...policy(c.error_share),
        sharePercent: c.error_share.share_percent,
        minRequests: c.error_share.min_requests,
        statuses: c.error_share.statuses,
      },
      flooder: { ...policy(c.flooder), sharePercent: c.flooder.share_percent, minRequests: c.flooder.min_requests },
      bola: { ...policy(c.bola), threshold: c.bola.threshold },
      user_agents: { ...policy(c.user_agents), threshold: c.user_agents.threshold },
    },
    blockStatus: c.block_status,
    banCacheMs: c.ban_cache_ms,
    onRedisError: c.on_redis_error,
    maxEntries: c.max_entries,
  };
  const keyPrefix = c.redis.key_prefix;
  const redisConnection = redisSettings(c.redis, 'abuse.redis');
  if (redisConnection !== undefined)
    settings.redis = { settings: redisConnection, settingsKey: redisSettingsKey(redisConnection), keyPrefix };
  const { redis, ...rest } = settings;
  const namespace = JSON.stringify([rest, redis?.settingsKey ?? null, keyPrefix]);
  return { enabled: c.enabled, settings, namespace };
}
