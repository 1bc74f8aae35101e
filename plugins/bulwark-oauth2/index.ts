// bulwark-oauth2: an OAuth 2.0 token endpoint (RFC 6749 client-credentials grant) issuing RFC 9068 JWT
// access tokens signed with configured keys, and the JWKS endpoint publishing their public parts.
//
// Priority 1410: just above Kong's own oauth2 (1400), among the authentication plugins (jwt 1450,
// key-auth 1250), after bulwark-transport (2600) so that HTTPS and host rules apply to the token endpoint
// too (Kong 3.9.3 handler priorities, ../../docs/kong-protocol.md §1.8).
import { definePlugin } from '../lib/plugin';
import { parseOAuth2Config, type OAuth2Config } from './config';
import { access } from './handler';
import { Schema as OAuth2Schema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<OAuth2Config, typeof OAuth2Schema>({
  name: 'bulwark-oauth2',
  priority: 1410,
  schema: OAuth2Schema,
  parseConfig: parseOAuth2Config,
  phases: { access },
});

export { OAUTH2_REASONS, type OAuth2Reason } from './reasons';
