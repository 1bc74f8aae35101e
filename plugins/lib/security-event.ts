// The security-event contract: how every Bulwark plugin records its decision about a request, and the one event
// shape bulwark-audit builds from those records after the response (mapped per sink to ECS, OCSF or OTel).
//
// Recording: a deciding plugin writes ONE decision record, a small table (decision, reason code, rule id, status,
// mode; the presented credential's fingerprint, lib/credential-fingerprint.ts, where the plugin saw one; the caller,
// for a plugin that answers the request itself), with ONE `kong.log.set_serialize_value("bulwark.decisions.<plugin>",
// record)`. definePlugin (lib/plugin.ts) writes it: after an access handler lets the request through (the record
// bulwark-guard checks, kong/plugins/bulwark-guard), before a plugin's own kong.response.exit when it recorded a
// decision (ctx.record), and in `reject(status, body, headers, {reason, rule_id})` just before the exit. So
// recording costs at most one RPC per deciding plugin and request.
//
// Where Kong keeps it (Kong 3.9.3, kong/pdk/log.lua): set_serialize_value (line 636; allowed in rewrite, access,
// header_filter, response, body_filter and log: phases_with_ctx, lines 73-79) appends {key, value, mode} to
// `ngx.ctx.serialize_values` (lines 648-661), per request and only inside Kong: a client cannot forge it.
// serialize() applies the list in order (edit_result, lines 708-755, called at 930-933): the key is split on "."
// and missing sub-tables are created, so every record lands in the serialized entry as
// `bulwark.decisions["<plugin>"]`; the last write of a key wins. A value must be nil, a number, string, boolean or a table of those (is_valid_value,
// lines 669-704; anything else makes serialize() raise): a record is a table of strings, numbers and booleans.
// Kong's own log plugins (file-log, http-log, …) therefore carry the `bulwark.decisions` object in every entry:
// records hold reason codes, rule ids, statuses and fingerprints, never a credential.
//
// Building: bulwark-audit's log phase reads every record from the one kong.log.serialize it makes (the plugin
// server's override returns the entry Kong serialized when the log phase started, edits included:
// kong/runloop/plugin_servers/plugin.lua lines 47-50 and 163) and turns them into SecurityEvents
// (`buildSecurityEvent`, pure).
import type { Kong } from './pdk';

export type Decision = 'allow' | 'deny' | 'monitor-deny' | 'error';
export const DECISIONS: readonly Decision[] = ['allow', 'deny', 'monitor-deny', 'error'];
export type Mode = 'enforce' | 'monitor';

/** The reason of every allow record. */
export const REASON_ALLOWED = 'allowed';
/** The reason of definePlugin's fail-closed 500 (a handler threw) and of a reject that gave no reason. */
export const REASON_INTERNAL_ERROR = 'internal_error';
export const REASON_UNSPECIFIED = 'unspecified';

/** Reason codes every plugin can produce through definePlugin itself. */
export const COMMON_REASONS = {
  allowed: REASON_ALLOWED,
  internal_error: REASON_INTERNAL_ERROR,
  unspecified: REASON_UNSPECIFIED,
} as const;

export interface SecurityEvent {
  /** ISO 8601 UTC, milliseconds. */
  timestamp: string;
  /** Kong's request id (X-Kong-Request-Id). */
  request_id: string;
  plugin: string;
  decision: Decision;
  /** Stable, documented per-plugin code (each plugin's exported reason constants). */
  reason: string;
  rule_id?: string;
  /** The status the plugin sent (deny/error) or the response status (allow, monitor-deny). */
  status?: number;
  mode: Mode;
  route?: { id?: string; name?: string };
  service?: { id?: string; name?: string };
  client_ip?: string;
  /** path WITHOUT the query string. */
  http: { method: string; host: string; path: string };
  operation?: { id?: string; path_template: string; deprecated?: boolean } | null;
  identity?: EventIdentity;
  /** Which credential was presented, never the credential: `<label>:<digest>` (lib/credential-fingerprint.ts). */
  credential_fingerprint?: string;
}

/** The caller as an event names it (from the identity contract, or from the deciding plugin's record). */
export interface EventIdentity {
  consumer?: string;
  credential_kind?: string;
  credential_id?: string;
  subject?: string;
}

/** What a plugin states when it decides (reject's 4th argument, ctx.record). */
export interface DecisionOutcome {
  reason: string;
  rule_id?: string;
  /** The validator's resolved operation; null: the request matched no documented operation. */
  operation?: SecurityEvent['operation'];
  /** The presented credential's fingerprint (lib/credential-fingerprint.ts), where the plugin saw one. */
  credential_fingerprint?: string;
  /**
   * The caller as this plugin identified it, for a plugin that answers the request itself and so publishes no
   * identity record (bulwark-oauth2: the client id). Takes the place of the request's identity in this event.
   */
  identity?: EventIdentity;
}

