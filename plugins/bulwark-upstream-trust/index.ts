// bulwark-upstream-trust: signs, for the upstream, who the caller is and which request the gateway let through
// (method, target after strip_path/rewrites, Host, body digest), in a short-lived JWT or RFC 9421 signature,
// so that a backend can refuse every request that did not come through the gateway. The verifier kit for
// backends is ./verifier (package entry `bulwark/upstream-trust-verifier`).
//
// Priority 790: the lowest of Bulwark's request-deciding plugins, below authentication (jwt 1460, oauth2 1410,
// api-key 1260), authorization (960), rate limiting (915), validation (890), threat protection (880) and Kong's
// request-transformer (801), so that it signs the request as those left it (README priority table).
import { definePlugin } from '../lib/plugin';
import { parseUpstreamTrustConfig, type UpstreamTrustConfig } from './config';
import { access } from './handler';
import { Schema as UpstreamTrustSchema } from './schema';

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<
  UpstreamTrustConfig,
  typeof UpstreamTrustSchema
>({
  name: 'bulwark-upstream-trust',
  priority: 790,
  schema: UpstreamTrustSchema,
  parseConfig: parseUpstreamTrustConfig,
  phases: { access },
});

export { UPSTREAM_TRUST_REASONS, type UpstreamTrustReason } from './reasons';
