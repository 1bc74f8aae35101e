// bulwark-audit's phase handlers.
//
// access (priority 2550: after bulwark-transport, before every authentication plugin): the place of the abuse
// ban check (a banned client is refused before its credentials are looked at) and of the redaction of credential
// locations in what Kong's log plugins serialize (it must happen before the log phase: Kong saves the serialized
// entry when the log phase starts).
//
// log (after the response, from a Kong timer): builds the request's security events from the plugins' decision
// records (events.ts) and hands them to the sinks (never awaited: shipping happens in the background, bounded).
//
// RPC budget: access: getHeaders + getPathWithQuery + one setSerializeValue per credential found (none on a
// request without credentials in the known places; Authorization is redacted by Kong itself) + 3 (scheme, host,
// port: the redacted request.url) when the query carried one + the decision record. log: events.ts.
import type { PhaseContext } from '../lib/plugin';
import type { AuditConfig } from './config';
import { collectSecurityEvents } from './events';
import { redactionEdits } from './redaction';
import { shipEvents } from './sinks/registry';

export async function access({ kong, conf }: PhaseContext<AuditConfig>): Promise<void> {
  // The ban check (abuse detectors) comes first here.
  await redactCredentials(kong, conf);
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

export async function log({ kong, conf }: PhaseContext<AuditConfig>): Promise<void> {
  const events = await collectSecurityEvents(kong, conf.decisions, conf.clientIp);
  if (events.length > 0) shipEvents(conf.sinks, events);
}
