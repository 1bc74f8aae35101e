// bulwark-rate-limit: accurate distributed rate limiting and quotas on Redis (standalone, Sentinel, Cluster):
// sliding window or GCRA, several limits decided in one round trip with Redis's clock, identity from consumer,
// credential, client IP (trusted proxies), header, path, service, route, a JWT claim or a compound, weighted
// costs, calendar day/month quotas, IETF RateLimit headers, and an explicit Redis outage policy.
//
// Priority 915: just above Kong's rate-limiting (910) and after every authentication plugin (key-auth 1250,
// jwt 1450, …) so the consumer is known when the identity is chosen (Kong 3.9.3 priorities,
// ../../docs/kong-protocol.md §1.8).
import { definePlugin } from '../lib/plugin';
import { parseRateLimitConfig, type RateLimitConfig } from './config';
import { access } from './handler';
import { Schema as RateLimitSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<RateLimitConfig, typeof RateLimitSchema>({
  name: 'bulwark-rate-limit',
  priority: 915,
  schema: RateLimitSchema,
  parseConfig: parseRateLimitConfig,
  phases: { access },
});

export { RATE_LIMIT_REASONS, type RateLimitReason } from './reasons';
