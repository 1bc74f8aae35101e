// Runs compiled CRS rules over a request's values and scores them as CRS does (anomaly scoring: each matching
// rule adds its severity's score; the request is blocked at the threshold). Regex rules that share a collection and
// a transformation chain run as one RE2 set (one linear pass per value and chain); each value's transformations
// are computed once per chain prefix. Values made only of the fast-path alphabet skip the rules proven unable
// to match them (compile.ts canMatchOver).
import { RE2Set } from 're2js';
import type { CompiledRule, CompiledRuleSet, Operator, Target } from './compile';
import { valueTier } from './compile';
import { COLLECTIONS, type Collection, type RequestValue, variableName } from './model';
import { TRANSFORMS } from './transforms';
import { runToEnd, type Steps } from '../../lib/time-slices';

export interface Detectors {
  /** libinjection's SQLi verdict: the fingerprint when the value is SQLi, undefined otherwise. */
  sqli?: (value: string) => string | undefined;
  xss?: (value: string) => boolean;
}

/** `ctl:ruleRemoveTargetById` / `ruleRemoveById`: rules (all when `ruleIds` is undefined) skip the targets (all
 * when `targets` is undefined). */
export interface Exclusion {
  ruleIds?: ReadonlySet<number> | ((id: number) => boolean);
  targets?: readonly Target[];
}

export interface EngineOptions {
  paranoiaLevel: number;
  exclusions?: readonly Exclusion[];
  detectors?: Detectors;
}

export interface RuleMatch {
  id: number;
  category: string;
  score: number;
  severity: string;
  /** ModSecurity-style variable names where the rule matched (at most MAX_LOCATIONS). */
  locations: string[];
}

export interface Evaluation {
  score: number;
  categoryScores: Record<string, number>;
  matches: RuleMatch[];
}

export const MAX_LOCATIONS = 5;

/**
 * Work a evaluation did, in bytes handed to automata (RE2 sets and regexes, phrase automata, detectors) and to
 * transformations. Each of those does bounded work per byte, so this count bounds the running time: the
 * linear-time tests assert it, not wall time.
 */
export interface WorkCounter {
  matcherBytes: number;
  transformBytes: number;
}

interface Group {
  transforms: readonly string[];
  /** Rules run through `set` (plain `@rx`); `setRules[i]` is the set's pattern i. */
  setRules: CompiledRule[];
  sets: { set: RE2Set; offset: number }[];
  /** Rules run one by one (phrase lists, detectors, negated or multiMatch operators). */
  singles: CompiledRule[];
}

interface CollectionPlan {
  /** By value tier (compile.ts valueTier): rules a fast-path value may match, a prose value, any value. */
  tiers: [Group[], Group[], Group[]];
}

function keyMatches(t: Target, name: string): boolean {
  if (t.key === undefined) return true;
  if (typeof t.key === 'string') return t.key === name.toLowerCase();
  return t.key.matcher(name).find();
}

function targetHits(list: readonly Target[], collection: Collection, name: string): boolean {
  for (const t of list) if (t.collection === collection && keyMatches(t, name)) return true;
  return false;
}

/** Patterns per RE2 set: measured fastest with CRS 4 (one set of all PL1 regexes builds far more DFA states than 8 sets of 8). */
const SET_CHUNK = 8;
/** DFA state budget per set (re2js never frees states; past the budget it falls back to its slower, still linear, NFA). */
const SET_DFA_MEMORY = 32 << 20;

function* buildGroups(rules: readonly CompiledRule[]): Steps<Group[]> {
  const byChain = new Map<string, Group>();
  for (const rule of rules) {
    const key = rule.transforms.join(',');
    let group = byChain.get(key);
    if (group === undefined) {
      group = { transforms: rule.transforms, setRules: [], sets: [], singles: [] };
      byChain.set(key, group);
    }
    if (rule.operator.kind === 'rx' && !rule.negated && !rule.multiMatch) group.setRules.push(rule);
    else group.singles.push(rule);
  }
  for (const group of byChain.values()) {
    for (let offset = 0; offset < group.setRules.length; offset += SET_CHUNK) {
      const set = new RE2Set(RE2Set.UNANCHORED, 0, SET_DFA_MEMORY);
      for (const rule of group.setRules.slice(offset, offset + SET_CHUNK)) {
        set.add(`(?sm)${(rule.operator as Extract<Operator, { kind: 'rx' }>).pattern}`);
      }
      set.compile();
      group.sets.push({ set, offset });
      yield;
    }
  }
  return [...byChain.values()];
}

