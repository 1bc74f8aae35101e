// The abuse detectors: what each one counts, per which subject, and when it trips. Pure: a request's
// SecurityEvents become one Observation, the Observation becomes Measures (counter updates), and a Measure's
// Reading (what the store counted) decides the trip. The stores (store.ts) only count.
//
// | detector               | subject                 | counts                                                  | trips when (defaults)                        |
// | failed_auth_ip         | client IP               | requests a Bulwark plugin refused with 401              | ≥ 30 in 3 min (GitLab's Git/registry ban)    |
// | failed_auth_credential | credential prefix       | the same, by the refused credential's kind/prefix       | ≥ 100 in 3 min (stuffing spread over IPs)    |
// | error_share            | principal (else IP)     | share of 4xx (or only 403) among its responses          | ≥ 50 % of ≥ 20 in 5 min (Apigee Brute Guessor / Robot Abuser) |
// | flooder                | client IP               | its share of all requests this plugin saw                | ≥ 50 % of ≥ 1000 in 1 min (Apigee Flooder)   |
// | bola                   | principal + operation   | distinct object ids in the path                         | ≥ 100 distinct in 5–10 min (enumeration)     |
// | user_agents            | credential              | distinct User-Agent values                               | ≥ 10 distinct in 1–2 h (a key shared/stolen) |

import { fingerprintLabel } from '../../lib/credential-fingerprint';

/**
 * The fields of a SecurityEvent (lib/security-event.ts, EVENTS.md) the detectors read. Declared as a subset so the
 * detectors depend on nothing else of the event.
 */
export interface SecurityEvent {
  plugin: string;
  decision: 'allow' | 'deny' | 'monitor-deny' | 'error';
  reason: string;
  rule_id?: string;
  status?: number;
  client_ip?: string;
  http: { method: string; host: string; path: string };
  operation?: { id?: string; path_template: string; deprecated?: boolean } | null;
  identity?: { consumer?: string; credential_kind?: string; credential_id?: string; subject?: string };
  credential_fingerprint?: string;
}

export const DETECTORS = [
  'failed_auth_ip',
  'failed_auth_credential',
  'error_share',
  'flooder',
  'bola',
  'user_agents',
] as const;
export type DetectorName = (typeof DETECTORS)[number];

/** monitor: a trip is an event only; block: the client IP of the tripping request is banned for `ttlMs`. */
export type AbuseAction = 'monitor' | 'block';

export interface DetectorPolicy {
  enabled: boolean;
  action: AbuseAction;
  windowMs: number;
  /** How long a trip lasts: the ban of a blocked IP, and the time during which the subject does not trip again. */
  ttlMs: number;
}

export interface CountPolicy extends DetectorPolicy {
  /** Trips at this sliding count. */
  threshold: number;
}

export interface SharePolicy extends DetectorPolicy {
  /** Trips when the part reaches this percentage of the total... */
  sharePercent: number;
  /** ...and the total has reached this many requests (a share of 3 requests means nothing). */
  minRequests: number;
}

export interface ErrorSharePolicy extends SharePolicy {
  /** Which responses count as errors: every 4xx, or only 403. */
  statuses: '4xx' | '403';
}

export interface DistinctPolicy extends DetectorPolicy {
  /** Trips when this many distinct values were seen. */
  threshold: number;
}

export interface DetectorPolicies {
  failed_auth_ip: CountPolicy;
  failed_auth_credential: CountPolicy;
  error_share: ErrorSharePolicy;
  flooder: SharePolicy;
  bola: DistinctPolicy;
  user_agents: DistinctPolicy;
}

/** What one request tells the detectors (built from its SecurityEvents by observationFromEvents). */
export interface Observation {
  clientIp?: string;
  /** `consumer:<name>`, `subject:<sub>` or `credential:<kind>:<id>`; undefined for an anonymous request. */
  principal?: string;
  /** The credential a User-Agent is tied to (fingerprint or kind:id). */
  credential?: string;
  /** Kind or prefix of each credential a plugin refused with 401 (one entry per refusing plugin). */
  failedCredentials: string[];
  /** The status the client got. */
  status?: number;
  /** `METHOD path-template`, when the path has object ids. */
  operation?: string;
  /** The object id(s) of the path, joined by '/'. */
  objectId?: string;
  userAgent?: string;
}

