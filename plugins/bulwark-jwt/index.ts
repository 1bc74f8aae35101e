// bulwark-jwt: JWT bearer-token authentication with JWKS / OpenID Connect discovery, several issuers,
// RFC 8725 validation rules, scopes, RFC 6750 errors and a verified-token cache.
//
// Priority 1460: just above Kong's own jwt plugin (1450), so the consumer it authenticates is seen by
// acl (950) and rate-limiting (910), and below bulwark-transport (2600) so plain-HTTP requests are
// turned away before any credential is looked at (Kong 3.9 handler priorities, ../../docs/kong-protocol.md §1.8).
import { definePlugin } from '../lib/plugin';
import { parseJwtConfig, type JwtConfig } from './config';
import { access } from './handler';
import { Schema as JwtSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<JwtConfig, typeof JwtSchema>({
  name: 'bulwark-jwt',
  priority: 1460,
  schema: JwtSchema,
  parseConfig: parseJwtConfig,
  phases: { access },
});

export { JWT_REASONS, type JwtReason } from './reasons';
