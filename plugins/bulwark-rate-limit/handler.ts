// bulwark-rate-limit's access handler: gather the identity over RPC, decide (limiter.ts), act.
//
// RPC budget per request (each kong.* call is one round trip to Kong, ../../docs/kong-protocol.md §3.2):
//   request.getHeaders(1000)    only with trusted_proxies, limit_by header, or jwt_claim_header
//                               (1000 lines or more: + log.warn + exit 431, lib/bounded-reads.ts)
//   ctx.shared.get              limit_by credential or jwt-claim: the caller's identity (docs/identity.md), which
//                               then also gives the consumer
//   client.getConsumer          limit_by consumer (the default), when the identity is not read
//                               (or no Bulwark plugin published one: Kong's own auth plugins)
//   client.getCredential        limit_by credential, when no Bulwark plugin published an identity
//   router.getRoute             limit_by route, or cost.by_route
//   router.getService           limit_by service
//   request.getPath             limit_by path
//   request.getMethod           cost.by_method
//   client.getIp                limit_by ip, or when another source is unresolved (fallback to the client IP)
//   + one of: response.setHeaders (admitted, headers shown) | response.exit (refused) | nothing (headers hidden)
//   + one log line per outage transition (not per request).
// Default config (limit_by consumer, no consumer): getConsumer + getIp + setHeaders = 3 RPCs; with a consumer: 2.
// limit_by jwt-claim or credential with a caller identity: ctx.shared.get + setHeaders = 2.
// Redis: one EVALSHA per request, whatever the number of limits.
//
// Headers on admitted requests are set here in access: a JS plugin has no header_filter, and headers a plugin sets
// in access are sent with the upstream's response (Kong keeps them in ngx.header).
import { readRequestHeaders } from '../lib/bounded-reads';
import { clientIp } from '../lib/client-ip';
import { firstHeader, type HeaderMultimap, type KongRoute } from '../lib/pdk';
import type { PhaseContext, PluginLogger } from '../lib/plugin';
import type { RateLimitConfig } from './config';
import { rateLimitHeaders } from './headers';
import { readIdentity, type BulwarkIdentity } from '../lib/identity';
import {
  identityClaimValue,
  identityCredential,
  identityDigest,
  resolveIdentity,
  type IdentityInputs,
} from './identity';
import { decide, type LimiterDecision } from './limiter';
import { RATE_LIMIT_REASONS } from './reasons';

/** Units this request consumes: route rule first, then method rule, else the default. */
export function requestCost(conf: RateLimitConfig, route: KongRoute | undefined, method: string | undefined): number {
  if (route !== undefined && conf.cost.byRoute.size > 0) {
    const byName = route.name ? conf.cost.byRoute.get(route.name) : undefined;
    const byId = conf.cost.byRoute.get(route.id);
    if (byName !== undefined) return byName;
    if (byId !== undefined) return byId;
  }
  if (method !== undefined) {
    const byMethod = conf.cost.byMethod.get(method.toUpperCase());
    if (byMethod !== undefined) return byMethod;
  }
  return conf.cost.default;
}

async function logEvents(log: PluginLogger, decision: LimiterDecision): Promise<void> {
  for (const e of decision.events) await log[e.level](e.event, e.fields);
}

export async function access(ctx: PhaseContext<RateLimitConfig>): Promise<void> {
  const { kong, conf, log, reject } = ctx;
  const needs = conf.needs;
  let headers: HeaderMultimap | undefined;
  if (needs.headers) {
    headers = await readRequestHeaders(ctx);
    if (headers === undefined) return;
  }
  const inputs: IdentityInputs = {};
  // One read gives consumer, credential and claims of a caller a Bulwark plugin authenticated; Kong's own view
  // (getConsumer/getCredential) covers callers authenticated by Kong's auth plugins, which publish no identity.
  let caller: BulwarkIdentity | undefined;
  if (needs.identity) caller = await readIdentity(kong);
  if (needs.consumer)
    inputs.consumerId = caller !== undefined ? caller.consumer?.id : (await kong.client.getConsumer())?.id;
  if (needs.credential) {
    inputs.credentialId = caller !== undefined ? identityCredential(caller) : (await kong.client.getCredential())?.id;
  }
  const route = needs.route ? ((await kong.router.getRoute()) ?? undefined) : undefined;
  inputs.routeId = route?.id;
  if (needs.service) inputs.serviceId = (await kong.router.getService())?.id;
  if (needs.path) inputs.path = await kong.request.getPath();
  if (conf.headerName !== undefined && headers !== undefined)
    inputs.headerValue = firstHeader(headers, conf.headerName);
  if (conf.jwtClaim !== undefined) {
    if (conf.jwtClaimHeader === undefined) inputs.jwtClaim = identityClaimValue(caller, conf.jwtClaim);
    else if (conf.jwtClaimHeader !== undefined && headers !== undefined)
      inputs.jwtClaim = firstHeader(headers, conf.jwtClaimHeader);
  }
  const method = needs.method ? await kong.request.getMethod() : undefined;

  // The client IP costs an RPC: fetch it only if the identity needs it (an ip part or a fallback).
  let ipNeeded = false;
  let identity = resolveIdentity(conf.limitBy, inputs, () => {
    ipNeeded = true;
    return undefined;
  });
  if (ipNeeded) {
    const ip = await clientIp(kong, conf, headers);
    identity = resolveIdentity(conf.limitBy, inputs, () => ip);
  }

  const decision = await decide(conf, identityDigest(identity.parts), requestCost(conf, route, method));
  await logEvents(log, decision);

  if (decision.source === 'fail-closed') {
    // on_redis_error fail-closed: no decision possible, nothing admitted (503 as Kong's own "no upstream" errors).
    return reject(503, undefined, undefined, { reason: RATE_LIMIT_REASONS.storeUnavailable });
  }
  const outcomes = decision.outcomes;
  const show = !conf.hideClientHeaders && outcomes !== undefined;
  const opts = { ietf: conf.ietfHeaders, legacy: conf.legacyHeaders };
  if (!decision.allowed) {
    const h = show
      ? rateLimitHeaders(conf.limits, outcomes, decision.appliedLimits, decision.windowSeconds, opts, true)
      : undefined;
    const refusedBy = outcomes === undefined ? -1 : outcomes.findIndex((o) => !o.allowed);
    const limitName = refusedBy === -1 ? undefined : conf.limits[refusedBy]?.name;
    return reject(conf.errorCode, conf.errorMessage, h, {
      reason: RATE_LIMIT_REASONS.rateLimited,
      ...(limitName === undefined ? {} : { rule_id: limitName }),
    });
  }
  if (show) {
    const h = rateLimitHeaders(conf.limits, outcomes, decision.appliedLimits, decision.windowSeconds, opts, false);
    if (Object.keys(h).length > 0) await kong.response.setHeaders(h);
  }
}
