// bulwark-transport: HTTPS enforcement, host allow-list, client-certificate (mTLS) authentication,
// security response headers and HSTS (set in access: no response handler, so Kong never buffers for it).
//
// Priority 2600: after correlation-id (100001) and zipkin (100000), before bot-detection (2500), cors
// (2000) and every authentication plugin, so that a plain-HTTP or misdirected request is turned away
// before anyone looks at its credentials (Kong 3.9.3 handler priorities, ../../docs/kong-protocol.md §1.8).
import { definePlugin } from '../lib/plugin';
import { parseTransportConfig, type TransportConfig } from './config';
import { access, certificate } from './handler';
import { Schema as TransportSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<TransportConfig, typeof TransportSchema>({
  name: 'bulwark-transport',
  priority: 2600,
  schema: TransportSchema,
  parseConfig: parseTransportConfig,
  phases: { certificate, access },
});

export { TRANSPORT_REASONS, type TransportReason } from './reasons';