/**
 * The cache keys of a chain's prefixes ("a", "a,b", "a,b,c"), built once per chain (chains are the compiled rules'
 * arrays, so identity is a stable key): building them per value and rule was most of the engine's garbage.
 */
const PREFIX_KEYS = new WeakMap<readonly string[], readonly string[]>();
function prefixKeys(chain: readonly string[]): readonly string[] {
  let keys = PREFIX_KEYS.get(chain);
  if (keys === undefined) {
    keys = chain.map((_, i) => chain.slice(0, i + 1).join(','));
    PREFIX_KEYS.set(chain, keys);
  }
  return keys;
}

/** Applies transformation chains to one value, each prefix computed once. */
class TransformCache {
  private readonly cache = new Map<string, string>();
  constructor(
    private readonly value: string,
    private readonly work?: WorkCounter,
  ) {}

  get(chain: readonly string[]): string {
    if (chain.length === 0) return this.value;
    const keys = prefixKeys(chain);
    // Longest prefix already computed, then the rest of the chain from there.
    let i = chain.length - 1;
    let result: string | undefined;
    for (; i >= 0; i--) {
      result = this.cache.get(keys[i]!);
      if (result !== undefined) break;
    }
    if (result === undefined) result = this.value;
    for (let j = i + 1; j < chain.length; j++) {
      if (this.work !== undefined) this.work.transformBytes += result.length;
      result = TRANSFORMS.get(chain[j]!)!(result);
      this.cache.set(keys[j]!, result);
    }
    return result;
  }
}

interface OpResult {
  matched: boolean;
  /** TX:0-9 after a capturing match. */
  captures?: string[];
}

function expandMacros(arg: string, captures: readonly string[] | undefined): string {
  return arg.replace(/%\{tx\.(\d)\}/gi, (_, n: string) => captures?.[Number(n)] ?? '');
}

/**
 * Built groups per rule set and list of rule ids, process-wide: read-only after building (the RE2 sets' DFA caches
 * only grow, within SET_DFA_MEMORY), so engines share them. Dropped with the rule set (config.ts caches 16).
 */
const GROUPS_BY_RULE_SET = new WeakMap<CompiledRuleSet, Map<string, Group[]>>();

interface Plan {
  active: CompiledRule[];
  inactive: CompiledRule[];
  plans: Map<Collection, CollectionPlan>;
}

function isRemovedEntirely(options: EngineOptions, id: number): boolean {
  return (options.exclusions ?? []).some((e) => e.targets === undefined && idSelected(e, id));
}

/** The regexes a rule runs one by one (outside an RE2 set, or to confirm a set hit for a chain): built ahead. */
function* warmRegexes(rule: CompiledRule, inSet: boolean): Steps<void> {
  const ops = [...(inSet && rule.chain.length === 0 ? [] : [rule.operator]), ...rule.chain.map((l) => l.operator)];
  for (const op of ops) {
    if (op.kind !== 'rx') continue;
    void op.regex; // RE2JS.compile on first use: ~10 ms for a CRS 4 regex, not on a request's time
    yield;
  }
}

function* planSteps(ruleSet: CompiledRuleSet, options: EngineOptions): Steps<Plan> {
  const active: CompiledRule[] = [];
  const inactive: CompiledRule[] = [];
  for (const rule of ruleSet.rules) {
    if (rule.paranoiaLevel > options.paranoiaLevel) continue;
    if (isRemovedEntirely(options, rule.id)) continue;
    const op = rule.operator;
    if (op.kind === 'detect' && options.detectors?.[op.detector] === undefined) inactive.push(rule);
    else active.push(rule);
  }
  // Collections with the same rules (ARGS_GET/ARGS_POST, …) share their groups, and so do engines of one rule set
  // (configs that differ in mode, limits, target exclusions): RE2 sets are costly to build (seconds for CRS 4).
  let built = GROUPS_BY_RULE_SET.get(ruleSet);
  if (built === undefined) {
    built = new Map<string, Group[]>();
    GROUPS_BY_RULE_SET.set(ruleSet, built);
  }
  const cache = built;
  function* groupsFor(rules: CompiledRule[]): Steps<Group[]> {
    const key = rules.map((r) => r.id).join(',');
    let groups = cache.get(key);
    if (groups === undefined) {
      groups = yield* buildGroups(rules);
      for (const group of groups) {
        for (const rule of group.setRules) yield* warmRegexes(rule, true);
        for (const rule of group.singles) yield* warmRegexes(rule, false);
      }
      cache.set(key, groups);
    }
    return groups;
  }
  const plans = new Map<Collection, CollectionPlan>();
  for (const collection of COLLECTIONS) {
    const rules = active.filter((r) => r.targets.some((t) => t.collection === collection));
    if (rules.length === 0) continue;
    plans.set(collection, {
      tiers: [
        yield* groupsFor(rules.filter((r) => !r.fastPathImmune)),
        yield* groupsFor(rules.filter((r) => !r.proseImmune)),
        yield* groupsFor(rules),
      ],
    });
  }
  return { active, inactive, plans };
}