/** The record stored in Kong's serialize values (a Lua table inside Kong). */
export interface DecisionRecord {
  decision: Decision;
  reason: string;
  rule_id?: string;
  status?: number;
  mode: Mode;
  /** Set by plugins that know them (e.g. the validator's matched operation); carried into the event. */
  operation?: SecurityEvent['operation'];
  credential_fingerprint?: string;
  identity?: EventIdentity;
}

/** The set_serialize_value key prefix: the records land in the serialized entry's `bulwark.decisions` object. */
export const DECISION_RECORD_PREFIX = 'bulwark.decisions.';

/** The set_serialize_value key of a plugin's decision record ("." separates sub-tables; plugin names have none). */
export function decisionRecordKey(pluginName: string): string {
  return DECISION_RECORD_PREFIX + pluginName;
}

/** Bounds on what a record carries (they also bound the RPC payload). */
export const RECORD_LIMITS = { reason: 64, ruleId: 256, fingerprint: 128, pathTemplate: 512, identity: 256 } as const;

const REASON_PATTERN = /^[a-z][a-z0-9_]*$/;

/** True for a well-formed reason code: lower snake case, at most 64 characters. */
export function isReasonCode(value: unknown): value is string {
  return typeof value === 'string' && value.length <= RECORD_LIMITS.reason && REASON_PATTERN.test(value);
}

function bounded(value: string, max: number): string {
  return value.length > max ? value.slice(0, max) : value;
}

/** A record ready for kong.log.set_serialize_value. A malformed reason (a plugin bug) becomes `unspecified`. */
export function decisionRecord(
  decision: Decision,
  outcome: Partial<DecisionOutcome> = {},
  status?: number,
): DecisionRecord {
  const record: DecisionRecord = {
    decision,
    reason: isReasonCode(outcome.reason) ? outcome.reason : decision === 'allow' ? REASON_ALLOWED : REASON_UNSPECIFIED,
    mode: decision === 'monitor-deny' ? 'monitor' : 'enforce',
  };
  if (outcome.rule_id !== undefined) record.rule_id = bounded(String(outcome.rule_id), RECORD_LIMITS.ruleId);
  if (status !== undefined) record.status = status;
  if (outcome.operation !== undefined) record.operation = outcome.operation;
  if (outcome.credential_fingerprint !== undefined)
    record.credential_fingerprint = bounded(outcome.credential_fingerprint, RECORD_LIMITS.fingerprint);
  const identity = eventIdentity(outcome.identity);
  if (identity !== undefined) record.identity = identity;
  return record;
}

const IDENTITY_FIELDS = ['consumer', 'credential_kind', 'credential_id', 'subject'] as const;

