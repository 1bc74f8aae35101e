// bulwark-response-headers: removes upstream response headers that reveal software details (Server,
// X-Powered-By, …). An opt-in of its own, separate from bulwark-transport, because it needs Kong's `response`
// phase and a plugin with a `response` handler makes Kong buffer every request it runs on: the whole request
// body is read and the whole upstream response is held in memory before anything is sent (plugins_iterator.lua,
// kong/init.lua Kong.response). Kong decides that per plugin (the Phases the plugin server dumps), not per
// config, so only routes that configure this plugin are buffered.
//
// Priority 2590: next to bulwark-transport (2600), whose security headers it complements. Only the order among
// `response` handlers depends on it (Kong 3.9 handler priorities, ../../docs/kong-protocol.md §1.8).
import { definePlugin } from '../lib/plugin';
import { parseResponseHeadersConfig, type ResponseHeadersConfig } from './config';
import { response } from './handler';
import { Schema as ResponseHeadersSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<
  ResponseHeadersConfig,
  typeof ResponseHeadersSchema
>({
  name: 'bulwark-response-headers',
  priority: 2590,
  schema: ResponseHeadersSchema,
  parseConfig: parseResponseHeadersConfig,
  phases: { response },
});
