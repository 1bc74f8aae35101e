// Runs compiled CRS rules over a request's values and scores them as CRS does (anomaly scoring: each matching
// rule adds its severity's score; the request is blocked at the threshold). Regex rules that share a collection and
// a transformation chain run as one RE2 set (one linear pass per value and chain), behind a literal prefilter run
// once per distinct transformed string. Each value's transformations are computed once per chain prefix, a
// transformation whose trigger chars are absent is skipped, and chains that reach the same string by different
// prefixes share the next step's result. A value made only of one value class's chars (compile.ts VALUE_CLASSES:
// numeric, word, fast path, path, prose) skips the rules proven unable to match that class. Every `@pm` list runs in
// one automaton pass per distinct transformed string (PhraseScan; a lowercased string shares its source's pass), a
// value repeated within a request is scored once (repeatedValueMemo), and a short value seen in an earlier request
// is scored from a bounded per-engine cache of its matches (verdictCache).
import { RE2Set } from 're2js';
import type { CompiledRule, CompiledRuleSet, Operator, Target } from './compile';
import { VALUE_CLASSES } from './compile';
import { PhraseMatcher } from './aho-corasick';
import { literalsCost } from './literal-prefilter';
import { COLLECTIONS, type Collection, type RequestValue, variableName } from './model';
import {
  CHAR_FIRST_FREE_BIT,
  CHAR_SPACE,
  charBits,
  lowercase,
  RESULT_BITS,
  TRANSFORMS,
  TRIGGERS,
  type Transform,
} from './transforms';
import { runToEnd, type Steps } from '../../lib/time-slices';
import { keyChars, VerdictCache } from './verdict-cache';

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
  /** Run a regex only when its value holds one of its required literals (literal-prefilter.ts); default true. False:
   * every regex runs on every value (the reference the prefilter's equivalence test compares against). */
  literalPrefilter?: boolean;
  /** Score a value that occurs again in a request (same collection and bytes, and the same name where some rule's
   * targets or an exclusion depend on the name) from its first occurrence's matches; default true. False: every
   * occurrence is evaluated (the reference the memo's equivalence test compares against). */
  repeatedValueMemo?: boolean;
  /** Run the phrase lists of `@pm` rules (and, with the prefilter, multiMatch regexes' literals) as one automaton
   * pass per distinct transformed string of a value (PhraseScan); default true. False: each list scans on its own
   * (the reference the scan's equivalence test compares against). */
  sharedPhraseScan?: boolean;
  /** Entries of the cross-request verdict cache (the memo's key and result, kept across evaluations for values of
   * at most MAX_CACHED_VALUE bytes, names of at most MAX_CACHED_NAME; keys of VERDICT_KEY_CHARS chars per entry on
   * average at most); default DEFAULT_VERDICT_CACHE, 0 disables. */
  verdictCache?: number;
  /** Skip, for a value made of one of compile.ts VALUE_CLASSES, the rules proven unable to match that class; default
   * true. False: every rule of the collection runs on every value (the reference the classes' equivalence test
   * compares against). */
  valueClasses?: boolean;
}

/** Default entries of the verdict cache: the distinct short values of ~1,500 requests of the generated mix. */
export const DEFAULT_VERDICT_CACHE = 16_384;
/** Longest value the verdict cache keeps (bytes): every value of the generated mix; user agents, cookies, JSON
 * leaves and argument names are shorter. A longer value is evaluated every time (prose, bodies: rarely repeated). */
export const MAX_CACHED_VALUE = 256;
/** Longest name in a key, where the collection's rules depend on names (argument, cookie and header names). */
export const MAX_CACHED_NAME = 128;
/** Most rules a cached result lists (bounds an entry's size); a value matching more is evaluated every time. */
export const MAX_CACHED_RULES = 8;
/** Key chars per entry the cache holds at most, on average (its key-char budget is entries × this): a flood of
 * long values fills it with fewer entries. The distinct keys of the generated mix average ~50 chars. */
export const VERDICT_KEY_CHARS = 64;

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
  /** Includes each verdict-cache lookup's key length (hashed once): a value the cache answers costs that alone. */
  matcherBytes: number;
  transformBytes: number;
}

interface RuleSetChunk {
  set: RE2Set;
  offset: number;
  count: number;
  /** Whether the chunk holds a rule without usable literals: then it runs on every value. */
  always: boolean;
}

interface Group {
  transforms: readonly string[];
  steps: ChainSteps;
  /** Rules run through `sets` (plain `@rx`); `setRules[offset + i]` is a chunk's pattern i. Rules without usable
   * literals come first (their chunks always run), then the others by literal. */
  setRules: CompiledRule[];
  sets: RuleSetChunk[];
  /** Per setRules index: whether a literal of it occurred in the current value (cleared after each value); empty
   * when no set rule of the group is prefiltered. */
  admitted: Uint8Array;
  /** Rules run one by one (phrase lists, detectors, negated or multiMatch operators). */
  singles: CompiledRule[];
  /** Per single: a multiMatch `@rx` rule's literals (literal-prefilter.ts), checked on each step before the regex
   * runs; undefined otherwise or without a prefilter. */
  singleLiterals: (PhraseMatcher | undefined)[];
}

