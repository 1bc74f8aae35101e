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
// RPC budget: access: the decision record (1). log: events.ts (serialize only when an event is shipped).
import type { PhaseContext } from '../lib/plugin';
import type { AuditConfig } from './config';
import { collectSecurityEvents } from './events';
import { shipEvents } from './sinks/registry';

export async function access(_ctx: PhaseContext<AuditConfig>): Promise<void> {
  // The ban check (abuse detectors) and the redaction come here.
}

export async function log({ kong, conf }: PhaseContext<AuditConfig>): Promise<void> {
  const events = await collectSecurityEvents(kong, conf.decisions, conf.clientIp);
  if (events.length > 0) shipEvents(conf.sinks, events);
}