export class CrsEngine {
  private readonly plans: Map<Collection, CollectionPlan>;
  /** Rules at or below the paranoia level that the engine runs. */
  readonly activeRules: readonly CompiledRule[];
  /** Rules left out because their detector is not available (@detectSQLi/@detectXSS without libinjection). */
  readonly inactiveRules: readonly CompiledRule[];

  /** Builds the engine now (seconds for a CRS 4 set not built before); see CrsEngine.steps for the sliced form. */
  constructor(
    ruleSet: CompiledRuleSet,
    private readonly options: EngineOptions,
    planned?: Plan,
  ) {
    const plan = planned ?? runToEnd(planSteps(ruleSet, options));
    this.activeRules = plan.active;
    this.inactiveRules = plan.inactive;
    this.plans = plan.plans;
  }

  /** The engine as steps (one per RE2 set and regex built), for lib/time-slices.ts runInSlices. */
  static *steps(ruleSet: CompiledRuleSet, options: EngineOptions): Steps<CrsEngine> {
    return new CrsEngine(ruleSet, options, yield* planSteps(ruleSet, options));
  }

  private applies(rule: CompiledRule, v: RequestValue): boolean {
    if (!targetHits(rule.targets, v.collection, v.name)) return false;
    if (rule.excluded.length > 0 && targetHits(rule.excluded, v.collection, v.name)) return false;
    for (const e of this.options.exclusions ?? []) {
      if (e.targets !== undefined && idSelected(e, rule.id) && targetHits(e.targets, v.collection, v.name))
        return false;
    }
    return true;
  }

  private work: WorkCounter | undefined;

  private runOperator(op: Operator, negated: boolean, s: string, wantCaptures: boolean, captures?: string[]): OpResult {
    if (this.work !== undefined) this.work.matcherBytes += s.length;
    let r: OpResult;
    switch (op.kind) {
      case 'rx': {
        if (!wantCaptures) {
          // test() runs re2js's DFA; a Matcher needs positions and runs the slower NFA.
          r = { matched: op.regex.test(s) };
          break;
        }
        const m = op.regex.matcher(s);
        if (!m.find()) r = { matched: false };
        else {
          const groups: string[] = [];
          for (let g = 0; g <= Math.min(m.groupCount(), 9); g++) groups.push(m.group(g) ?? '');
          r = { matched: true, captures: groups };
        }
        break;
      }
      case 'pm': {
        const phrase = op.matcher.find(s);
        r = phrase === undefined ? { matched: false } : { matched: true, captures: [phrase] };
        break;
      }
      case 'string': {
        const arg = expandMacros(op.arg, captures);
        const lower = s;
        const matched =
          op.op === 'contains'
            ? lower.includes(arg)
            : op.op === 'beginsWith'
              ? lower.startsWith(arg)
              : op.op === 'endsWith'
                ? lower.endsWith(arg)
                : op.op === 'streq'
                  ? lower === arg
                  : op.op === 'within'
                    ? arg.includes(lower)
                    : new RegExpWordSearch(arg).test(lower);
        r = { matched };
        break;
      }
      case 'detect': {
        if (op.detector === 'sqli') {
          const fp = this.options.detectors?.sqli?.(s);
          r = fp === undefined ? { matched: false } : { matched: true, captures: [fp] };
        } else r = { matched: this.options.detectors?.xss?.(s) === true };
        break;
      }
      case 'unconditional':
        r = { matched: true };
    }
    return negated ? { matched: !r.matched, captures: r.matched ? undefined : [s] } : r;
  }