/** The groups of one value class of a collection, with the literals of all their prefiltered set rules in one automaton:
 * it runs once per distinct transformed string of a value (chains that leave a value alike share the pass). */
interface GroupList {
  groups: Group[];
  /** Undefined without a prefilter (or no prefiltered rule). */
  literals?: PhraseMatcher;
  /** Per literal k of `literals`: the (group index, setRules index) pairs it admits, flattened. */
  literalOwners: Int32Array[];
}

interface CollectionPlan {
  /** Per value class (compile.ts VALUE_CLASSES, then any value): the rules a value of the class may match. */
  classes: GroupList[];
  /** Per class, per group, per single: 1 when the rule applies to every value of the collection (its targets name
   * the whole collection, and neither its own `!` targets nor a configured exclusion names the collection), so
   * the per-value applies() check is skipped; 0: check. Per engine (exclusions differ; groups are shared). */
  singleApplies: Uint8Array[][];
  /** Per class, per group, per single: its phrase set in the engine's PhraseScan (an `@pm` list, or a multiMatch
   * regex's literals), -1 when it has none. Per engine (the scan is built over its active rules). */
  singleSets: Int32Array[][];
  /** Whether every rule of the collection applies to every value of it (as singleApplies, for set rules too):
   * then the rules a value matches depend on its bytes only, not on its name. */
  nameIndependent: boolean;
  /** The collection's verdict-cache tag. */
  tag: number;
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

/** Literals a set rule is prefiltered by, or undefined when it must run on every value: none known, or so common
 * (single letters) that the filter would rarely skip it and only split its RE2 set. */
function prefilterLiterals(rule: CompiledRule): readonly string[] | undefined {
  const op = rule.operator;
  if (op.kind !== 'rx' || op.literals === undefined) return undefined;
  return literalsCost(op.literals) > MAX_LITERALS_COST ? undefined : op.literals;
}

/** Expected-hit weight (literal-prefilter.ts literalsCost) above which a rule is not worth prefiltering. */
const MAX_LITERALS_COST = 0.5;

function* buildGroups(rules: readonly CompiledRule[], prefilter: boolean): Steps<GroupList> {
  const byChain = new Map<string, Group>();
  for (const rule of rules) {
    const key = rule.transforms.join(',');
    let group = byChain.get(key);
    if (group === undefined) {
      group = {
        transforms: rule.transforms,
        steps: chainSteps(rule.transforms),
        setRules: [],
        sets: [],
        singles: [],
        singleLiterals: [],
        admitted: EMPTY,
      };
      byChain.set(key, group);
    }
    if (rule.operator.kind === 'rx' && !rule.negated && !rule.multiMatch) group.setRules.push(rule);
    else {
      group.singles.push(rule);
      const literals = prefilter && rule.multiMatch && !rule.negated ? prefilterLiterals(rule) : undefined;
      group.singleLiterals.push(literals === undefined ? undefined : new PhraseMatcher(literals));
    }
  }
  const groups = [...byChain.values()];
  const literalsOf = (r: CompiledRule): readonly string[] | undefined => (prefilter ? prefilterLiterals(r) : undefined);
  const literalIndex = new Map<string, number>();
  const phrases: string[] = [];
  const owners: number[][] = [];
  for (const [g, group] of groups.entries()) {
    // Unfiltered rules first (they share chunks that always run), then the filtered ones, cheapest filters together.
    const unfiltered = group.setRules.filter((r) => literalsOf(r) === undefined);
    const filtered = group.setRules
      .filter((r) => literalsOf(r) !== undefined)
      .sort((a, b) => literalsCost(literalsOf(a)!) - literalsCost(literalsOf(b)!));
    group.setRules = [...unfiltered, ...filtered];
    const chunks: [number, number, boolean][] = [];
    for (let offset = 0; offset < unfiltered.length; offset += SET_CHUNK) {
      chunks.push([offset, Math.min(SET_CHUNK, unfiltered.length - offset), true]);
    }
    for (let offset = unfiltered.length; offset < group.setRules.length; offset += SET_CHUNK) {
      chunks.push([offset, Math.min(SET_CHUNK, group.setRules.length - offset), false]);
    }
    if (filtered.length > 0) {
      group.setRules.forEach((rule, i) => {
        for (const literal of literalsOf(rule) ?? []) {
          let k = literalIndex.get(literal);
          if (k === undefined) {
            k = phrases.length;
            literalIndex.set(literal, k);
            phrases.push(literal);
            owners.push([]);
          }
          owners[k]!.push(g, i);
        }
      });
      group.admitted = new Uint8Array(group.setRules.length);
    }
    for (const [offset, count, always] of chunks) {
      const set = new RE2Set(RE2Set.UNANCHORED, 0, SET_DFA_MEMORY);
      for (const rule of group.setRules.slice(offset, offset + count)) {
        set.add(`(?sm)${(rule.operator as Extract<Operator, { kind: 'rx' }>).pattern}`);
      }
      set.compile();
      group.sets.push({ set, offset, count, always });
      yield;
    }
  }
  return {
    groups,
    literals: phrases.length > 0 ? new PhraseMatcher(phrases) : undefined,
    literalOwners: owners.map((o) => Int32Array.from(o)),
  };
}

const EMPTY = new Uint8Array(0);

/**
 * A transformation chain resolved once (chains are the compiled rules' arrays, so identity is a stable key): its
 * prefixes ("a", "a,b", "a,b,c") as small integers, the slots a value's results live in (per-value Maps and key
 * strings were much of the engine's garbage), and per step the function, its trigger chars and an id for the
 * per-value memo of (input, transformation) results.
 */
interface ChainSteps {
  readonly ids: Int32Array;
  readonly fns: readonly Transform[];
  /** TRIGGERS bits per step; -1: may change any string (base64Decode, sha1, …). */
  readonly triggers: Int32Array;
  /** Per step, transforms.ts RESULT_BITS (bits kept, bits that add CHAR_SPACE); kept 0: scan the output. */
  readonly resultKeep: Int32Array;
  readonly resultSpaceFrom: Int32Array;
  readonly transformIds: Int32Array;
}

const CHAIN_STEPS = new WeakMap<readonly string[], ChainSteps>();
const PREFIX_ID_BY_KEY = new Map<string, number>();
const TRANSFORM_IDS = new Map<string, number>();

function chainSteps(chain: readonly string[]): ChainSteps {
  let steps = CHAIN_STEPS.get(chain);
  if (steps === undefined) {
    const ids = Int32Array.from(chain, (_, i) => {
      const key = chain.slice(0, i + 1).join(',');
      let id = PREFIX_ID_BY_KEY.get(key);
      if (id === undefined) {
        id = PREFIX_ID_BY_KEY.size;
        PREFIX_ID_BY_KEY.set(key, id);
        slotValues.push('');
        slotBits.push(0);
        slotOwner.push(0);
      }
      return id;
    });
    const transformIds = Int32Array.from(chain, (name) => {
      let id = TRANSFORM_IDS.get(name);
      if (id === undefined) {
        id = TRANSFORM_IDS.size;
        TRANSFORM_IDS.set(name, id);
        memoInput.push('');
        memoOutput.push('');
        memoBits.push(0);
        memoOwner.push(0);
      }
      return id;
    });
    steps = {
      ids,
      fns: chain.map((name) => TRANSFORMS.get(name)!),
      triggers: Int32Array.from(chain, (name) => TRIGGERS.get(name) ?? -1),
      resultKeep: Int32Array.from(chain, (name) => RESULT_BITS.get(name)?.[0] ?? 0),
      resultSpaceFrom: Int32Array.from(chain, (name) => RESULT_BITS.get(name)?.[1] ?? 0),
      transformIds,
    };
    CHAIN_STEPS.set(chain, steps);
  }
  return steps;
}

/** Transformation results by prefix id (with their charBits), valid for the TransformCache whose generation is in
 * slotOwner (the engine is synchronous; a nested cache for chain links may take a slot over, and the outer one then
 * computes it again). */
const slotValues: string[] = [];
const slotBits: number[] = [];
const slotOwner: number[] = [];
/** Per transformation id, the last (input, output) of the cache whose generation is in memoOwner: chains that
 * reach the same string by different prefixes (`[urlDecodeUni, lowercase]` on a value without `%`/`+`, and
 * `[lowercase]`) transform it once. */
const memoInput: string[] = [];
const memoOutput: string[] = [];
const memoBits: number[] = [];
const memoOwner: number[] = [];
let generations = 0;

/** Value classes (compile.ts VALUE_CLASSES) as bits above the chars' ones, read in the same scan: bit c set when a
 * char of the value is outside class c. */
const CLASS_COUNT = VALUE_CLASSES.length;
const ALL_CLASSES = ((1 << CLASS_COUNT) - 1) << CHAR_FIRST_FREE_BIT;
const CLASS_BITS = Int32Array.from({ length: 256 }, (_, c) =>
  VALUE_CLASSES.reduce((bits, vc, i) => (vc.bytes[c] === 1 ? bits : bits | (1 << (CHAR_FIRST_FREE_BIT + i))), 0),
);
/** The plan index of a value outside every class: every rule. */
const ANY_CLASS = CLASS_COUNT;

/** Applies transformation chains to one value, each prefix computed once, transformations that cannot change a
 * string skipped. */
class TransformCache {
  private generation = 0;
  private value = '';
  private bits = 0;
  /** The first value class (compile.ts VALUE_CLASSES) holding every char of the value; ANY_CLASS: none. */
  valueClass = 0;
  constructor(private work?: WorkCounter) {}

