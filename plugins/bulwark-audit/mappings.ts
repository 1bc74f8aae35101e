// SecurityEvent → the schema each sink expects. Pure functions; each field name is the published one:
// - Elastic Common Schema 8.x (https://www.elastic.co/guide/en/ecs/current/ecs-field-reference.html): the decision
//   is carried by event.type (allowed/denied) and event.action, not by event.outcome, which says whether Bulwark's
//   own processing succeeded (failure only for `error`: the plugin failed closed).
// - OCSF 1.1 (https://schema.ocsf.io/1.1.0): Authentication 3002 for the authenticating plugins, Authorization
//   (Authorize Session) 3003 for bulwark-authz, API Activity 6003 when an API operation is known (the validator),
//   HTTP Activity 4002 for the others; type_uid = class_uid * 100 + activity_id.
// - OpenTelemetry log records with the HTTP semantic conventions (https://opentelemetry.io/docs/specs/semconv/http/):
//   http.request.method, url.path, server.address, client.address, http.response.status_code; Bulwark's own
//   fields under `bulwark.*`.
import type { Decision, SecurityEvent } from '../lib/security-event';

export const ECS_VERSION = '8.11.0';
export const OCSF_VERSION = '1.1.0';

/** Plugins whose decisions are authentication decisions (OCSF 3002, ECS category authentication). */
const AUTHENTICATION_PLUGINS = new Set(['bulwark-jwt', 'bulwark-oauth2', 'bulwark-api-key']);
const AUTHORIZATION_PLUGINS = new Set(['bulwark-authz']);
const INTRUSION_PLUGINS = new Set(['bulwark-threat-protection', 'bulwark-validator']);

const ECS_TYPE: Record<Decision, string> = {
  allow: 'allowed',
  deny: 'denied',
  'monitor-deny': 'allowed', // monitor mode: the request went through; event.action says what would have happened
  error: 'denied', // failed closed: the request was refused
};

/** An ECS document (Elasticsearch `_bulk`, Splunk with the ECS mapping). */
export function toEcs(e: SecurityEvent): Record<string, unknown> {
  const category = ['web'];
  if (AUTHENTICATION_PLUGINS.has(e.plugin)) category.push('authentication');
  if (AUTHORIZATION_PLUGINS.has(e.plugin)) category.push('iam');
  if (INTRUSION_PLUGINS.has(e.plugin)) category.push('intrusion_detection');
  const doc: Record<string, unknown> = {
    '@timestamp': e.timestamp,
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'event',
      category,
      type: ['access', ECS_TYPE[e.decision]],
      action: e.decision,
      outcome: e.decision === 'error' ? 'failure' : 'success',
      reason: e.reason,
      module: 'bulwark',
      dataset: 'bulwark.security',
      provider: e.plugin,
    },
    http: {
      request: { id: e.request_id, method: e.http.method },
      ...(e.status !== undefined ? { response: { status_code: e.status } } : {}),
    },
    url: { domain: e.http.host, path: e.http.path },
    observer: { vendor: 'Bulwark', product: 'Kong', type: 'proxy' },
    labels: { bulwark_mode: e.mode },
  };
  if (e.client_ip !== undefined) doc.source = { ip: e.client_ip, address: e.client_ip };
  if (e.rule_id !== undefined) doc.rule = { id: e.rule_id };
  const user: Record<string, unknown> = {};
  if (e.identity?.consumer !== undefined) user.name = e.identity.consumer;
  if (e.identity?.subject !== undefined) user.id = e.identity.subject;
  if (Object.keys(user).length > 0) doc.user = user;
  const labels = doc.labels as Record<string, string>;
  if (e.route?.name ?? e.route?.id) labels.kong_route = (e.route?.name ?? e.route?.id) as string;
  if (e.service?.name ?? e.service?.id) labels.kong_service = (e.service?.name ?? e.service?.id) as string;
  if (e.identity?.credential_kind !== undefined) labels.credential_kind = e.identity.credential_kind;
  if (e.identity?.credential_id !== undefined) labels.credential_id = e.identity.credential_id;
  if (e.credential_fingerprint !== undefined) {
    labels.credential_fingerprint = e.credential_fingerprint;
    // A client certificate's fingerprint has its own ECS field (upper-case hex, as ECS formats hashes).
    const cert = certificateHex(e.credential_fingerprint);
    if (cert !== undefined) doc.tls = { client: { hash: { sha256: cert.toUpperCase() } } };
  }
  if (e.operation) labels.api_operation = e.operation.id ?? e.operation.path_template;
  return doc;
}

