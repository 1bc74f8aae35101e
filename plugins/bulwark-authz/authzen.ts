// The external decision point: OpenID AuthZEN Authorization API 1.0, Access Evaluation API
// (POST <url> with {subject, resource, action, context}; the answer {"decision": true|false}). OPA, OpenFGA, Cerbos
// and Topaz implement it. Fail closed: a timeout, a network error, a status other than 200, or an answer that is
// not {"decision": <boolean>} refuses the request. Decisions are cached (per instance, TTL) keyed by a hash of
// the exact request body, so a cached answer is only reused for the same question.
import { createHash } from 'node:crypto';
import type { BulwarkIdentity } from '../lib/identity';
import { fetchOutbound, OutboundFetchError } from '../lib/outbound-http';
import type { AuthzenSettings, AuthzRule } from './config';
import type { RequestFacts } from './decide';

export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface AuthzenRequest {
  subject: { type: string; id: string; properties: Record<string, unknown> };
  resource: { type: string; id: string; properties: Record<string, unknown> };
  action: { name: string; properties?: Record<string, unknown> };
  context: Record<string, unknown>;
}

/** The AuthZEN evaluation request for this rule, caller and request. */
export function authzenRequest(
  s: AuthzenSettings,
  rule: AuthzRule,
  identity: BulwarkIdentity | undefined,
  params: Record<string, string>,
  facts: RequestFacts,
): AuthzenRequest {
  const subjectId = identity?.subject ?? identity?.consumer?.id ?? identity?.credential?.id ?? 'anonymous';
  const subjectProps: Record<string, unknown> = {
    authenticated: identity?.authenticated ?? false,
    method: identity?.method ?? 'anonymous',
    scopes: identity?.scopes ?? [],
    groups: identity?.groups ?? [],
    claims: identity?.claims ?? {},
  };
  if (identity?.issuer !== undefined) subjectProps.issuer = identity.issuer;
  if (identity?.consumer !== undefined) subjectProps.consumer = identity.consumer;
  if (identity?.credential !== undefined) subjectProps.credential = identity.credential;
  return {
    subject: { type: s.subjectType, id: subjectId, properties: subjectProps },
    resource: {
      type: s.resourceType,
      id: facts.path,
      properties: { template: rule.template, params, ...(rule.operationId ? { operation_id: rule.operationId } : {}) },
    },
    action: { name: facts.method, properties: { rule: rule.name } },
    context: {},
  };
}

export type AuthzenAnswer = { decision: boolean; cached: boolean } | { error: string };

export async function askAuthzen(
  s: AuthzenSettings,
  request: AuthzenRequest,
  now: () => number = Date.now,
): Promise<AuthzenAnswer> {
  const body = JSON.stringify(request);
  const key = createHash('sha256').update(body).digest('base64url');
  const hit = s.cache.get(key);
  if (hit !== undefined) return { decision: hit, cached: true };
  let res;
  try {
    res = await fetchOutbound(s.url, {
      timeoutMs: s.timeoutMs,
      maxBytes: MAX_RESPONSE_BYTES,
      allowHttp: s.allowHttp,
      maxRedirects: 0,
      extraCaCertificates: s.caCertificates,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      postBody: body,
    });
  } catch (err) {
    return { error: err instanceof OutboundFetchError ? `${err.reason}: ${err.message}` : String(err) };
  }
  if (res.status !== 200) return { error: `status ${res.status}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString('utf8'));
  } catch {
    return { error: 'answer is not JSON' };
  }
  const decision =
    typeof parsed === 'object' && parsed !== null ? (parsed as { decision?: unknown }).decision : undefined;
  if (typeof decision !== 'boolean') return { error: 'answer has no boolean "decision"' };
  if (s.cacheTtlMs > 0) s.cache.set(key, decision, now() + s.cacheTtlMs);
  return { decision, cached: false };
}