  /** Starts over on another value (one cache object serves every value of an evaluation). */
  reset(value: string, work: WorkCounter | undefined): this {
    this.generation = ++generations;
    this.value = value;
    this.foldCount = 0;
    this.work = work;
    if (work !== undefined) work.transformBytes += value.length;
    const bits = charBits(value, CLASS_BITS, ALL_CLASSES);
    this.bits = bits;
    const inClasses = ~bits & ALL_CLASSES;
    this.valueClass = inClasses === 0 ? ANY_CLASS : 31 - Math.clz32(inClasses & -inClasses) - CHAR_FIRST_FREE_BIT;
    return this;
  }

  get(chain: readonly string[], steps = chainSteps(chain)): string {
    return this.prefix(steps, chain.length);
  }

  /** The value after the first `n` transformations of a chain (0: the raw value). */
  prefix(steps: ChainSteps, n: number): string {
    const ids = steps.ids;
    const generation = this.generation;
    // Longest prefix already computed, then the rest of the chain from there.
    let i = n - 1;
    for (; i >= 0; i--) {
      const id = ids[i]!;
      if (slotOwner[id] === generation) {
        this.stepBits = slotBits[id]!;
        break;
      }
    }
    let result = i >= 0 ? slotValues[ids[i]!]! : this.start();
    for (let j = i + 1; j < n; j++) result = this.advance(steps, j, result);
    return result;
  }