  /** The rest of a rule once its first link matched `matchedValue` (with `captures`). */
  private runChain(rule: CompiledRule, matchedValue: string, captures: string[] | undefined): boolean {
    let caps = captures;
    for (const link of rule.chain) {
      const input = link.input === 'matched' ? matchedValue : (caps?.[link.input] ?? '');
      const value = new TransformCache(input, this.work).get(link.transforms);
      const r = this.runOperator(link.operator, link.negated, value, link.capture, caps);
      if (!r.matched) return false;
      if (link.capture && r.captures !== undefined) caps = r.captures;
    }
    return true;
  }

  /** Full evaluation of one rule on one value (used for everything but set hits' fast confirmation). */
  private matchRule(rule: CompiledRule, cache: TransformCache, raw: string): boolean {
    const wantCaptures = rule.chain.length > 0;
    if (rule.multiMatch) {
      let value = raw;
      const steps = [raw];
      for (const name of rule.transforms) {
        if (this.work !== undefined) this.work.transformBytes += value.length;
        value = TRANSFORMS.get(name)!(value);
        steps.push(value);
      }
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i]!;
        // A transformation that changed nothing gives the same verdict again (most values: no escapes to decode).
        if (i > 0 && step === steps[i - 1]) continue;
        const r = this.runOperator(rule.operator, rule.negated, step, wantCaptures);
        if (r.matched && (rule.chain.length === 0 || this.runChain(rule, step, r.captures))) return true;
      }
      return false;
    }
    const value = cache.get(rule.transforms);
    const r = this.runOperator(rule.operator, rule.negated, value, wantCaptures);
    return r.matched && (rule.chain.length === 0 || this.runChain(rule, value, r.captures));
  }

  evaluate(values: readonly RequestValue[], work?: WorkCounter): Evaluation {
    this.work = work; // evaluate is synchronous: no other evaluation interleaves
    try {
      return this.evaluateValues(values);
    } finally {
      this.work = undefined;
    }
  }

  private evaluateValues(values: readonly RequestValue[]): Evaluation {
    const work = this.work;
    const hits = new Map<number, RuleMatch>();
    const record = (rule: CompiledRule, v: RequestValue): void => {
      const existing = hits.get(rule.id);
      const where = variableName(v);
      if (existing === undefined) {
        hits.set(rule.id, {
          id: rule.id,
          category: rule.category,
          score: rule.score,
          severity: rule.severity,
          locations: [where],
        });
      } else if (existing.locations.length < MAX_LOCATIONS && !existing.locations.includes(where)) {
        existing.locations.push(where);
      }
    };
    for (const v of values) {
      const plan = this.plans.get(v.collection);
      if (plan === undefined || v.value === '') continue;
      const groups = plan.tiers[valueTier(v.value)];
      const cache = new TransformCache(v.value, work);
      for (const group of groups) {
        if (group.sets.length > 0) {
          const transformed = cache.get(group.transforms);
          for (const { set, offset } of group.sets) {
            if (work !== undefined) work.matcherBytes += transformed.length;
            for (const index of set.match(transformed)) {
              const rule = group.setRules[offset + index]!;
              if (!this.applies(rule, v)) continue;
              if (rule.chain.length > 0 && !this.matchRule(rule, cache, v.value)) continue;
              record(rule, v);
            }
          }
        }
        for (const rule of group.singles) {
          if (hits.get(rule.id)?.locations.length === MAX_LOCATIONS) continue;
          if (!this.applies(rule, v)) continue;
          if (this.matchRule(rule, cache, v.value)) record(rule, v);
        }
      }
    }
    const matches = [...hits.values()].sort((a, b) => a.id - b.id);
    const categoryScores: Record<string, number> = {};
    let score = 0;
    for (const m of matches) {
      score += m.score;
      categoryScores[m.category] = (categoryScores[m.category] ?? 0) + m.score;
    }
    return { score, categoryScores, matches };
  }
}

function idSelected(e: Exclusion, id: number): boolean {
  if (e.ruleIds === undefined) return true;
  return typeof e.ruleIds === 'function' ? e.ruleIds(id) : e.ruleIds.has(id);
}

/** @containsWord: the argument with non-word characters (or the value's ends) on both sides. */
class RegExpWordSearch {
  constructor(private readonly word: string) {}
  test(s: string): boolean {
    if (this.word === '') return true;
    const isWord = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
    for (let i = s.indexOf(this.word); i !== -1; i = s.indexOf(this.word, i + 1)) {
      if (!isWord(s[i - 1]) && !isWord(s[i + this.word.length])) return true;
    }
    return false;
  }
}
