// bulwark-docs: the API's OpenAPI document and a docs UI (Swagger UI, from its npm package), served by the gateway
// on the route they describe, behind the route's own authentication, redacted (x-internal, internal servers,
// secret-looking examples, listed extensions, unused components) and filtered to what the caller may call.
//
// Priority 900: after authentication (1000+), bulwark-authz (960) and bulwark-rate-limit (915), so the docs are
// refused, authorised and counted as the API is; before bulwark-validator (890), which would refuse the docs paths
// as undocumented operations (Kong 3.9 handler priorities, ../../docs/kong-protocol.md §1.8).
import { definePlugin } from '../lib/plugin';
import { parseDocsConfig, type DocsConfig } from './config';
import { access } from './handler';
import { Schema as DocsSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<DocsConfig, typeof DocsSchema>({
  name: 'bulwark-docs',
  priority: 900,
  schema: DocsSchema,
  parseConfig: parseDocsConfig,
  phases: { access },
});