  /** The raw value, to walk a chain from with advance. */
  start(): string {
    this.stepBits = this.bits;
    return this.value;
  }

  /** charBits of the last string start or advance returned. */
  private stepBits = 0;

  /** The value's strings that `lowercase` made from another of its strings (foldedFrom[k] made foldedTo[k]). The
   * phrase and literal automata read ASCII letters case-insensitively, so such a string gives its source's verdict. */
  private readonly foldedTo: string[] = [];
  private readonly foldedFrom: string[] = [];
  private foldCount = 0;

  /** The string the case-insensitive automata may scan in place of `s`: the source of a lowercased string, else s. */
  caseFoldSource(s: string): string {
    for (let k = 0; k < this.foldCount; k++) if (this.foldedTo[k] === s) return this.foldedFrom[k]!;
    return s;
  }

  /** The value after transformation `j` of a chain, from `input`: the value after the transformations before it
   * (the last string start or advance returned). */
  advance(steps: ChainSteps, j: number, input: string): string {
    const id = steps.ids[j]!;
    const generation = this.generation;
    if (slotOwner[id] === generation) {
      this.stepBits = slotBits[id]!;
      return slotValues[id]!;
    }
    let result = input;
    let bits = this.stepBits;
    const trigger = steps.triggers[j]!;
    if (trigger === -1 || (trigger & bits) !== 0) {
      const t = steps.transformIds[j]!;
      if (memoOwner[t] === generation && memoInput[t] === input) {
        result = memoOutput[t]!;
        bits = memoBits[t]!;
      } else {
        if (this.work !== undefined) this.work.transformBytes += input.length;
        const fn = steps.fns[j]!;
        result = fn(input);
        if (result !== input) {
          if (this.work !== undefined) this.work.transformBytes += result.length;
          const keep = steps.resultKeep[j]!;
          bits =
            keep === 0 ? charBits(result) : (bits & keep) | ((bits & steps.resultSpaceFrom[j]!) !== 0 ? CHAR_SPACE : 0);
          if (fn === lowercase) {
            this.foldedTo[this.foldCount] = result;
            this.foldedFrom[this.foldCount++] = input;
          }
        }
        memoInput[t] = input;
        memoOutput[t] = result;
        memoBits[t] = bits;
        memoOwner[t] = generation;
      }
    }
    slotValues[id] = result;
    slotBits[id] = bits;
    slotOwner[id] = generation;
    this.stepBits = bits;
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
const GROUPS_BY_RULE_SET = new WeakMap<CompiledRuleSet, Map<string, GroupList>>();

interface Plan {
  active: CompiledRule[];
  inactive: CompiledRule[];
  plans: Map<Collection, CollectionPlan>;
  scan: PhraseScan | undefined;
}

/** Phrase scans per rule set and list of rule ids (as GROUPS_BY_RULE_SET). */
const SCANS_BY_RULE_SET = new WeakMap<CompiledRuleSet, Map<string, PhraseScan | undefined>>();

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
    built = new Map<string, GroupList>();
    GROUPS_BY_RULE_SET.set(ruleSet, built);
  }
  const cache = built;
  const prefilter = options.literalPrefilter !== false;
  function* groupsFor(rules: CompiledRule[]): Steps<GroupList> {
    const key = `${prefilter ? 'p' : 'n'}:${rules.map((r) => r.id).join(',')}`;
    let groups = cache.get(key);
    if (groups === undefined) {
      groups = yield* buildGroups(rules, prefilter);
      for (const group of groups.groups) {
        // With the prefilter, a set rule whose literal occurred alone in its chunk runs on its own regex.
        for (const rule of group.setRules) yield* warmRegexes(rule, !prefilter);
        for (const rule of group.singles) yield* warmRegexes(rule, false);
      }
      cache.set(key, groups);
    }
    return groups;
  }
  let scan: PhraseScan | undefined;
  if (options.sharedPhraseScan !== false) {
    let scans = SCANS_BY_RULE_SET.get(ruleSet);
    if (scans === undefined) SCANS_BY_RULE_SET.set(ruleSet, (scans = new Map()));
    const key = `${prefilter ? 'p' : 'n'}:${active.map((r) => r.id).join(',')}`;
    if (!scans.has(key)) {
      scans.set(key, buildPhraseScan(active, prefilter));
      yield;
    }
    scan = scans.get(key);
  }
  const plans = new Map<Collection, CollectionPlan>();
  for (const collection of COLLECTIONS) {
    const rules = active.filter((r) => r.targets.some((t) => t.collection === collection));
    if (rules.length === 0) continue;
    const any = yield* groupsFor(rules);
    const classes: GroupList[] = [];
    for (let c = 0; c < CLASS_COUNT; c++)
      classes.push(
        options.valueClasses === false
          ? any
          : yield* groupsFor(rules.filter((r) => (r.immuneClasses & (1 << c)) === 0)),
      );
    classes.push(any);
    const appliesToAll = (rule: CompiledRule): number => {
      const mine = rule.targets.filter((t) => t.collection === collection);
      const whole = mine.some((t) => t.key === undefined);
      const excluded =
        rule.excluded.some((t) => t.collection === collection) ||
        (options.exclusions ?? []).some(
          (e) => e.targets?.some((t) => t.collection === collection) === true && idSelected(e, rule.id),
        );
      return whole && !excluded ? 1 : 0;
    };
    const singleApplies = classes.map((list) => list.groups.map((g) => Uint8Array.from(g.singles, appliesToAll)));
    const nameIndependent = rules.every((rule) => appliesToAll(rule) === 1);
    const singleSets = classes.map((list) =>
      list.groups.map((g) => Int32Array.from(g.singles, (rule) => scan?.setOf.get(rule) ?? -1)),
    );
    plans.set(collection, { classes, singleApplies, singleSets, nameIndependent, tag: COLLECTION_TAGS[collection] });
  }
  return { active, inactive, plans, scan };
}

/**
 * Every `@pm` list of the active rules (and, with the prefilter, each multiMatch regex's literals) in one automaton:
 * a value's distinct transformed strings are scanned once each, and a list whose phrases did not occur in its
 * rule's string is not run (CRS 4's ~12 lists at PL1 were ~12 passes over every value). One table per rule set and
 * rule list (3.4 MB for CRS 4's PL1 lists, the lists' own tables 2.1 MB together: scripts/bench/phrase-tables.ts).
 */
interface PhraseScan {
  matcher: PhraseMatcher;
  /** Per phrase of `matcher`: the sets it belongs to. */
  owners: Int32Array[];
  /** The set of each rule that has one. */
  setOf: Map<CompiledRule, number>;
  setCount: number;
}

function buildPhraseScan(rules: readonly CompiledRule[], prefilter: boolean): PhraseScan | undefined {
  const setOf = new Map<CompiledRule, number>();
  const index = new Map<string, number>();
  const phrases: string[] = [];
  const owners: number[][] = [];
  for (const rule of rules) {
    if (rule.negated) continue;
    const op = rule.operator;
    const list =
      op.kind === 'pm'
        ? op.matcher.phrases
        : prefilter && rule.multiMatch && op.kind === 'rx'
          ? prefilterLiterals(rule)
          : undefined;
    if (list === undefined) continue;
    const set = setOf.size;
    setOf.set(rule, set);
    // Lower-cased as PhraseMatcher does (ASCII only), so that a shared phrase has one entry.
    for (const phrase of list.map((p) => p.replace(/[A-Z]/g, (c) => c.toLowerCase()))) {
      if (phrase === '') continue;
      let k = index.get(phrase);
      if (k === undefined) {
        k = phrases.length;
        index.set(phrase, k);
        phrases.push(phrase);
        owners.push([]);
      }
      const own = owners[k]!;
      if (own[own.length - 1] !== set) own.push(set);
    }
  }
  if (setOf.size === 0) return undefined;
  return {
    matcher: new PhraseMatcher(phrases),
    owners: owners.map((o) => Int32Array.from(o)),
    setOf,
    setCount: setOf.size,
  };
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
    this.scan = plan.scan;
    let maxGroups = 0;
    for (const p of plan.plans.values())
      for (const list of p.classes) maxGroups = Math.max(maxGroups, list.groups.length);
    this.groupStringIndex = new Int32Array(maxGroups);
    this.filtering = new Uint8Array(maxGroups);
    const entries = options.verdictCache ?? DEFAULT_VERDICT_CACHE;
    if (!Number.isInteger(entries) || entries < 0)
      throw new RangeError(`verdictCache must be a non-negative integer of entries, got ${entries}`);
    this.verdicts = entries === 0 ? undefined : new VerdictCache(entries, entries * VERDICT_KEY_CHARS);
  }

