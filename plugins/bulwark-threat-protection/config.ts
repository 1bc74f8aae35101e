// bulwark-threat-protection's config: the declared fields (schema.ts) → the engine, built in the engine thread
// (engine-load.ts). Compiling a CRS directory costs seconds (RE2 sets, phrase automata), so rule sets are cached per
// process by the content of the rule files read (crsContentKey) and engines by the whole config; Kong starts the
// same config again per worker and after a plugin-server restart. What the config itself says is checked here, at
// instance start, and refused with the field named; only the compilation runs later.
import { ConfigError } from '../lib/config';
import { readConfig } from '../lib/fields';
import { DEFAULT_JSON_LIMITS, type JsonLimits } from '../lib/json-guard';
import { crsContentKey } from './crs/compile';
import { EngineLoad } from './engine-load';
import { buildExclusions } from './exclusions';
import { ConfigFields, DEFAULT_LIMITS } from './schema';

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

/** The `limits` record as the schema declares it (snake_case, the config's names). */
type DeclaredLimits = { [K in keyof typeof DEFAULT_LIMITS]: number };

function scanLimitsOf(declared: DeclaredLimits): ScanLimits {
  return {
    maxBodySize: declared.max_body_size,
    maxValueBytes: declared.max_value_bytes,
    maxRequestBytes: declared.max_request_bytes,
    maxValues: declared.max_values,
    json: { ...DEFAULT_JSON_LIMITS },
  };
}

/** The scan limits a config that leaves `limits` out gets: the schema's defaults (benches, tests, verdict scripts). */
export function defaultScanLimits(): ScanLimits {
  return scanLimitsOf(DEFAULT_LIMITS);
}

const NEVER_SCANNED = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** Engines by the config they are built from: Kong starts the same config again per worker process and after a
 * plugin-server restart, and an instance that differs only in mode or limits shares the engine. */
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
  const limits = scanLimitsOf(conf.limits);
  buildExclusions(conf.exclusions); // checked here, at instance start; built again in the engine thread

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
  // A failed build is not kept: the next instance start tries again.
  const rules = remember(
    engines,
    engineKey,
    () =>
      new EngineLoad(
        { crsPath: conf.crs_path, families, setKey, paranoiaLevel: conf.paranoia_level, exclusions: conf.exclusions },
        () => engines.delete(engineKey),
      ),
  );
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
