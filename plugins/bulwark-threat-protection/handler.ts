// bulwark-threat-protection's access handler: read the request in bulk, hand it to the engine thread, which builds
// the values CRS rules see (request-model.ts) and scores them (engine-load.ts, crs/engine.ts), act on the reply.
//
// RPC budget (each kong.* call is one round trip to Kong):
//   getMethod + getPathWithQuery + getHeaders(1000)           always (3)
//   (1000 header lines or more: + log.warn + exit 431, lib/bounded-reads.ts; over 1000 query pieces: log + 400)
//   + getRawBody(limit)                                         when Content-Length > 0 or absent (chunked, HTTP/2)
//   (rules still compiling: one log line + the deny record + exit 503, or the log line only with allow)
//   (the engine thread failed the scan, died or is full: one log line + the deny record + exit 503)
//   + one log line + the deny record + exit                     on a block (monitor: the log line only)
//   + the decision record (allow or monitor-deny, lib/plugin.ts) when the request passes
// Body bytes are read once; JSON goes through lib/json-guard.ts as in bulwark-validator (strict UTF-8, no duplicate
// keys, depth/size limits), so both plugins see the same document. A body announced larger than max_body_size is
// the on_limit case before anything is read.
import { readRequestHeaders, refusedForTooManyQueryArguments } from '../lib/bounded-reads';
import { headerValues } from '../lib/pdk';
import { describeError, type PhaseContext } from '../lib/plugin';
import { certainlyNoBody, readRequestLine } from '../lib/request-line';
import type { ThreatProtectionConfig } from './config';
import type { Evaluation } from './crs/engine';
import type { ScanResult } from './engine-load';
import { REASON } from './reasons';

/** The decision's rule_id: the highest-scoring matched rule (the first one of them, in evaluation order). */
export function topRuleId(e: Evaluation): string | undefined {
  let top: Evaluation['matches'][number] | undefined;
  for (const m of e.matches) if (top === undefined || m.score > top.score) top = m;
  return top === undefined ? undefined : String(top.id);
}

/** What the log and the audit event say about a detection: rule ids, categories and locations, never values. */
export function detectionFields(e: Evaluation, threshold: number): Record<string, unknown> {
  return {
    score: e.score,
    threshold,
    category_scores: e.categoryScores,
    rules: e.matches.map((m) => ({ id: m.id, category: m.category, score: m.score, locations: m.locations })),
  };
}

function declaredLength(headers: Record<string, string[]>): number | 'unknown' | 'invalid' {
  const values = headerValues(headers, 'content-length');
  if (values.length === 0) return 'unknown';
  if (!values.every((v) => /^\d{1,15}$/.test(v.trim())) || new Set(values.map((v) => v.trim())).size !== 1)
    return 'invalid';
  return Number(values[0]!.trim());
}

/** 413 for a body over max_body_size (declared by Content-Length, or found reading it) with on_limit: refuse. */
async function refuseBodyTooLarge(ctx: PhaseContext<ThreatProtectionConfig>, path: string): Promise<void> {
  const { conf, log, reject } = ctx;
  await log.info('request_refused', {
    reason: REASON.bodyTooLarge,
    max_body_size: conf.limits.maxBodySize,
    status: 413,
    path,
  });
  return reject(413, undefined, undefined, { reason: REASON.bodyTooLarge });
}

export async function access(ctx: PhaseContext<ThreatProtectionConfig>): Promise<void> {
  const { kong, conf, log, reject } = ctx;
  // Before any read: a request that cannot be scanned costs one log line and the exit.
  const rules = conf.rules;
  if (rules.status !== 'ready') {
    const failure = rules.failure();
    if (failure !== undefined) {
      await log.err('request_refused', { reason: REASON.rulesFailed, error: failure, status: 503 });
      return reject(503, undefined, undefined, { reason: REASON.rulesFailed });
    }
    if (conf.onRulesNotReady === 'allow') {
      await log.warn('request_passed_unscanned', { reason: REASON.passedUnscanned, on_rules_not_ready: 'allow' });
      ctx.record('allow', { reason: REASON.passedUnscanned });
      return;
    }
    await log.warn('request_refused', { reason: REASON.rulesNotReady, status: 503 });
    return reject(503, undefined, undefined, { reason: REASON.rulesNotReady });
  }
  const method = await kong.request.getMethod();
  // Path with query and the HTTP version in one RPC: the version says when there is no body to read.
  const line = await readRequestLine(kong);
  const pathWithQuery = line.pathWithQuery;
  const headers = await readRequestHeaders(ctx);
  if (headers === undefined) return;
  const path = pathWithQuery.split('?')[0]!.slice(0, 512);

  const q = pathWithQuery.indexOf('?');
  if (q !== -1 && (await refusedForTooManyQueryArguments(ctx, pathWithQuery.slice(q + 1)))) return;

  let body: Uint8Array | undefined;
  const length = declaredLength(headers);
  if (length === 'invalid') {
    await log.info('request_refused', { reason: REASON.invalidContentLength, status: 400, path });
    return reject(400, 'Invalid Content-Length', undefined, { reason: REASON.invalidContentLength });
  }
  if (length !== 0 && !certainlyNoBody(line, headers)) {
    if (typeof length === 'number' && length > conf.limits.maxBodySize && conf.onLimit === 'refuse') {
      return refuseBodyTooLarge(ctx, path);
    }
    // One byte over the limit tells a body that does not fit from one that does (no Content-Length: chunked/HTTP/2).
    const bytes = (await kong.request.getRawBody(conf.limits.maxBodySize + 1)) ?? new Uint8Array(0);
    if (bytes.byteLength > conf.limits.maxBodySize) {
      if (conf.onLimit === 'refuse') {
        return refuseBodyTooLarge(ctx, path);
      }
      body = bytes.subarray(0, conf.limits.maxBodySize);
    } else body = bytes;
  }

  let scan: ScanResult;
  try {
    // The request model and the evaluation, both in the engine thread (engine-load.ts); conf carries the scan options.
    scan = await rules.scan({ method, pathWithQuery, headers, body }, conf);
  } catch (err) {
    await log.err('request_refused', { reason: REASON.scanFailed, error: describeError(err), status: 503, path });
    return reject(503, undefined, undefined, { reason: REASON.scanFailed });
  }
  if (!scan.ok) {
    await log.info('request_refused', { reason: scan.reason, detail: scan.detail, status: scan.status, path });
    return reject(scan.status, undefined, undefined, { reason: scan.reason });
  }
  const { evaluation } = scan;
  const unscanned = scan.unscanned.length > 0 ? { unscanned: scan.unscanned } : {};
  if (evaluation.score < conf.threshold) {
    if (evaluation.score > 0 || scan.unscanned.length > 0) {
      await log.info('below_threshold', {
        reason: REASON.allowed,
        method,
        path,
        ...detectionFields(evaluation, conf.threshold),
        ...unscanned,
      });
    }
    return;
  }
  const fields = {
    reason: REASON.threatDetected,
    rule_id: topRuleId(evaluation),
    method,
    path,
    paranoia_level: conf.paranoiaLevel,
    ...detectionFields(evaluation, conf.threshold),
    ...unscanned,
  };
  const outcome = { reason: REASON.threatDetected, rule_id: fields.rule_id };
  if (conf.mode === 'monitor') {
    await log.notice('threat_detected_monitor_only', fields);
    ctx.record('monitor-deny', outcome);
    return;
  }
  await log.warn('request_blocked', { ...fields, status: 403 });
  return reject(403, undefined, undefined, outcome);
}