  /** Per value seen in earlier evaluations (keyed as the memo: collection, bytes and, where rules depend on it,
   * name), the rules it matched: the repeated-value memo across requests. Valid for this engine only: the rules,
   * paranoia level, exclusions and detectors are the engine's. */
  private readonly verdicts: VerdictCache<readonly CompiledRule[]> | undefined;

  /** Entries the verdict cache holds (tests). */
  get verdictCacheSize(): number {
    return this.verdicts?.size ?? 0;
  }

  /** Verdict-cache lookups (values short enough to cache, not repeats within their request) and hits so far. */
  readonly verdictCacheStats = { lookups: 0, hits: 0 };

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
  private readonly scan: PhraseScan | undefined;
  /** Scratch of the phrase scan, per value (evaluate is synchronous): the distinct strings scanned, per string a row
   * of a flag per phrase set (1: a phrase of it occurred) and whether the automaton could read the string. */
  private readonly scanned: string[] = [];
  private scannedCount = 0;
  private setHits = new Uint8Array(0);
  private scanReadable = new Uint8Array(0);
  private scanSeen = new Uint8Array(0);
  private readonly scanFound: number[] = [];

  /** Whether a phrase of `set` occurs in `s` (a string of the value being evaluated): 1 yes, 0 no, -1 unknown (a
   * char above 0xFF: the set's own matcher decides). Each distinct string is scanned once per value. */
  private phraseHit(string: string, set: number): number {
    const s = this.cache.caseFoldSource(string);
    const scan = this.scan!;
    const n = scan.setCount;
    let row = 0;
    while (row < this.scannedCount && this.scanned[row] !== s) row++;
    if (row === this.scannedCount) {
      this.scannedCount++;
      this.scanned[row] = s;
      if (this.setHits.length < (row + 1) * n) {
        const grown = new Uint8Array(Math.max(4, 2 * (row + 1)) * n);
        grown.set(this.setHits);
        this.setHits = grown;
        const readable = new Uint8Array(grown.length / n);
        readable.set(this.scanReadable);
        this.scanReadable = readable;
      }
      if (this.scanSeen.length < scan.matcher.phrases.length)
        this.scanSeen = new Uint8Array(scan.matcher.phrases.length);
      const hits = this.setHits;
      hits.fill(0, row * n, row * n + n);
      if (this.work !== undefined) this.work.matcherBytes += s.length;
      const seen = this.scanSeen;
      const found = this.scanFound;
      const readable = scan.matcher.collect(s, seen, found);
      this.scanReadable[row] = readable ? 1 : 0;
      for (const k of found) {
        seen[k] = 0;
        const owners = scan.owners[k]!;
        for (let o = 0; o < owners.length; o++) hits[row * n + owners[o]!] = 1;
      }
      found.length = 0;
    }
    return this.scanReadable[row] === 0 ? -1 : this.setHits[row * n + set]!;
  }

