// bulwark-threat-protection: injection detection with the OWASP Core Rule Set (CRS 3.3 or 4.x) compiled to
// linear-time matchers (RE2 sets, Aho–Corasick) and CRS's anomaly scoring.
//
// Priority 880: after authentication (jwt 1460, oauth2 1410), rate limiting (915) and bulwark-validator (890), as the
// root README's table plans. Rate limiting first keeps a flood of hostile requests from buying CPU time here; the
// validator first refuses what the API's schema does not describe with its cheaper check, and both see the same
// JSON through lib/json-guard.ts. An attack inside a schema-valid value (a string field) reaches this plugin.
import { definePlugin } from '../lib/plugin';
import { parseThreatProtectionConfig, type ThreatProtectionConfig } from './config';
import { access } from './handler';
import { Schema as ThreatProtectionSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<
  ThreatProtectionConfig,
  typeof ThreatProtectionSchema
>({
  name: 'bulwark-threat-protection',
  priority: 880,
  schema: ThreatProtectionSchema,
  parseConfig: parseThreatProtectionConfig,
  phases: { access },
});
