// The abuse detection's two halves in bulwark-audit's phases (handler.ts calls them).
//
// access: `refuseBanned`: one ban lookup for the client IP (local cache, then the store: memory, or one Redis
//   EVALSHA); a banned client gets block_status (403, or 429 with Retry-After) and the request ends here, before
//   any authentication plugin looks at its credentials.
// log: `observeAbuse`: the request's security events (all decisions, bulwark-audit's own allow record included,
//   so every request audited is observed) become one Observation; trips and bans come back as SecurityEvents of
//   bulwark-audit, shipped with the others. Runs after the response: Redis round trips here delay no client.
//
// Reason codes (rule_id: the detector): abuse_trip (a detector tripped; decision monitor-deny in monitor, deny in
// block), abuse_ban (a client IP was banned), abuse_banned (a request refused because its IP is banned; written by
// reject), abuse_store_unavailable (Redis failed and on_redis_error is fail-closed: 503).
import type { ClientIpSettings } from '../../lib/client-ip';
import { readIdentity } from '../../lib/identity';
import { bulwarkMetrics } from '../../lib/metrics';
import type { Kong } from '../../lib/pdk';
import { buildSecurityEvent, type SecurityEvent } from '../../lib/security-event';
import { readDecisionRecords, requestFacts } from '../events';
import type { PluginLogger, RequestContext } from '../../lib/plugin';
import { sharedRedisRegistry } from '../../lib/redis';
import type { ParsedAbuse } from './config';
import { observationFromEvents, type SecurityEvent as ObservedEvent } from './detectors';
import { AbuseGuard, guardFor, type AbuseFinding } from './guard';

export const ABUSE_REASONS = {
  trip: 'abuse_trip',
  ban: 'abuse_ban',
  banned: 'abuse_banned',
  storeUnavailable: 'abuse_store_unavailable',
} as const;

export function guardOf(abuse: ParsedAbuse): AbuseGuard {
  return guardFor(abuse.namespace, () => new AbuseGuard(abuse.settings, sharedRedisRegistry));
}

/** One log line per Redis outage transition (not per request). */
async function logRedisTransition(log: PluginLogger, guard: AbuseGuard): Promise<void> {
  const h = guard.redisHealth;
  if (!h.changed) return;
  h.changed = false;
  if (h.up) await log.notice('abuse_redis_recovered', { counting: 'redis' });
  else
    await log.err('abuse_redis_unavailable', {
      error: h.lastError,
      on_redis_error: guard.settings.onRedisError,
      action:
        guard.settings.onRedisError === 'fail-closed'
          ? 'requests refused with 503 until Redis answers'
          : 'counting and bans in this node only until Redis answers',
    });
}

/** The access-phase ban check. True when the request was refused (the handler returns). */
export async function refuseBanned(ctx: RequestContext, abuse: ParsedAbuse, ip: string | undefined): Promise<boolean> {
  if (!abuse.enabled || ip === undefined) return false;
  const guard = guardOf(abuse);
  const check = await guard.checkBan(ip);
  await logRedisTransition(ctx.log, guard);
  if (check.state === 'clear') return false;
  if (check.state === 'unavailable') {
    await ctx.reject(503, undefined, undefined, { reason: ABUSE_REASONS.storeUnavailable });
    return true;
  }
  bulwarkMetrics().abuseBlocked.inc({ detector: check.detector });
  const status = abuse.settings.blockStatus;
  const headers =
    status === 429 ? { 'Retry-After': String(Math.max(1, Math.ceil(check.retryAfterMs / 1000))) } : undefined;
  await ctx.reject(status, undefined, headers, { reason: ABUSE_REASONS.banned, rule_id: check.detector });
  return true;
}

/** A finding as a SecurityEvent of bulwark-audit, with the facts of the request that caused it. */
export function findingEvent<E extends ObservedEvent & { mode: 'enforce' | 'monitor' }>(
  finding: AbuseFinding,
  request: E,
  blockStatus: number,
): E {
  const monitorOnly = finding.kind === 'trip' && finding.action === 'monitor';
  const event: E = {
    ...request,
    plugin: 'bulwark-audit',
    decision: monitorOnly ? 'monitor-deny' : 'deny',
    reason: finding.kind === 'trip' ? ABUSE_REASONS.trip : ABUSE_REASONS.ban,
    rule_id: finding.detector,
    mode: monitorOnly ? 'monitor' : 'enforce',
  };
  if (monitorOnly) delete event.status;
  else event.status = blockStatus;
  delete event.credential_fingerprint;
  delete (event as { operation?: unknown }).operation;
  return event;
}

/**
 * The log-phase counting: the request's events in, the trip and ban events out. Requests refused by a live ban are
 * not counted (a ban must not extend itself).
 */
export async function observeAbuse<E extends ObservedEvent & { mode: 'enforce' | 'monitor' }>(
  log: PluginLogger,
  abuse: ParsedAbuse,
  events: readonly E[],
  extras: { userAgent?: string; responseStatus?: number },
): Promise<E[]> {
  if (!abuse.enabled || events.length === 0) return [];
  if (events.some((e) => e.plugin === 'bulwark-audit' && e.reason === ABUSE_REASONS.banned)) return [];
  const guard = guardOf(abuse);
  const result = await guard.observe(observationFromEvents(events, extras));
  await logRedisTransition(log, guard);
  if (result.tableFull > 0)
    await log.warn('abuse_table_full', {
      max_entries: guard.settings.maxEntries,
      action: 'request not counted (subjects near their threshold are kept; raise max_entries or use Redis)',
    });
  const metrics = bulwarkMetrics();
  const out: E[] = [];
  for (const f of result.findings) {
    if (f.kind === 'trip') metrics.abuseTrips.inc({ detector: f.detector, action: f.action });
    else metrics.abuseBans.inc({ detector: f.detector });
    out.push(findingEvent(f, events[0]!, abuse.settings.blockStatus));
    await log.warn(f.kind === 'trip' ? 'abuse_trip' : 'abuse_ban', {
      detector: f.detector,
      ...(f.kind === 'trip'
        ? { subject: f.subject, action: f.action, reading: f.reading }
        : { ip: f.ip, ttl_ms: f.ttlMs }),
      counter: result.counter,
    });
  }
  return out;
}

/** Every event of this request (all decisions) and the log-entry facts the detectors need besides. */
export interface RequestEvents {
  events: SecurityEvent[];
  userAgent?: string;
  responseStatus?: number;
}

/**
 * Like events.ts collectSecurityEvents, for every decision (the detectors and the decision metrics need allows too)
 * and with the User-Agent. RPCs: one kong.log.serialize (it carries every decision record), + the identity read
 * when there is a record (always: bulwark-audit's own record is there on every request it ran on).
 */
export async function collectRequestEvents(
  kong: Pick<Kong, 'ctx' | 'log'>,
  clientIp: ClientIpSettings,
): Promise<RequestEvents> {
  const { serialized, records } = await readDecisionRecords(kong);
  if (records.length === 0) return { events: [] };
  const facts = requestFacts(serialized, clientIp, await readIdentity(kong));
  const out: RequestEvents = { events: records.map(([plugin, record]) => buildSecurityEvent(plugin, record, facts)) };
  const headers = (serialized.request as { headers?: Record<string, unknown> } | undefined)?.headers;
  const ua = headers?.['user-agent'];
  const first = Array.isArray(ua) ? ua[0] : ua;
  if (typeof first === 'string') out.userAgent = first;
  if (facts.responseStatus !== undefined) out.responseStatus = facts.responseStatus;
  return out;
}
