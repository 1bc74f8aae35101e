// The security-event contract: how every Bulwark plugin records its decision about a request, and the one event
// shape bulwark-audit builds from those records after the response (mapped per sink to ECS, OCSF or OTel).
//
// Recording: a deciding plugin writes ONE decision record, `kong.ctx.shared["bulwark.decision.<plugin>"]`, a small
// table (decision, reason code, rule id, status, mode; the presented credential's fingerprint, lib/credential-
// fingerprint.ts, where the plugin saw one; the caller, for a plugin that answers the request itself). definePlugin
// (lib/plugin.ts) writes it: after an access handler lets the request through (the record bulwark-guard checks,
// kong/plugins/bulwark-guard), before a plugin's own kong.response.exit when it recorded a decision (ctx.record), and
// in `reject(status, body, headers, {reason, rule_id})` just before the exit. So recording costs at most one RPC per
// deciding plugin and request. kong.ctx.shared is per request and lives only inside Kong: a client cannot forge it.
//
// Building: bulwark-audit's log phase reads the records (one kong.ctx.shared.get per Bulwark plugin name it knows)
// plus Kong's serialized log entry, and turns them into SecurityEvents (`buildSecurityEvents`, pure).
import type { Kong, SharedValue } from './pdk';

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

/** The record stored in kong.ctx.shared (a Lua table inside Kong). */
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

export const DECISION_RECORD_PREFIX = 'bulwark.decision.';

/** The kong.ctx.shared key of a plugin's decision record. */
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

/** A record ready for kong.ctx.shared.set. A malformed reason (a plugin bug) becomes `unspecified`. */
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
 * One kong.ctx.shared.set: the only PDK call recording costs. "No operation" (`operation: null`) is stored as
 * `false`: a nil table field does not exist in Lua, so null would come back as "the plugin said nothing".
 */
export function writeDecisionRecord(kong: Pick<Kong, 'ctx'>, plugin: string, record: DecisionRecord): Promise<void> {
  const stored = record.operation === null ? { ...record, operation: false } : record;
  return kong.ctx.shared.set(decisionRecordKey(plugin), stored as unknown as SharedValue);
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
 * Every Bulwark plugin that can record a decision: the keys bulwark-audit reads after the response, one
 * kong.ctx.shared.get each (the PDK has no call that lists kong.ctx.shared). spec/lib/security-event.test.ts fails
 * when a `plugins/bulwark-*` directory is missing here.
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
