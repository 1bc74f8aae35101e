// bulwark-audit: one security-event stream for every Bulwark plugin's decisions (lib/security-event.ts), with
// credential locations redacted in Bulwark's events and in what Kong's own log plugins serialize, shipped to
// several sinks at once (Splunk HEC, Elasticsearch, syslog, OTLP, JSON-lines file).
//
// Priority 2550: its access phase refuses banned clients, so it runs before every authentication plugin (jwt 1460,
// oauth2 1410, api-key 1260) and Kong's bot-detection (2500), after bulwark-transport (2600) and
// bulwark-response-headers (2590). The log phase runs after the response whatever the priority.
import { definePlugin } from '../lib/plugin';
import { parseAuditConfig, type AuditConfig } from './config';
import { access, log } from './handler';
import { Schema as AuditSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<AuditConfig, typeof AuditSchema>({
  name: 'bulwark-audit',
  priority: 2550,
  schema: AuditSchema,
  parseConfig: parseAuditConfig,
  phases: { access, log },
});