/** Subjects and members are bounded: they become map keys and Redis key names. */
export const MAX_SUBJECT_LENGTH = 256;
const bound = (s: string): string => (s.length > MAX_SUBJECT_LENGTH ? s.slice(0, MAX_SUBJECT_LENGTH) : s);

function principalOf(identity: SecurityEvent['identity']): string | undefined {
  if (identity === undefined) return undefined;
  if (identity.consumer !== undefined) return bound(`consumer:${identity.consumer}`);
  if (identity.subject !== undefined) return bound(`subject:${identity.subject}`);
  if (identity.credential_id !== undefined)
    return bound(`credential:${identity.credential_kind ?? 'unknown'}:${identity.credential_id}`);
  return undefined;
}

/**
 * The label of a credential fingerprint (`bwk_live:Xy3…` → `bwk_live`, lib/credential-fingerprint.ts), else the
 * credential kind.
 */
export function credentialPrefix(event: SecurityEvent): string {
  const fp = event.credential_fingerprint;
  if (fp !== undefined && fp !== '') return bound(`${event.plugin}/${fingerprintLabel(fp)}`);
  return bound(`${event.plugin}/${event.identity?.credential_kind ?? '*'}`);
}

const NUMERIC = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_ID = /^[0-9a-f]{16,64}$/i;
/** Path segments considered object ids when no OpenAPI operation is known. */
export function looksLikeObjectId(segment: string): boolean {
  return NUMERIC.test(segment) || UUID.test(segment) || HEX_ID.test(segment);
}
const MAX_PATH_SEGMENTS = 32;

/**
 * The operation and object id of a path: with the validator's matched template (`/orders/{id}`), the segments under
 * its parameters; otherwise numeric, UUID and long hex segments, each replaced by `{id}` in the operation.
 */
export function objectOfPath(
  method: string,
  path: string,
  template: string | undefined,
): { operation: string; objectId: string } | undefined {
  const segments = path.split('/', MAX_PATH_SEGMENTS + 1).slice(0, MAX_PATH_SEGMENTS);
  const ids: string[] = [];
  let operation: string;
  if (template !== undefined) {
    const parts = template.split('/', MAX_PATH_SEGMENTS + 1);
    parts.forEach((part, i) => {
      if (part.startsWith('{') && part.endsWith('}') && segments[i] !== undefined) ids.push(segments[i]!);
    });
    operation = template;
  } else {
    operation = segments.map((s) => (looksLikeObjectId(s) ? (ids.push(s), '{id}') : s)).join('/');
  }
  if (ids.length === 0) return undefined;
  return { operation: bound(`${method} ${operation}`), objectId: bound(ids.join('/')) };
}

/**
 * One request's observation from the events bulwark-audit built for it. `userAgent` and the response status come
 * from Kong's log entry. Requests bulwark-audit itself refused (a live ban) are not observed: a ban must not
 * extend itself.
 */
export function observationFromEvents(
  events: readonly SecurityEvent[],
  extras: { userAgent?: string; responseStatus?: number } = {},
): Observation {
  const obs: Observation = { failedCredentials: [] };
  for (const e of events) {
    obs.clientIp ??= e.client_ip;
    obs.principal ??= principalOf(e.identity);
    if (obs.credential === undefined) {
      if (e.credential_fingerprint !== undefined) obs.credential = bound(`${e.plugin}/${e.credential_fingerprint}`);
      else if (e.identity?.credential_id !== undefined)
        obs.credential = bound(`${e.identity.credential_kind ?? 'unknown'}:${e.identity.credential_id}`);
    }
    if (e.decision === 'deny' && e.status === 401) obs.failedCredentials.push(credentialPrefix(e));
    if ((e.decision === 'deny' || e.decision === 'error') && e.status !== undefined) obs.status ??= e.status;
  }
  obs.status ??= extras.responseStatus ?? events.find((e) => e.status !== undefined)?.status;
  const first = events[0];
  if (first !== undefined) {
    const template = events.find((e) => e.operation)?.operation?.path_template;
    const object = objectOfPath(first.http.method, first.http.path, template);
    if (object !== undefined) {
      obs.operation = object.operation;
      obs.objectId = object.objectId;
    }
  }
  if (extras.userAgent !== undefined && extras.userAgent !== '') obs.userAgent = bound(extras.userAgent);
  return obs;
}

