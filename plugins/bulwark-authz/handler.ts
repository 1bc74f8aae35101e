// bulwark-authz access handler: read the request and the caller's identity, decide (decide.ts), act.
//
// RPC budget (each kong.* call is one round trip to Kong, ../../docs/kong-protocol.md §3.2):
//   request.getMethod + request.getPathWithQuery (path and query in one read) + ctx.shared.get (the identity)
//   (+ request.getHeaders(1000) only when a rule has a header object condition or a CEL expression reads headers)
//   then: allowed → the decision record log.setSerializeValue (lib/plugin.ts) = 4
//         refused → log.info + the deny record (log.setSerializeValue, read by bulwark-audit) + response.exit = 6
//                   (exit is not answered: 5 counted round trips + HandleEvent)
//         monitor mode, would refuse → log.warn + the decision record.
//   The AuthZEN decision point is outbound HTTP from the plugin server, not an RPC.
import { parseRawQuery, readRequestHeaders, refusedForTooManyQueryArguments } from '../lib/bounded-reads';
import { readIdentity, type BulwarkIdentity } from '../lib/identity';
import type { HeaderMultimap } from '../lib/pdk';
import type { PhaseContext } from '../lib/plugin';
import { askAuthzen, authzenRequest } from './authzen';
import type { AuthzConfig } from './config';
import { decide, decideRemaining, type Decision, type RequestFacts } from './decide';
import { AUTHZ_REASONS } from './reasons';

/** At most this many decision-point questions per request (each allow rule with `authzen` may ask once). */
const MAX_AUTHZEN_CALLS = 4;

export const MESSAGES = { 403: 'Forbidden', 404: 'Not found', 503: 'Service unavailable', 400: 'Bad request' } as const;

function identityFields(identity: BulwarkIdentity | undefined): Record<string, unknown> {
  if (identity === undefined) return { caller: null };
  return {
    caller: identity.authenticated ? 'authenticated' : 'anonymous',
    method: identity.method,
    subject: identity.subject ?? null,
    consumer: identity.consumer?.id ?? null,
  };
}

export async function access(ctx: PhaseContext<AuthzConfig>): Promise<void> {
  const { kong, conf, log, reject } = ctx;
  const method = (await kong.request.getMethod()).toUpperCase();
  const pathWithQuery = await kong.request.getPathWithQuery();
  const q = pathWithQuery.indexOf('?');
  const path = q === -1 ? pathWithQuery : pathWithQuery.slice(0, q);
  const rawQuery = q === -1 ? '' : pathWithQuery.slice(q + 1);
  if (await refusedForTooManyQueryArguments(ctx, rawQuery)) return;
  let headers: HeaderMultimap | undefined;
  if (conf.needsHeaders) {
    headers = await readRequestHeaders(ctx);
    if (headers === undefined) return;
  }
  const identity = await readIdentity(kong);
  const facts: RequestFacts = { method, path, query: parseRawQuery(rawQuery), headers };

  let decision: Decision = decide(conf, identity, facts);
  for (let asked = 0; decision.outcome === 'ask'; asked++) {
    if (asked >= MAX_AUTHZEN_CALLS) {
      decision = { outcome: 'deny', rule: decision.rule, reason: AUTHZ_REASONS.authzenTooManyQuestions };
      break;
    }
    const question = authzenRequest(conf.authzen!, decision.rule, identity, decision.params, facts);
    const answer = await askAuthzen(conf.authzen!, question);
    if ('error' in answer) {
      // Fail closed: no answer is a refusal (503: the client may retry), except in monitor mode (shadow).
      const fields = {
        reason: AUTHZ_REASONS.authzenUnavailable,
        rule: decision.rule.name,
        detail: answer.error,
        ...identityFields(identity),
      };
      const outcome = { reason: AUTHZ_REASONS.authzenUnavailable, rule_id: decision.rule.name };
      if (conf.mode === 'monitor') {
        await log.err('authzen_unavailable', { ...fields, mode: 'monitor' });
        ctx.record('monitor-deny', outcome);
        return;
      }
      await log.err('authzen_unavailable', { ...fields, status: 503 });
      return reject(503, MESSAGES[503], undefined, outcome);
    }
    decision = answer.decision
      ? { outcome: 'allow', rule: decision.rule }
      : decideRemaining(decision.remaining, identity, facts, decision.rule);
  }
  if (decision.outcome === 'allow') return;
  if (decision.outcome !== 'deny') return; // unreachable: the loop above resolves every 'ask'

  const line = {
    reason: decision.reason,
    ...(decision.detail === undefined ? {} : { detail: decision.detail }),
    rule: decision.rule?.name ?? null,
    request: `${method} ${path.slice(0, 256)}`,
    ...identityFields(identity),
  };
  const outcome = { reason: decision.reason, ...(decision.rule ? { rule_id: decision.rule.name } : {}) };
  if (conf.mode === 'monitor') {
    await log.warn('authz_would_deny', { ...line, mode: 'monitor' });
    ctx.record('monitor-deny', outcome);
    return;
  }
  await log.info('authz_denied', { ...line, status: conf.denyStatus });
  return reject(conf.denyStatus, MESSAGES[conf.denyStatus], undefined, outcome);
}