/** The hex SHA-256 of an `mtls:` fingerprint (lib/credential-fingerprint.ts), else undefined. */
function certificateHex(fingerprint: string): string | undefined {
  const m = /^mtls:([0-9a-f]{64})$/.exec(fingerprint);
  return m?.[1];
}

// ---- OCSF ----

export const OCSF_CLASS = {
  authentication: 3002,
  authorization: 3003,
  httpActivity: 4002,
  apiActivity: 6003,
} as const;

/** HTTP Activity activity_id by method (OCSF 1.1 http_activity). */
const HTTP_ACTIVITY: Record<string, number> = {
  CONNECT: 1,
  DELETE: 2,
  GET: 3,
  HEAD: 4,
  OPTIONS: 5,
  POST: 6,
  PUT: 7,
  TRACE: 8,
};
/** API Activity activity_id (OCSF 1.1 api_activity): Create, Read, Update, Delete. */
const API_ACTIVITY: Record<string, number> = { POST: 1, GET: 2, HEAD: 2, PUT: 3, PATCH: 3, DELETE: 4 };

/** OCSF status_id: 1 Success, 2 Failure; severity_id: 1 Informational, 3 Medium, 4 High. */
function ocsfStatus(d: Decision): { status_id: number; status: string; severity_id: number; severity: string } {
  if (d === 'allow') return { status_id: 1, status: 'Success', severity_id: 1, severity: 'Informational' };
  if (d === 'monitor-deny') return { status_id: 1, status: 'Success', severity_id: 3, severity: 'Medium' };
  if (d === 'deny') return { status_id: 2, status: 'Failure', severity_id: 3, severity: 'Medium' };
  return { status_id: 2, status: 'Failure', severity_id: 4, severity: 'High' };
}

/** An OCSF event of the class that fits the deciding plugin. */
export function toOcsf(e: SecurityEvent): Record<string, unknown> {
  const method = e.http.method.toUpperCase();
  let classUid: number;
  let activityId: number;
  let categoryUid: number;
  if (AUTHENTICATION_PLUGINS.has(e.plugin)) {
    [classUid, activityId, categoryUid] = [OCSF_CLASS.authentication, 1 /* Logon */, 3];
  } else if (AUTHORIZATION_PLUGINS.has(e.plugin)) {
    [classUid, activityId, categoryUid] = [OCSF_CLASS.authorization, 1 /* Assign Privileges */, 3];
  } else if (e.operation) {
    [classUid, activityId, categoryUid] = [OCSF_CLASS.apiActivity, API_ACTIVITY[method] ?? 99, 6];
  } else {
    [classUid, activityId, categoryUid] = [OCSF_CLASS.httpActivity, HTTP_ACTIVITY[method] ?? 99, 4];
  }
  const status = ocsfStatus(e.decision);
  const httpRequest: Record<string, unknown> = {
    http_method: method,
    url: { hostname: e.http.host, path: e.http.path },
    uid: e.request_id,
  };
  const out: Record<string, unknown> = {
    class_uid: classUid,
    category_uid: categoryUid,
    activity_id: activityId,
    type_uid: classUid * 100 + activityId,
    time: Date.parse(e.timestamp),
    ...status,
    status_detail: e.reason,
    message: `${e.plugin} ${e.decision}: ${e.reason}`,
    metadata: {
      version: OCSF_VERSION,
      uid: e.request_id,
      product: { name: 'Bulwark', vendor_name: 'Bulwark', feature: { name: e.plugin } },
      labels: [`mode:${e.mode}`],
    },
    http_request: httpRequest,
    // OCSF 1.1 has no allow/deny attribute on these classes; disposition as in Detection/Network classes.
    disposition_id: e.decision === 'allow' || e.decision === 'monitor-deny' ? 1 : 2,
    disposition: e.decision === 'allow' || e.decision === 'monitor-deny' ? 'Allowed' : 'Blocked',
  };
  if (e.status !== undefined) {
    out.http_response = { code: e.status };
    out.status_code = String(e.status);
  }
  if (e.client_ip !== undefined) out.src_endpoint = { ip: e.client_ip };
  out.dst_endpoint = { hostname: e.http.host };
  const user: Record<string, unknown> = {};
  if (e.identity?.consumer !== undefined) user.name = e.identity.consumer;
  if (e.identity?.subject !== undefined) user.uid = e.identity.subject;
  if (Object.keys(user).length > 0) {
    if (classUid === OCSF_CLASS.authentication) out.user = user;
    out.actor = { user };
  }
  if (classUid === OCSF_CLASS.authentication && e.identity?.credential_kind !== undefined)
    out.auth_protocol = e.identity.credential_kind;
  if (classUid === OCSF_CLASS.apiActivity && e.operation) {
    out.api = { operation: e.operation.id ?? e.operation.path_template, request: { uid: e.request_id } };
  }
  const unmapped: Record<string, unknown> = {};
  if (e.rule_id !== undefined) unmapped.rule_id = e.rule_id;
  if (e.credential_fingerprint !== undefined) {
    // A certificate fingerprint has OCSF's place (fingerprint object, algorithm_id 3 = SHA-256); any other
    // credential fingerprint has none in OCSF 1.1 and is kept unmapped.
    const cert = certificateHex(e.credential_fingerprint);
    if (cert !== undefined)
      out.tls = { certificate: { fingerprints: [{ algorithm_id: 3, algorithm: 'SHA-256', value: cert }] } };
    unmapped.credential_fingerprint = e.credential_fingerprint;
  }
  if (Object.keys(unmapped).length > 0) out.unmapped = unmapped;
  return out;
}