  /** The transformation cache of the value being evaluated (evaluate is synchronous). */
  private readonly cache = new TransformCache();
  /** Scratch for the literal automata (evaluate is synchronous): a flag per literal, the literals found. */
  private seen = new Uint8Array(0);
  private readonly foundLiterals: number[] = [];
  /** (group index, setRules index) pairs admitted for the value being evaluated, to clear after it. A throw midway
   * leaves flags set: they only make rules run that need not (admitted means "may match"). */
  private readonly admittedMarks: number[] = [];
  /** Scratch per value: each group's transformed string, the distinct ones, per group the index of its string
   * among them, and per distinct string whether the literal automaton could read it. */
  private readonly groupStrings: string[] = [];
  private readonly distinct: string[] = [];
  private readonly groupStringIndex: Int32Array;
  private readonly filtering: Uint8Array;
  private seenLiterals(matcher: PhraseMatcher): Uint8Array {
    if (this.seen.length < matcher.phrases.length) this.seen = new Uint8Array(matcher.phrases.length);
    return this.seen;
  }

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
      const value = new TransformCache().reset(input, this.work).get(link.transforms);
      const r = this.runOperator(link.operator, link.negated, value, link.capture, caps);
      if (!r.matched) return false;
      if (link.capture && r.captures !== undefined) caps = r.captures;
    }
    return true;
  }

  /** Full evaluation of one rule on one value (used for everything but set hits' fast confirmation); `literals`:
   * a multiMatch rule's (Group.singleLiterals), `steps`: its chain's, resolved ahead. */
  private matchRule(
    rule: CompiledRule,
    cache: TransformCache,
    literals?: PhraseMatcher,
    steps = chainSteps(rule.transforms),
    set = -1,
  ): boolean {
    const wantCaptures = rule.chain.length > 0;
    if (rule.multiMatch) {
      // ModSecurity's multiMatch: the operator runs after each transformation step (the prefixes are the cached
      // values other rules' chains share). A step that changed nothing gives the same verdict again (most values:
      // no escapes to decode), and a regex whose literals are absent from a step cannot match it.
      let previous: string | undefined;
      let step = cache.start();
      for (let i = 0; i <= rule.transforms.length; i++) {
        if (i > 0) step = cache.advance(steps, i - 1, step);
        if (step === previous) continue;
        previous = step;
        if (set >= 0) {
          if (this.phraseHit(step, set) === 0) continue;
        } else if (literals !== undefined) {
          if (this.work !== undefined) this.work.matcherBytes += step.length;
          if (!literals.mayOccurIn(step)) continue;
        }
        const r = this.runOperator(rule.operator, rule.negated, step, wantCaptures);
        if (r.matched && (rule.chain.length === 0 || this.runChain(rule, step, r.captures))) return true;
      }
      return false;
    }
    const value = cache.get(rule.transforms, steps);
    if (set >= 0 && this.phraseHit(value, set) === 0) return false;
    const r = this.runOperator(rule.operator, rule.negated, value, wantCaptures);
    return r.matched && (rule.chain.length === 0 || this.runChain(rule, value, r.captures));
  }

  evaluate(values: readonly RequestValue[], work?: WorkCounter): Evaluation {
    this.work = work; // evaluate is synchronous: no other evaluation interleaves
    try {
      return this.evaluateValues(values);
    } finally {
      this.work = undefined;
      this.scanned.fill('', 0, this.scannedCount); // keep no request's strings alive
    }
  }

  private evaluateValues(values: readonly RequestValue[]): Evaluation {
    const work = this.work;
    const hits = new Map<number, RuleMatch>();
    // Rules matched by the value being evaluated, kept for its repeats when the memo is on.
    const marks = this.admittedMarks;
    marks.length = 0;
    const memoOn = this.options.repeatedValueMemo !== false;
    const memo = new Map<string, MemoEntry>();
    let matchedNow: CompiledRule[] | undefined;
    /** Ids of rules whose locations are full: their singles need not run again. */
    let full: Set<number> | undefined;
    /** Whether a single was skipped for the value being evaluated because its rule was full: then the rules it
     * matched depend on this request and do not go into the verdict cache. */
    let skippedFull: boolean;
    const verdicts = this.verdicts;
    const record = (rule: CompiledRule, v: RequestValue): void => {
      if (matchedNow !== undefined) matchedNow.push(rule);
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
        if (existing.locations.length === MAX_LOCATIONS) (full ??= new Set()).add(rule.id);
      }
    };
    for (const v of values) {
      const plan = this.plans.get(v.collection);
      if (plan === undefined || v.value === '') continue;
      // A repeat (same collection, bytes and, where rules depend on it, name) matches what its first occurrence
      // matched: record those rules at this location.
      const name = plan.nameIndependent ? undefined : v.name;
      if (memoOn) {
        let repeated = memo.get(v.value);
        while (repeated !== undefined && (repeated.collection !== v.collection || repeated.name !== name))
          repeated = repeated.next;
        if (repeated !== undefined) {
          matchedNow = undefined; // the list of the value evaluated last is stored: never append to it
          for (const rule of repeated.rules) record(rule, v);
          continue;
        }
      }
      // The same from an earlier evaluation: the verdict cache (same key as the memo), for short values and names.
      const cacheable =
        verdicts !== undefined &&
        v.value.length <= MAX_CACHED_VALUE &&
        (name === undefined || name.length <= MAX_CACHED_NAME);
      if (cacheable) {
        if (work !== undefined) work.matcherBytes += keyChars(v.value, name);
        const cached = verdicts.get(plan.tag, v.value, name);
        this.verdictCacheStats.lookups++;
        if (cached !== undefined) {
          this.verdictCacheStats.hits++;
          matchedNow = undefined;
          for (const rule of cached) record(rule, v);
          continue;
        }
      }
      matchedNow = memoOn || cacheable ? [] : undefined;
      skippedFull = false;
      const cache = this.cache.reset(v.value, work);
      this.scannedCount = 0;
      const list = plan.classes[cache.valueClass]!;
      const singleApplies = plan.singleApplies[cache.valueClass]!;
      const singleSets = plan.singleSets[cache.valueClass]!;
      const groups = list.groups;
      const literals = list.literals;
      // Each group's transformed string; with the prefilter, the distinct ones get one pass of the class's literal
      // automaton, which admits the rules of every group whose string it is.
      const strings = this.groupStrings;
      const stringIndex = this.groupStringIndex;
      let distinctCount = 0;
      for (let g = 0; g < groups.length; g++) {
        const group = groups[g]!;
        if (group.sets.length === 0) continue;
        const transformed = cache.get(group.transforms, group.steps);
        strings[g] = transformed;
        if (literals === undefined || group.admitted.length === 0) continue;
        const scanned = cache.caseFoldSource(transformed);
        let d = 0;
        while (d < distinctCount && this.distinct[d] !== scanned) d++;
        if (d === distinctCount) this.distinct[distinctCount++] = scanned;
        stringIndex[g] = d;
      }
      if (literals !== undefined) {
        const seen = this.seenLiterals(literals);
        const found = this.foundLiterals;
        for (let d = 0; d < distinctCount; d++) {
          const transformed = this.distinct[d]!;
          if (work !== undefined) work.matcherBytes += transformed.length;
          // Without usable literals (a char the automaton cannot read) every chunk runs.
          this.filtering[d] = literals.collect(transformed, seen, found) ? 1 : 0;
          for (const k of found) {
            seen[k] = 0;
            const owners = list.literalOwners[k]!;
            for (let o = 0; o < owners.length; o += 2) {
              const g = owners[o]!;
              if (stringIndex[g] !== d) continue;
              const admitted = groups[g]!.admitted;
              const index = owners[o + 1]!;
              if (admitted[index] === 0) {
                admitted[index] = 1;
                marks.push(g, index);
              }
            }
          }
          found.length = 0;
        }
      }
      for (let g = 0; g < groups.length; g++) {
        const group = groups[g]!;
        if (group.sets.length > 0) {
          const transformed = strings[g]!;
          const admitted = group.admitted;
          const filtering = literals !== undefined && admitted.length > 0 && this.filtering[stringIndex[g]!] === 1;
          for (const chunk of group.sets) {
            if (filtering && !chunk.always) {
              // Only rules one of whose literals occurred can match: none → skip, one → run it alone.
              let only = -1;
              let admittedCount = 0;
              for (let i = chunk.offset; i < chunk.offset + chunk.count; i++) {
                if (admitted[i] === 1) {
                  admittedCount++;
                  only = i;
                }
              }
              if (admittedCount === 0) continue;
              if (admittedCount === 1) {
                const rule = group.setRules[only]!;
                if (!this.applies(rule, v)) continue;
                if (work !== undefined) work.matcherBytes += transformed.length;
                const op = rule.operator as Extract<Operator, { kind: 'rx' }>;
                if (!op.regex.test(transformed)) continue;
                if (rule.chain.length > 0 && !this.matchRule(rule, cache)) continue;
                record(rule, v);
                continue;
              }
            }
            if (work !== undefined) work.matcherBytes += transformed.length;
            for (const index of chunk.set.match(transformed)) {
              const rule = group.setRules[chunk.offset + index]!;
              if (!this.applies(rule, v)) continue;
              if (rule.chain.length > 0 && !this.matchRule(rule, cache)) continue;
              record(rule, v);
            }
          }
        }
        const singles = group.singles;
        const applies = singleApplies[g]!;
        const sets = singleSets[g]!;
        for (let i = 0; i < singles.length; i++) {
          const rule = singles[i]!;
          if (full !== undefined && full.has(rule.id)) {
            skippedFull = true;
            continue;
          }
          if (applies[i] === 0 && !this.applies(rule, v)) continue;
          if (this.matchRule(rule, cache, group.singleLiterals[i], group.steps, sets[i]!)) record(rule, v);
        }
      }
      // Clear the admitted flags set for this value (fewer than the groups' flags: no fill per group).
      for (let m = 0; m < marks.length; m += 2) groups[marks[m]!]!.admitted[marks[m + 1]!] = 0;
      marks.length = 0;
      if (memoOn) {
        const rules = matchedNow!.length === 0 ? NO_RULES : matchedNow!;
        memo.set(v.value, { collection: v.collection, name, rules, next: memo.get(v.value) });
      }
      if (cacheable && !skippedFull && matchedNow!.length <= MAX_CACHED_RULES)
        verdicts.set(plan.tag, v.value, name, matchedNow!.length === 0 ? NO_RULES : matchedNow!.slice());
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

/** Per evaluation, per value: the rules it matched in a collection under a name (undefined when the collection's
 * rules do not depend on names); the same bytes in other collections or under other names are chained. */
interface MemoEntry {
  collection: Collection;
  name: string | undefined;
  rules: readonly CompiledRule[];
  next: MemoEntry | undefined;
}
const NO_RULES: readonly CompiledRule[] = [];

/** A collection as a small integer (its verdict-cache tag). */
const COLLECTION_TAGS = Object.fromEntries(COLLECTIONS.map((c, i) => [c, i])) as Record<Collection, number>;

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
