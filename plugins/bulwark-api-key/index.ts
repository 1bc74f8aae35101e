// bulwark-api-key: API keys that secret scanners recognise (prefix + checksum), stored only as hashes, rotated
// with a grace period, looked up in a declarative list or in Redis behind in-memory caches, with a per-IP lockout
// that never locks out a valid key. Kong's key-auth shapes (401 bodies, WWW-Authenticate, anonymous, consumer
// headers) where they make sense.
//
// Priority 1260: just above Kong's key-auth (1250), as bulwark-jwt (1460) and bulwark-oauth2 (1410) sit just above
// theirs: after bulwark-transport (2600), so HTTPS and host rules apply first, and before acl (950),
// bulwark-rate-limit (915) and rate-limiting (910), which see the consumer it authenticates
// (Kong 3.9.3 handler priorities, ../../docs/kong-protocol.md §1.8).
import { definePlugin } from '../lib/plugin';
import { parseApiKeyConfig, type ApiKeyConfig } from './config';
import { access } from './handler';
import { Schema as ApiKeySchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<ApiKeyConfig, typeof ApiKeySchema>({
  name: 'bulwark-api-key',
  priority: 1260,
  schema: ApiKeySchema,
  parseConfig: parseApiKeyConfig,
  phases: { access },
});

export { API_KEY_REASONS, type ApiKeyReason } from './reasons';
