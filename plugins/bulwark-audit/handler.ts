// bulwark-audit's phase handlers.
//
// access (priority 2550: after bulwark-transport, before every authentication plugin): the redaction of
// credential locations in what Kong's log plugins serialize (it must happen before the log phase: Kong saves the
// serialized entry when the log phase starts; it comes first so that a request refused here is redacted too), then
// the abuse ban check (a banned client is refused before its credentials are looked at: abuse/phases.ts
// refuseBanned).
//
// log (after the response, from a Kong timer): builds the request's security events from the plugins' decision
// records, counts them in bulwark_decisions_total (lib/metrics.ts), feeds them to the abuse detectors, and hands
// those in `decisions` (plus the abuse trips and bans) to the sinks (never awaited: shipping happens in the
// background, bounded).
//
// RPC budget: access: getHeaders + getPathWithQuery + one setSerializeValue per credential found (none on a
// request without credentials in the known places; Authorization is redacted by Kong itself) + 3 (scheme, host,
// port: the redacted request.url) when the query carried one + the decision record; with abuse on, +
// kong.client.get_ip (1) (+ the bounded header read, 1, when trusted_proxies is set) + 0 (the ban lookup is local
// or Redis, no PDK call). log: kong.log.serialize (1: it carries every decision record) + the identity (1);
// with abuse in Redis: one EVALSHA per detector measure.
import { readRequestHeaders } from '../lib/bounded-reads';
import { clientIp } from '../lib/client-ip';
import { countDecision, setSinkCountersSource } from '../lib/metrics';
import { ensureOtlpMetrics } from '../lib/metrics-otlp';
import type { PhaseContext } from '../lib/plugin';
import { collectRequestEvents, observeAbuse, refuseBanned } from './abuse/phases';
import type { AuditConfig } from './config';
import { redactionEdits } from './redaction';
import { shipEvents } from './sinks/registry';
import { sinkStats } from './sinks/stats';

setSinkCountersSource(sinkStats);

export async function access(ctx: PhaseContext<AuditConfig>): Promise<void> {
  const { kong, conf } = ctx;
  await redactCredentials(kong, conf);
  if (conf.abuse.enabled) {
    let headers;
    if (!conf.clientIp.trustedProxies.isEmpty) {
      headers = await readRequestHeaders(ctx);
      if (headers === undefined) return; // refused (too many header lines)
    }
    if (await refuseBanned(ctx, conf.abuse, await clientIp(kong, conf.clientIp, headers))) return;
  }
}

/** Replaces credential values in what Kong's log plugins will serialize (redaction.ts). */
async function redactCredentials(kong: PhaseContext<AuditConfig>['kong'], conf: AuditConfig): Promise<void> {
  // Kong's serializer reads get_headers() with its default cap (100): the same view.
  const headers = await kong.request.getHeaders();
  const pathWithQuery = await kong.request.getPathWithQuery();
  let url: { scheme: string; host: string; port: number } | undefined;
  if (pathWithQuery.includes('?')) {
    const probe = redactionEdits({}, pathWithQuery, undefined, conf.redaction);
    if (probe.length > 0) {
      url = {
        scheme: await kong.request.getScheme(),
        host: await kong.request.getHost(),
        port: await kong.request.getPort(),
      };
    }
  }
  for (const edit of redactionEdits(headers, pathWithQuery, url, conf.redaction))
    await kong.log.setSerializeValue(edit.key, edit.value, { mode: edit.mode });
}

export async function log(ctx: PhaseContext<AuditConfig>): Promise<void> {
  const { kong, conf } = ctx;
  if (conf.metricsOtlp) ensureOtlpMetrics(conf.metricsOtlp); // two Map lookups once started (lib/metrics-otlp.ts)
  const { events, userAgent, responseStatus } = await collectRequestEvents(kong, conf.clientIp);
  const abuseEvents = await observeAbuse(ctx.log, conf.abuse, events, {
    ...(userAgent === undefined ? {} : { userAgent }),
    ...(responseStatus === undefined ? {} : { responseStatus }),
  });
  const all = [...events, ...abuseEvents];
  for (const e of all)
    countDecision({ plugin: e.plugin, decision: e.decision, reason: e.reason, route: e.route?.name ?? e.route?.id });
  const shipped = all.filter((e) => conf.decisions.has(e.decision));
  if (shipped.length > 0) shipEvents(conf.sinks, shipped);
}
