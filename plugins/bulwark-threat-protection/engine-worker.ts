// The engine thread (engine-load.ts says why it exists): compiles CRS rule sets and scores requests against them,
// from the request as the handler read it: the request model (request-model.ts) is built here too, off the event
// loop, and its refusals (413 scan_limit_exceeded, 400 malformed_body) go back as they are.
// Builds run in slices (lib/time-slices.ts) so that scans for engines already built are answered between them.
// Rule sets are compiled once per content key and shared by every engine built from them.
import { parentPort } from 'node:worker_threads';
import { runInSlices, type SliceStats, type Steps } from '../lib/time-slices';
import { compileCrsSteps, type CompiledRuleSet } from './crs/compile';
import { CrsEngine } from './crs/engine';
import {
  BUILD_SLICE_MS,
  type EngineSpec,
  type FromEngineThread,
  type ScanOptions,
  type ToEngineThread,
} from './engine-protocol';
import { buildExclusions } from './exclusions';
import { LIBINJECTION_DETECTORS } from './libinjection';
import { buildRequestModel } from './request-model';

const port = parentPort;
if (port === null) throw new Error('engine-worker.ts runs as a worker thread (engine-load.ts starts it)');

/** Rule sets by content key: the steps' result, shared by every engine built from it (one compilation each). */
interface RuleSetEntry {
  steps: Steps<CompiledRuleSet>;
  result?: CompiledRuleSet;
}
const ruleSets = new Map<string, RuleSetEntry>();
const RULE_SET_CACHE = 16;
const engines = new Map<number, CrsEngine>();
/** Scan options by profile (engine-protocol.ts ScanOptions): sent with a profile's first scan, dropped with it. */
const profiles = new Map<number, ScanOptions>();

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * The rule set of `spec` as steps: compiled by the first build that needs it; a build that starts while another
 * compiles it waits for that one (a turn at a time) instead of compiling it twice.
 */
function* ruleSetSteps(spec: EngineSpec): Steps<CompiledRuleSet> {
  let entry = ruleSets.get(spec.setKey);
  if (entry === undefined) {
    entry = { steps: compileCrsSteps(spec.crsPath, { families: spec.families }) };
    if (ruleSets.size >= RULE_SET_CACHE) ruleSets.delete(ruleSets.keys().next().value!);
    ruleSets.set(spec.setKey, entry);
  }
  for (;;) {
    if (entry.result !== undefined) return entry.result;
    let next;
    try {
      next = entry.steps.next();
    } catch (err) {
      ruleSets.delete(spec.setKey);
      throw err;
    }
    if (next.done === true) entry.result = next.value;
    else yield;
  }
}

function* engineSteps(spec: EngineSpec): Steps<CrsEngine> {
  const ruleSet = yield* ruleSetSteps(spec);
  const options = {
    paranoiaLevel: spec.paranoiaLevel,
    exclusions: buildExclusions(spec.exclusions),
    detectors: LIBINJECTION_DETECTORS,
  };
  return yield* CrsEngine.steps(ruleSet, options);
}

const reply = (m: FromEngineThread): void => port.postMessage(m);

async function build(engine: number, spec: EngineSpec): Promise<void> {
  const stats: SliceStats = { slices: 0, longestMs: 0 };
  try {
    const built = await runInSlices(engineSteps(spec), BUILD_SLICE_MS, stats);
    engines.set(engine, built);
    reply({ kind: 'built', engine, summary: { activeRuleIds: built.activeRules.map((r) => r.id) }, stats });
  } catch (err) {
    reply({ kind: 'build-failed', engine, error: describe(err), stats });
  }
}

function scan(m: Extract<ToEngineThread, { kind: 'scan' }>): FromEngineThread {
  // The options first: the main thread counts them as sent, whatever becomes of this scan.
  if (m.options !== undefined) profiles.set(m.profile, m.options);
  const engine = engines.get(m.engine);
  if (engine === undefined)
    return { kind: 'scan-failed', id: m.id, error: 'the rule set is not built in the engine thread' };
  const options = profiles.get(m.profile);
  if (options === undefined)
    return { kind: 'scan-failed', id: m.id, error: 'the scan options are not in the engine thread' };
  const model = buildRequestModel(m.request, options.headers, options.limits, options.onLimit);
  if (!model.ok) return { kind: 'refused', id: m.id, status: model.status, reason: model.reason, detail: model.detail };
  const evaluation = engine.evaluate(model.values);
  // The common verdict, nothing matched, goes back without the evaluation's objects (a smaller message to clone).
  const clean = evaluation.score === 0 && evaluation.matches.length === 0;
  return {
    kind: 'scanned',
    id: m.id,
    ...(clean ? {} : { evaluation }),
    ...(model.unscanned.length > 0 ? { unscanned: model.unscanned } : {}),
  };
}

port.on('message', (m: ToEngineThread) => {
  if (m.kind === 'build') void build(m.engine, m.spec);
  else if (m.kind === 'drop') engines.delete(m.engine);
  else if (m.kind === 'drop-profile') profiles.delete(m.profile);
  else {
    try {
      reply(scan(m));
    } catch (err) {
      reply({ kind: 'scan-failed', id: m.id, error: describe(err) });
    }
  }
});