/** A record's identity: its non-empty string fields, bounded; undefined when none is left. */
function eventIdentity(raw: unknown): EventIdentity | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const out: EventIdentity = {};
  for (const field of IDENTITY_FIELDS) {
    const v = optionalString((raw as Record<string, unknown>)[field], RECORD_LIMITS.identity);
    if (v !== undefined) out[field] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The decision a reject with `status` stands for: a 5xx is the plugin failing closed, anything else a denial. */
export function rejectDecision(status: number): Decision {
  return status >= 500 ? 'error' : 'deny';
}

/**
 * One kong.log.set_serialize_value (mode "set": the last record of a plugin wins): the only PDK call recording
 * costs. "No operation" (`operation: null`) is stored as `false`: a nil table field does not exist in Lua, so null
 * would come back as "the plugin said nothing".
 */
export function writeDecisionRecord(kong: Pick<Kong, 'log'>, plugin: string, record: DecisionRecord): Promise<void> {
  const stored = record.operation === null ? { ...record, operation: false } : record;
  return kong.log.setSerializeValue(decisionRecordKey(plugin), stored);
}

function optionalString(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value !== '' ? bounded(value, max) : undefined;
}

/**
 * Reads a record back (it crossed msgpack → Lua → msgpack). The legacy string "allow" reads as an allow record;
 * anything malformed reads as undefined (no event rather than a wrong one).
 */
export function parseDecisionRecord(raw: unknown): DecisionRecord | undefined {
  if (raw === 'allow') return decisionRecord('allow');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  if (!DECISIONS.includes(r.decision as Decision) || !isReasonCode(r.reason)) return undefined;
  const decision = r.decision as Decision;
  const record: DecisionRecord = { decision, reason: r.reason, mode: r.mode === 'monitor' ? 'monitor' : 'enforce' };
  const ruleId = optionalString(r.rule_id, RECORD_LIMITS.ruleId);
  if (ruleId !== undefined) record.rule_id = ruleId;
  if (typeof r.status === 'number' && Number.isInteger(r.status) && r.status >= 100 && r.status <= 999)
    record.status = r.status;
  const fingerprint = optionalString(r.credential_fingerprint, RECORD_LIMITS.fingerprint);
  if (fingerprint !== undefined) record.credential_fingerprint = fingerprint;
  const identity = eventIdentity(r.identity);
  if (identity !== undefined) record.identity = identity;
  if (r.operation === null || r.operation === false)
    record.operation = null; // false: null as stored
  else if (typeof r.operation === 'object' && !Array.isArray(r.operation)) {
    const o = r.operation as Record<string, unknown>;
    const template = optionalString(o.path_template, RECORD_LIMITS.pathTemplate);
    if (template !== undefined) {
      const op: NonNullable<DecisionRecord['operation']> = { path_template: template };
      const id = optionalString(o.id, RECORD_LIMITS.pathTemplate);
      if (id !== undefined) op.id = id;
      if (typeof o.deprecated === 'boolean') op.deprecated = o.deprecated;
      record.operation = op;
    }
  }
  return record;
}

/** The per-request facts bulwark-audit gathers once (Kong's serialized log entry, the identity record). */
export interface RequestFacts {
  /** ms since the epoch: when the request started. */
  startedAt: number;
  requestId: string;
  method: string;
  host: string;
  /** May carry a query string; it is cut off. */
  path: string;
  responseStatus?: number;
  route?: { id?: string; name?: string };
  service?: { id?: string; name?: string };
  clientIp?: string;
  identity?: EventIdentity;
}

/** A SecurityEvent from one plugin's record and the request's facts (pure). */
export function buildSecurityEvent(plugin: string, record: DecisionRecord, facts: RequestFacts): SecurityEvent {
  const query = facts.path.indexOf('?');
  const event: SecurityEvent = {
    timestamp: new Date(facts.startedAt).toISOString(),
    request_id: facts.requestId,
    plugin,
    decision: record.decision,
    reason: record.reason,
    mode: record.mode,
    http: { method: facts.method, host: facts.host, path: query === -1 ? facts.path : facts.path.slice(0, query) },
  };
  if (record.rule_id !== undefined) event.rule_id = record.rule_id;
  const status = record.status ?? facts.responseStatus;
  if (status !== undefined) event.status = status;
  if (facts.route !== undefined) event.route = facts.route;
  if (facts.service !== undefined) event.service = facts.service;
  if (facts.clientIp !== undefined) event.client_ip = facts.clientIp;
  if (record.operation !== undefined) event.operation = record.operation;
  const identity = record.identity ?? facts.identity;
  if (identity !== undefined) event.identity = identity;
  if (record.credential_fingerprint !== undefined) event.credential_fingerprint = record.credential_fingerprint;
  return event;
}

/**
 * Every Bulwark plugin that can record a decision: the records bulwark-audit takes from the serialized entry, in
 * this order (anything else under `bulwark.decisions` is ignored). spec/lib/security-event.test.ts fails when a
 * `plugins/bulwark-*` directory is missing here.
 */
export const DECIDING_PLUGINS: readonly string[] = [
  'bulwark-transport',
  'bulwark-response-headers',
  'bulwark-audit',
  'bulwark-jwt',
  'bulwark-oauth2',
  'bulwark-api-key',
  'bulwark-authz',
  'bulwark-rate-limit',
  'bulwark-docs',
  'bulwark-validator',
  'bulwark-threat-protection',
  'bulwark-upstream-trust',
];

/**
 * The decision records of a request, in DECIDING_PLUGINS order, from Kong's serialized log entry (pure: no RPC).
 * Malformed records are skipped (no event rather than a wrong one).
 */
export function decisionRecordsFromEntry(serialized: unknown): [string, DecisionRecord][] {
  const root = plainObject(serialized);
  const decisions = plainObject(plainObject(root?.bulwark)?.decisions);
  if (decisions === undefined) return [];
  const records: [string, DecisionRecord][] = [];
  for (const plugin of DECIDING_PLUGINS) {
    if (!Object.hasOwn(decisions, plugin)) continue;
    const record = parseDecisionRecord(decisions[plugin]);
    if (record) records.push([plugin, record]);
  }
  return records;
}

function plainObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
