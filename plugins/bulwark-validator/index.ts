// bulwark-validator: request validation against an OpenAPI 3.0/3.1 document or plain JSON Schemas, with JSON
// hardening (size, depth, counts, lengths, duplicate keys, strict UTF-8) before anything is parsed.
//
// Priority 890: after authentication (1000+) and rate limiting (910 for Kong's rate-limiting), so that the cheap
// rejects come first and validation work is spent on identified, in-quota clients; before Kong's
// request-transformer (801), which must not change the request before it is validated (Kong 3.9 handler
// priorities, ../../docs/kong-protocol.md §1.8).
import { definePlugin } from '../lib/plugin';
import { parseValidatorConfig, type ValidatorConfig } from './config';
import { access } from './handler';
import { Schema as ValidatorSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<ValidatorConfig, typeof ValidatorSchema>({
  name: 'bulwark-validator',
  priority: 890,
  schema: ValidatorSchema,
  parseConfig: parseValidatorConfig,
  phases: { access },
});

export { VALIDATOR_REASONS, type ValidatorReason } from './reasons';
