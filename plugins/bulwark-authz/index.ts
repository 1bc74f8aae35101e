// bulwark-authz: per-operation authorization with default deny, object-level (BOLA) conditions, optional CEL
// expressions and an optional OpenID AuthZEN decision point, over the caller identity the authentication plugins
// publish (docs/identity.md).
//
// Priority 960: after every authentication plugin (bulwark-api-key 1260, Kong's key-auth 1250, …) and just above
// Kong's acl (950), before bulwark-rate-limit (915) so that refused requests consume no quota, and before
// bulwark-validator (890) (Kong 3.9 handler priorities, ../../docs/kong-protocol.md §1.8).
import { definePlugin } from '../lib/plugin';
import { parseAuthzConfig, type AuthzConfig } from './config';
import { access } from './handler';
import { Schema as AuthzSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<AuthzConfig, typeof AuthzSchema>({
  name: 'bulwark-authz',
  priority: 960,
  schema: AuthzSchema,
  parseConfig: parseAuthzConfig,
  phases: { access },
});

export { AUTHZ_REASONS, type AuthzReason } from './reasons';
export { allowedOperations, type AllowedOperation, type OperationRule } from './allowed-operations';