/** A counter update one detector asks of the store for one request. */
export type Measure =
  | { detector: DetectorName; subject: string; kind: 'count'; add: number }
  | {
      detector: DetectorName;
      subject: string;
      kind: 'share';
      /** Added to the subject's part. */
      add: number;
      /** The total the part is a share of: the subject's own total, or one shared total (flooder). */
      totalSubject: string;
      totalAdd: number;
    }
  | { detector: DetectorName; subject: string; kind: 'distinct'; member: string };

/** What the store read back for a measure: sliding estimates (count/share) or a distinct count. */
export type Reading =
  | { kind: 'count'; count: number }
  | { kind: 'share'; part: number; total: number }
  | { kind: 'distinct'; distinct: number };

/** The subject of the flooder's shared total. */
export const ALL_REQUESTS = '*';

/** The counter updates of one request, for the enabled detectors. */
export function measuresFor(obs: Observation, p: DetectorPolicies): Measure[] {
  const out: Measure[] = [];
  const ipOrPrincipal = obs.principal ?? (obs.clientIp === undefined ? undefined : `ip:${obs.clientIp}`);
  if (p.failed_auth_ip.enabled && obs.clientIp !== undefined && obs.failedCredentials.length > 0)
    out.push({ detector: 'failed_auth_ip', subject: obs.clientIp, kind: 'count', add: 1 });
  if (p.failed_auth_credential.enabled)
    for (const prefix of new Set(obs.failedCredentials))
      out.push({ detector: 'failed_auth_credential', subject: prefix, kind: 'count', add: 1 });
  if (p.error_share.enabled && ipOrPrincipal !== undefined && obs.status !== undefined) {
    const isError = p.error_share.statuses === '403' ? obs.status === 403 : obs.status >= 400 && obs.status <= 499;
    out.push({
      detector: 'error_share',
      subject: ipOrPrincipal,
      kind: 'share',
      add: isError ? 1 : 0,
      totalSubject: ipOrPrincipal,
      totalAdd: 1,
    });
  }
  if (p.flooder.enabled && obs.clientIp !== undefined)
    out.push({
      detector: 'flooder',
      subject: obs.clientIp,
      kind: 'share',
      add: 1,
      totalSubject: ALL_REQUESTS,
      totalAdd: 1,
    });
  if (p.bola.enabled && ipOrPrincipal !== undefined && obs.operation !== undefined && obs.objectId !== undefined)
    out.push({
      detector: 'bola',
      subject: bound(`${ipOrPrincipal} ${obs.operation}`),
      kind: 'distinct',
      member: obs.objectId,
    });
  if (p.user_agents.enabled && obs.credential !== undefined && obs.userAgent !== undefined)
    out.push({ detector: 'user_agents', subject: obs.credential, kind: 'distinct', member: obs.userAgent });
  return out;
}

/** Whether a reading trips its detector. */
export function trips(detector: DetectorName, reading: Reading, p: DetectorPolicies): boolean {
  switch (reading.kind) {
    case 'count':
      return reading.count >= (p[detector] as CountPolicy).threshold;
    case 'share': {
      const policy = p[detector] as SharePolicy;
      return reading.total >= policy.minRequests && reading.part * 100 >= policy.sharePercent * reading.total;
    }
    case 'distinct':
      return reading.distinct >= (p[detector] as DistinctPolicy).threshold;
  }
}

/**
 * The largest value a memory set must hold to decide (distinct detectors): past the threshold the answer no longer
 * changes, so a set stops growing there (bounded memory whatever an attacker sends).
 */
export function distinctCap(detector: DetectorName, p: DetectorPolicies): number {
  return (p[detector] as DistinctPolicy).threshold;
}
