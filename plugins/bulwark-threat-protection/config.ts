// bulwark-threat-protection's config: the declared fields (schema.ts) → the engine, built in the background
// (engine-load.ts). Compiling a CRS directory costs seconds (RE2 sets, phrase automata), so rule sets are cached per
// process by the content of the rule files read (crsContentKey) and engines by the whole config; Kong starts the
// same config again per worker and after a plugin-server restart. What the config itself says is checked here, at
// instance start, and refused with the field named; only the compilation runs later.
import { ConfigError } from '../lib/config';
import { readConfig, type RecordOf } from '../lib/fields';
import { DEFAULT_JSON_LIMITS, type JsonLimits } from '../lib/json-guard';
import { RE2JS } from 're2js';
import type { Steps } from '../lib/time-slices';
import { compileCrsSteps, crsContentKey, type CompiledRuleSet, type Target } from './crs/compile';
import { CrsEngine, type Exclusion } from './crs/engine';
import { COLLECTION_ALIASES, COLLECTIONS, type Collection } from './crs/model';
import { EngineLoad } from './engine-load';
import { LIBINJECTION_DETECTORS } from './libinjection';
import { ConfigFields } from './schema';

type ThreatProtectionFields = RecordOf<(typeof ConfigFields)['fields']>;

export type ThreatMode = 'enforce' | 'monitor';
export type LimitAction = 'refuse' | 'scan_prefix';
export type NotReadyAction = 'refuse' | 'allow';

export interface ScanLimits {
  maxBodySize: number;
  maxValueBytes: number;
  maxRequestBytes: number;
  maxValues: number;
  json: JsonLimits;
}

export interface ThreatProtectionConfig {
  mode: ThreatMode;
  threshold: number;
  paranoiaLevel: number;
  /** Lower-case header names scanned. */
  headers: string[];
  limits: ScanLimits;
  onLimit: LimitAction;
  /** What requests get while the engine is being built: refuse (503) or allow (unscanned, logged). */
  onRulesNotReady: NotReadyAction;
  /** The engine, built in the background from instance start. */
  rules: EngineLoad;
}

const NEVER_SCANNED = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** Rule sets by content key: the steps' result, shared by every engine built from it (one compilation each). */
interface RuleSetEntry {
  steps: Steps<CompiledRuleSet>;
  result?: CompiledRuleSet;
}
const ruleSets = new Map<string, RuleSetEntry>();
const engines = new Map<string, EngineLoad>();
const CACHE_SIZE = 16;

function remember<V>(map: Map<string, V>, key: string, build: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = build();
    if (map.size >= CACHE_SIZE) map.delete(map.keys().next().value!);
    map.set(key, v);
  }
  return v;
}

/**
 * The rule set of `setKey` as steps: compiled by the first engine build that needs it; a build that starts while
 * another compiles it waits for that one (a turn at a time) instead of compiling it twice.
 */
function* ruleSetSteps(setKey: string, dir: string, families: readonly string[]): Steps<CompiledRuleSet> {
  const entry = remember<RuleSetEntry>(ruleSets, setKey, () => ({ steps: compileCrsSteps(dir, { families }) }));
  for (;;) {
    if (entry.result !== undefined) return entry.result;
    let next;
    try {
      next = entry.steps.next();
    } catch (err) {
      ruleSets.delete(setKey);
      throw err;
    }
    if (next.done === true) entry.result = next.value;
    else yield;
  }
}

/** `ARGS:q` / `REQUEST_COOKIES:/^_ga/` / `REQUEST_FILENAME` → targets (ARGS expands to GET and POST). */
export function parseTarget(text: string, field: string): Target[] {
  const colon = text.indexOf(':');
  const name = (colon === -1 ? text : text.slice(0, colon)).toUpperCase();
  const key = colon === -1 ? undefined : text.slice(colon + 1);
  const collections: readonly Collection[] | undefined =
    COLLECTION_ALIASES[name] ?? ((COLLECTIONS as readonly string[]).includes(name) ? [name as Collection] : undefined);
  if (collections === undefined) throw new ConfigError(field, `unknown variable ${name}`);
  if (key === '') throw new ConfigError(field, 'empty key after ":"');
  let compiledKey: string | RE2JS | undefined;
  if (key !== undefined && key.length >= 2 && key.startsWith('/') && key.endsWith('/')) {
    try {
      compiledKey = RE2JS.compile(key.slice(1, -1), RE2JS.CASE_INSENSITIVE);
    } catch (err) {
      throw new ConfigError(field, `key regex does not compile: ${(err as Error).message}`);
    }
  } else compiledKey = key?.toLowerCase();
  return collections.map((collection) =>
    compiledKey === undefined ? { collection } : { collection, key: compiledKey },
  );
}

function buildExclusions(declared: ThreatProtectionFields['exclusions']): Exclusion[] {
  return declared.map((element, i) => {
    const field = `exclusions[${i}]`;
    if (element.rule_ids === undefined && element.targets === undefined) {
      throw new ConfigError(field, 'needs rule_ids, targets or both');
    }
    return {
      ruleIds: element.rule_ids === undefined ? undefined : new Set(element.rule_ids),
      targets: element.targets?.flatMap((t, j) => parseTarget(t, `${field}.targets[${j}]`)),
    };
  });
}

export function parseThreatProtectionConfig(raw: unknown): ThreatProtectionConfig {
  const conf = readConfig(ConfigFields, raw);
  const headers = conf.headers.map((h) => h.toLowerCase());
  headers.forEach((h, i) => {
    if (NEVER_SCANNED.has(h)) {
      const why =
        h === 'cookie' ? 'cookies are always scanned as REQUEST_COOKIES' : 'credentials are never scanned or logged';
      throw new ConfigError(`headers[${i}]`, `${h}: ${why}`);
    }
  });
  const limits: ScanLimits = {
    maxBodySize: conf.limits.max_body_size,
    maxValueBytes: conf.limits.max_value_bytes,
    maxRequestBytes: conf.limits.max_request_bytes,
    maxValues: conf.limits.max_values,
    json: { ...DEFAULT_JSON_LIMITS },
  };
  const exclusions = buildExclusions(conf.exclusions);

  const families = conf.rule_families;
  let setKey: string;
  try {
    // By content, not path: one compilation per process for the same rules, a new one when the files change.
    // Reading and hashing the files is milliseconds; a directory that cannot be read is refused here, at start.
    setKey = crsContentKey(conf.crs_path, families);
  } catch (err) {
    throw new ConfigError('crs_path', `cannot load the rules: ${(err as Error).message}`);
  }
  const engineKey = JSON.stringify([setKey, conf.paranoia_level, conf.exclusions]);
  const rules = remember(engines, engineKey, () => {
    function* steps(): Steps<CrsEngine> {
      const ruleSet = yield* ruleSetSteps(setKey, conf.crs_path, families);
      const options = { paranoiaLevel: conf.paranoia_level, exclusions, detectors: LIBINJECTION_DETECTORS };
      return yield* CrsEngine.steps(ruleSet, options);
    }
    // A failed build is not kept: the next instance start tries again.
    return new EngineLoad(steps(), () => engines.delete(engineKey));
  });
  return {
    mode: conf.mode,
    threshold: conf.anomaly_threshold,
    paranoiaLevel: conf.paranoia_level,
    headers,
    limits,
    onLimit: conf.on_limit,
    onRulesNotReady: conf.on_rules_not_ready,
    rules,
  };
}
