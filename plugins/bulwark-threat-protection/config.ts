// bulwark-threat-protection's config: Kong's config object → the compiled engine. Compiling a CRS directory costs
// seconds (RE2 sets, phrase automata), so rule sets are cached per process by (directory, families) and engines by
// the whole config; Kong starts the same config again per worker and after a plugin-server restart.
import { ConfigError, ConfigReader } from '../lib/config';
import { DEFAULT_JSON_LIMITS, type JsonLimits } from '../lib/json-guard';
import { RE2JS } from 're2js';
import { compileCrsDirectory, DEFAULT_RULE_FAMILIES, type CompiledRuleSet, type Target } from './crs/compile';
import { CrsEngine, type Exclusion } from './crs/engine';
import { COLLECTION_ALIASES, COLLECTIONS, type Collection } from './crs/model';
import { DEFAULT_CRS_PATH, DEFAULT_LIMITS } from './schema';

export type ThreatMode = 'enforce' | 'monitor';
export type LimitAction = 'refuse' | 'scan_prefix';

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
  engine: CrsEngine;
  crsVersion: string | undefined;
}

const NEVER_SCANNED = new Set(['authorization', 'proxy-authorization', 'cookie']);

const ruleSets = new Map<string, CompiledRuleSet>();
const engines = new Map<string, CrsEngine>();
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
  return collections.map((collection) => (compiledKey === undefined ? { collection } : { collection, key: compiledKey }));
}

function parseExclusions(root: ConfigReader, config: Record<string, unknown>): Exclusion[] {
  const field = root.field('exclusions');
  const raw = root.has('exclusions') ? config['exclusions'] : [];
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.keys(raw).length === 0) return [];
  if (!Array.isArray(raw)) throw new ConfigError(field, 'expected an array');
  return raw.map((element, i) => {
    const e = new ConfigReader(element, `${field}[${i}]`);
    const ids = e.has('rule_ids') ? readIntegers(element, e.field('rule_ids')) : null;
    const targets = e.has('targets') ? e.stringArray('targets') : null;
    if (ids === null && targets === null) throw new ConfigError(`${field}[${i}]`, 'needs rule_ids, targets or both');
    return {
      ruleIds: ids === null ? undefined : new Set(ids),
      targets: targets === null ? undefined : targets.flatMap((t, j) => parseTarget(t, `${e.field('targets')}[${j}]`)),
    };
  });
}

function readIntegers(record: unknown, field: string): number[] {
  const value = (record as Record<string, unknown>)['rule_ids'];
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0) return [];
  if (!Array.isArray(value)) throw new ConfigError(field, 'expected an array');
  return value.map((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(`${field}[${i}]`, 'expected a rule id');
    return v;
  });
}

export function parseThreatProtectionConfig(raw: unknown): ThreatProtectionConfig {
  const root = new ConfigReader(raw);
  const mode = root.oneOf<ThreatMode>('mode', ['enforce', 'monitor'], 'enforce');
  const crsPath = root.string('crs_path', DEFAULT_CRS_PATH);
  const families = root.stringArray('rule_families', DEFAULT_RULE_FAMILIES);
  const paranoiaLevel = root.integer('paranoia_level', 1, 1, 4);
  const threshold = root.integer('anomaly_threshold', 5, 1, 10000);
  const headers = root.stringArray('headers', ['User-Agent', 'Referer']).map((h) => h.toLowerCase());
  headers.forEach((h, i) => {
    if (NEVER_SCANNED.has(h)) {
      const why = h === 'cookie' ? 'cookies are always scanned as REQUEST_COOKIES' : 'credentials are never scanned or logged';
      throw new ConfigError(`${root.field('headers')}[${i}]`, `${h}: ${why}`);
    }
  });
  const lr = root.record('limits');
  const limits: ScanLimits = {
    maxBodySize: lr.integer('max_body_size', DEFAULT_LIMITS.max_body_size, 0),
    maxValueBytes: lr.integer('max_value_bytes', DEFAULT_LIMITS.max_value_bytes, 16),
    maxRequestBytes: lr.integer('max_request_bytes', DEFAULT_LIMITS.max_request_bytes, 16),
    maxValues: lr.integer('max_values', DEFAULT_LIMITS.max_values, 1),
    json: { ...DEFAULT_JSON_LIMITS },
  };
  const onLimit = root.oneOf<LimitAction>('on_limit', ['refuse', 'scan_prefix'], 'refuse');
  const exclusions = parseExclusions(root, raw as Record<string, unknown>);

  const setKey = JSON.stringify([crsPath, [...families].sort()]);
  let ruleSet: CompiledRuleSet;
  try {
    ruleSet = remember(ruleSets, setKey, () => compileCrsDirectory(crsPath, { families }));
  } catch (err) {
    throw new ConfigError(root.field('crs_path'), `cannot load the rules: ${(err as Error).message}`);
  }
  const engineKey = JSON.stringify([setKey, paranoiaLevel, (raw as Record<string, unknown>)['exclusions'] ?? []]);
  const engine = remember(engines, engineKey, () => new CrsEngine(ruleSet, { paranoiaLevel, exclusions }));
  return { mode, threshold, paranoiaLevel, headers, limits, onLimit, engine, crsVersion: ruleSet.version };
}