// ---- OpenTelemetry ----

/** OTel SeverityNumber (logs data model): INFO 9, WARN 13, ERROR 17. */
/** What a file, Splunk or syslog sink writes per event (`format`): the event as documented, or its ECS / OCSF form. */
export const EVENT_FORMATS = ['bulwark', 'ecs', 'ocsf'] as const;
export type EventFormat = (typeof EVENT_FORMATS)[number];

export function formatEvent(e: SecurityEvent, format: EventFormat): Record<string, unknown> | SecurityEvent {
  if (format === 'ecs') return toEcs(e);
  if (format === 'ocsf') return toOcsf(e);
  return e;
}

export function otelSeverity(d: Decision): { severityNumber: number; severityText: string } {
  if (d === 'allow') return { severityNumber: 9, severityText: 'INFO' };
  if (d === 'error') return { severityNumber: 17, severityText: 'ERROR' };
  return { severityNumber: 13, severityText: 'WARN' };
}

export interface OtelLogRecord {
  timestamp: number;
  severityNumber: number;
  severityText: string;
  body: string;
  attributes: Record<string, string | number | boolean>;
}

/** An OTel log record (the SDK's LogRecord fields) with the HTTP semantic conventions. */
export function toOtelLogRecord(e: SecurityEvent): OtelLogRecord {
  const a: Record<string, string | number | boolean> = {
    'event.name': 'bulwark.decision',
    'http.request.method': e.http.method,
    'url.path': e.http.path,
    'server.address': e.http.host,
    'bulwark.plugin': e.plugin,
    'bulwark.decision': e.decision,
    'bulwark.reason': e.reason,
    'bulwark.mode': e.mode,
    'bulwark.request_id': e.request_id,
  };
  if (e.status !== undefined) a['http.response.status_code'] = e.status;
  if (e.client_ip !== undefined) a['client.address'] = e.client_ip;
  if (e.rule_id !== undefined) a['bulwark.rule_id'] = e.rule_id;
  if (e.route?.name ?? e.route?.id) a['bulwark.route'] = (e.route?.name ?? e.route?.id) as string;
  if (e.service?.name ?? e.service?.id) a['bulwark.service'] = (e.service?.name ?? e.service?.id) as string;
  if (e.operation) a['http.route'] = e.operation.path_template;
  if (e.identity?.subject !== undefined) a['user.id'] = e.identity.subject;
  if (e.identity?.consumer !== undefined) a['user.name'] = e.identity.consumer;
  if (e.identity?.credential_kind !== undefined) a['bulwark.credential.kind'] = e.identity.credential_kind;
  if (e.identity?.credential_id !== undefined) a['bulwark.credential.id'] = e.identity.credential_id;
  if (e.credential_fingerprint !== undefined) a['bulwark.credential.fingerprint'] = e.credential_fingerprint;
  return {
    timestamp: Date.parse(e.timestamp),
    ...otelSeverity(e.decision),
    body: `${e.plugin} ${e.decision}: ${e.reason}`,
    attributes: a,
  };
}
