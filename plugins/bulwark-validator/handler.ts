// bulwark-validator's access handler: read the request in as few RPCs as possible, decide with validate.ts, act.
//
// RPC budget (each kong.* call is one round trip to Kong, ../../docs/kong-protocol.md §3.2):
//   getMethod + getPathWithQuery + getHeaders(1000)          always (3)
//   (1000 header lines or more: + log.warn + exit 431 instead of validating, lib/bounded-reads.ts)
//   + getRawBody(limit)                                        when the body matters to the operation and is
//                                                              present, or when no Content-Length says whether
//                                                              there is one (HTTP/2 may send a body without it)
//   + one log line + exit                                      on a rejection (monitor: the log line only)
//   + setHeaders                                               a deprecated operation with deprecation_headers on
//   + one log line                                             an undocumented operation with unknown_operations log
// The resolved operation (or none) rides on the decision record definePlugin writes in any case (security events).
// The request is never modified: what passes reaches the upstream byte for byte.
//
// getRawBody always gets an explicit limit (../../docs/kong-protocol.md §1.5: without one, a body Kong spooled to disk
// makes the call a Lua error). Bodies announced larger than the limit are refused with 413 from Content-Length
// before reading. A body without Content-Length is read with a margin over max_body_size (validate.ts
// unframedReadLimit) so that one over max_body_size gets 413; one over the margin that nginx spooled makes
// Kong's get_raw_body return nil, a Lua error: Kong then ends the request with 500 (still closed).
// before reading. A chunked body (no Content-Length) larger than the limit and spooled by nginx makes Kong's
// get_raw_body return nil, which is a Lua error: Kong then ends the request with 500 (still closed).
import { readRequestHeaders } from '../lib/bounded-reads';
import type { PhaseContext, PluginLogger } from '../lib/plugin';
import type { ValidatorConfig } from './config';
import { OperationCompileError, type CompiledApi } from './openapi';
import {
  validateJsonSchemaRequest,
  validateOpenApiRequest,
  type BodyReader,
  type RequestSnapshot,
  type Verdict,
} from './validate';
import { rejectionBody, toLogViolation } from './violations';
import { deprecationHeaders } from './deprecation';
import { VALIDATOR_REASONS, validatorReason } from './reasons';
import { REASON_ALLOWED } from '../lib/security-event';

/** Problems listed in the lenient-load log line (the line says how many there were in all). */
export const MAX_LOGGED_PROBLEMS = 100;

/** Documents whose lenient-load problems were logged (once per plugin-server process). */
const problemsLogged = new WeakSet<CompiledApi>();

async function logLoadProblems(log: PluginLogger, api: CompiledApi): Promise<void> {
  if (api.problems.length === 0 || problemsLogged.has(api)) return;
  problemsLogged.add(api);
  await log.warn('document_loaded_leniently', {
    problems_total: api.problems.length,
    problems: api.problems.slice(0, MAX_LOGGED_PROBLEMS),
  });
}

export async function access(ctx: PhaseContext<ValidatorConfig>): Promise<void> {
  const { kong, conf, log, reject, record } = ctx;
  if (conf.policy.kind === 'openapi') await logLoadProblems(log, conf.policy.api);
  const method = await kong.request.getMethod();
  const pathWithQuery = await kong.request.getPathWithQuery();
  // Headers beyond the ones Kong returns would go upstream unvalidated: a possibly cut list is refused there.
  const headers = await readRequestHeaders(ctx);
  if (headers === undefined) return;

  let verdict: Verdict;
  const req: RequestSnapshot = { method, pathWithQuery, headers };
  const readBody: BodyReader = async (limit) => (await kong.request.getRawBody(limit)) ?? new Uint8Array(0);
  const policy = conf.policy;
  try {
    verdict =
      policy.kind === 'openapi'
        ? await validateOpenApiRequest(policy, req, readBody, conf.limits)
        : await validateJsonSchemaRequest(policy, req, readBody, conf.limits);
  } catch (err) {
    if (!(err instanceof OperationCompileError)) throw err;
    // The operation's schemas do not compile (found on its first use, then cached): fail closed, say where.
    await log.err('operation_schema_invalid', {
      operation: err.operation,
      location: err.location,
      reason: err.reason,
      action: 'rejected with 500',
    });
    return reject(500, undefined, undefined, { reason: VALIDATOR_REASONS.operationSchemaInvalid });
  }
  // The resolved operation goes into this plugin's decision record (the allow record definePlugin writes anyway, or
  // the deny record of reject): bulwark-audit's events carry it, `bulwark inventory` classifies by it. No extra RPC.
  const operation = verdict.matched !== undefined ? { operation: verdict.matched } : {};
  if (verdict.action === 'pass') {
    if (policy.kind !== 'openapi') return;
    record('allow', { reason: REASON_ALLOWED, ...operation });
    if (verdict.unmatched !== undefined && policy.unknownOperations === 'log')
      await log.notice('undocumented_operation', {
        method,
        path: pathWithQuery.split('?')[0]!.slice(0, 512), // the path only: query strings may carry credentials
        unmatched: verdict.unmatched,
        action: 'allowed (unknown_operations: log)',
      });
    const deprecation = policy.deprecationHeaders === true ? deprecationHeaders(verdict.deprecation) : undefined;
    if (deprecation !== undefined) await kong.response.setHeaders(deprecation);
    return;
  }

  const { rejection } = verdict;
  const fields = {
    status: rejection.status,
    method,
    // The path only: query strings may carry credentials.
    path: pathWithQuery.split('?')[0]!.slice(0, 512),
    operation: verdict.operation ?? null,
    violations: rejection.violations.map(toLogViolation),
  };
  const firstRule = rejection.violations[0]?.rule;
  const outcome = {
    reason: validatorReason(rejection.status),
    ...(firstRule === undefined ? {} : { rule_id: firstRule }),
  };
  if (conf.mode === 'monitor') {
    await log.notice('validation_failed_monitor_only', fields);
    record('monitor-deny', { ...outcome, ...operation });
    return;
  }
  await log.info('request_rejected', fields);
  const body = rejectionBody(rejection, conf.verbose, conf.maxErrors);
  await reject(rejection.status, body, rejection.headers, { ...outcome, ...operation });
}
