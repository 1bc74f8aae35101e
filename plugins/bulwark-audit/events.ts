// The log-phase half of the security-event contract: read Kong's serialized log entry once (it carries every
// Bulwark plugin's decision record under `bulwark.decisions`, lib/security-event.ts) and build SecurityEvents. Runs
// after the response (Kong calls an external plugin's log handler from a timer: kong/runloop/plugin_servers/
// plugin.lua build_phases), so none of it adds latency to the request.
//
// RPC budget (log phase): 1 kong.log.serialize (the records come with it) + 1 identity read when there is a record.
// Kong answers both from the data it saved at the start of the log phase (plugin.lua 3.9.3 lines 47-50, 70-74:
// serialize_data and ctx_shared of get_saved_req_data, saved at line 163-165).
import { clientAddress, type ClientIpSettings } from '../lib/client-ip';
import { readIdentity, type BulwarkIdentity } from '../lib/identity';
import type { HeaderMultimap, Kong } from '../lib/pdk';
import {
  buildSecurityEvent,
  decisionRecordsFromEntry,
  type Decision,
  type DecisionRecord,
  type RequestFacts,
  type SecurityEvent,
} from '../lib/security-event';

type Json = Record<string, unknown>;

const asObject = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
const asString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function entityRef(v: unknown): { id?: string; name?: string } | undefined {
  const o = asObject(v);
  if (!o) return undefined;
  const ref: { id?: string; name?: string } = {};
  const id = asString(o.id);
  const name = asString(o.name);
  if (id !== undefined) ref.id = id;
  if (name !== undefined) ref.name = name;
  return id === undefined && name === undefined ? undefined : ref;
}

function hostOf(url: string | undefined, headers: Json | undefined): string {
  const header = headers?.host;
  const first = Array.isArray(header) ? header[0] : header;
  if (typeof first === 'string' && first !== '') return first.replace(/:\d+$/, '');
  const m = url === undefined ? null : /^[a-z]+:\/\/([^/:?#]+)/i.exec(url);
  return m?.[1] ?? '';
}

/** The request facts an event needs, from Kong's serialized log entry (kong/pdk/log.lua serialize). */
export function requestFacts(
  serialized: Json,
  clientIp: ClientIpSettings,
  identity: BulwarkIdentity | undefined,
): RequestFacts {
  const request = asObject(serialized.request) ?? {};
  const response = asObject(serialized.response) ?? {};
  const headers = asObject(request.headers);
  const responseHeaders = asObject(response.headers);
  const uri = asString(request.uri) ?? '/';
  const requestId =
    asString(request.id) ?? asString(responseHeaders?.['x-kong-request-id']) ?? asString(headers?.['x-request-id']);
  const facts: RequestFacts = {
    startedAt: typeof serialized.started_at === 'number' ? serialized.started_at : Date.now(),
    requestId: requestId ?? '',
    method: asString(request.method) ?? '',
    host: hostOf(asString(request.url), headers),
    path: uri,
  };
  if (typeof response.status === 'number') facts.responseStatus = response.status;
  const route = entityRef(serialized.route);
  if (route) facts.route = route;
  const service = entityRef(serialized.service);
  if (service) facts.service = service;
  const ip = clientAddress(serialized.client_ip, headers as HeaderMultimap | undefined, clientIp);
  if (ip !== undefined) facts.clientIp = ip;
  if (identity) {
    const id: NonNullable<SecurityEvent['identity']> = {};
    const consumer = identity.consumer?.username ?? identity.consumer?.id;
    if (consumer !== undefined) id.consumer = consumer;
    if (identity.credential) {
      id.credential_kind = identity.credential.kind;
      id.credential_id = identity.credential.id;
    } else if (identity.method !== 'anonymous') id.credential_kind = identity.method;
    if (identity.subject !== undefined) id.subject = identity.subject;
    if (Object.keys(id).length > 0) facts.identity = id;
  }
  return facts;
}

/** Kong's serialized log entry (kong.log.serialize: one RPC; the plugin server gets it as a JSON string). */
export async function readSerializedEntry(kong: Pick<Kong, 'log'>): Promise<Json> {
  const text = await kong.log.serialize();
  try {
    return asObject(typeof text === 'string' ? JSON.parse(text) : text) ?? {};
  } catch {
    return {}; // unreadable: no records, hence no events (never a wrong one)
  }
}

/** The serialized entry and the decision records it carries, in DECIDING_PLUGINS order (one RPC). */
export async function readDecisionRecords(
  kong: Pick<Kong, 'log'>,
): Promise<{ serialized: Json; records: [string, DecisionRecord][] }> {
  const serialized = await readSerializedEntry(kong);
  return { serialized, records: decisionRecordsFromEntry(serialized) };
}

/** All events of this request whose decision is in `decisions`; [] (and no further RPC) when no record matches. */
export async function collectSecurityEvents(
  kong: Pick<Kong, 'ctx' | 'log'>,
  decisions: ReadonlySet<Decision>,
  clientIp: ClientIpSettings,
): Promise<SecurityEvent[]> {
  const { serialized, records: all } = await readDecisionRecords(kong);
  const records = all.filter(([, r]) => decisions.has(r.decision));
  if (records.length === 0) return [];
  const facts = requestFacts(serialized, clientIp, await readIdentity(kong));
  return records.map(([plugin, record]) => buildSecurityEvent(plugin, record, facts));
}
