// Compiles parsed CRS rules into data Bulwark runs: targets, transformation chain, operator, paranoia level,
// severity/score, category, chain links. Rules Bulwark cannot run exactly (a regex RE2 cannot express, an
// operator or variable it does not model) are reported, never approximated.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { RE2JS, RE2Set } from 're2js';
import { runToEnd, type Steps } from '../../lib/time-slices';
import { PhraseMatcher, parseDataFile, splitPhrases } from './aho-corasick';
import { COLLECTION_ALIASES, COLLECTIONS, type Collection } from './model';
import { requiredLiterals, type RegexpNode } from './literal-prefilter';
import { parseSecRules, type ParsedSecRule, type SecAction, type SecRuleLink } from './secrules';
import { TRANSFORMS, type Transform } from './transforms';

/** CRS's anomaly scores per severity (crs-setup.conf: tx.critical_anomaly_score=5 …). */
export const SEVERITY_SCORES: Readonly<Record<string, number>> = { CRITICAL: 5, ERROR: 4, WARNING: 3, NOTICE: 2 };
const NUMERIC_SEVERITIES: Readonly<Record<string, string>> = {
  '2': 'CRITICAL',
  '3': 'ERROR',
  '4': 'WARNING',
  '5': 'NOTICE',
};

/** The REQUEST files loaded by default: the attack-detection families (LFI, RFI, RCE, PHP, generic/NoSQL, XSS, SQLi,
 * session fixation, Java). Protocol enforcement (920/921/922) needs the raw HTTP framing Kong already parsed. */
export const DEFAULT_RULE_FAMILIES: readonly string[] = ['930', '931', '932', '933', '934', '941', '942', '943', '944'];

export interface Target {
  collection: Collection;
  /** A key (compared case-insensitively) or a key regex; undefined: every key. */
  key?: string | RE2JS;
}

export type Operator =
  | {
      kind: 'rx';
      pattern: string;
      readonly regex: RE2JS;
      /** Every match contains one of these (lower case; literal-prefilter.ts); undefined: none known, always run. */
      literals?: readonly string[];
    }
  | { kind: 'pm'; matcher: PhraseMatcher }
  | { kind: 'string'; op: 'contains' | 'beginsWith' | 'endsWith' | 'streq' | 'within' | 'containsWord'; arg: string }
  | { kind: 'detect'; detector: 'sqli' | 'xss' }
  | { kind: 'unconditional' };

export interface ChainLink {
  /** MATCHED_VAR(S): the previous link's matched value; a number: its capture group (TX:n). */
  input: 'matched' | number;
  transforms: string[];
  operator: Operator;
  negated: boolean;
  capture: boolean;
}

export interface CompiledRule {
  id: number;
  file: string;
  phase: number;
  paranoiaLevel: number;
  severity: string;
  score: number;
  category: string;
  msg: string;
  targets: Target[];
  excluded: Target[];
  /** Transformation names (lower case) after the last t:none. */
  transforms: string[];
  multiMatch: boolean;
  operator: Operator;
  negated: boolean;
  /** Whether later links read this link's captures (TX:0-9). */
  capture: boolean;
  chain: ChainLink[];
  /** Bit c set: no value of VALUE_CLASSES[c] can match this rule (alphabetAfter, canMatchOver). */
  immuneClasses: number;
}

export interface SkippedRule {
  id: number;
  file: string;
  reason: string;
}

export interface CompiledRuleSet {
  rules: CompiledRule[];
  /** Scoring rules Bulwark cannot run, with the reason (regex RE2 refuses, unsupported operator/variable). */
  skipped: SkippedRule[];
  /** `@rx` operators in scoring rules: how many there were and how many compiled. */
  regexCount: number;
  regexCompiled: number;
  /** The CRS version the rules declare (`ver:'OWASP_CRS/4.28.0'`), if any. */
  version?: string;
}

export interface CompileOptions {
  /** File-name number prefixes of REQUEST-*.conf files to load (default DEFAULT_RULE_FAMILIES). */
  families?: readonly string[];
}

/** Characters of fast-path values: letters, digits and `_.@:+-`. */
export function isFastPathChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x2e ||
    c === 0x40 ||
    c === 0x3a ||
    c === 0x2b ||
    c === 0x2d
  );
}

export function isFastPathValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isFastPathChar(s.charCodeAt(i))) return false;
  return true;
}

/** The prose class: fast-path characters, space, `,'!?` and non-ASCII bytes (plain prose, names with accents). */
export function isProseChar(c: number): boolean {
  return (
    isFastPathChar(c) || c === 0x20 || c === 0x2c || c === 0x27 || c === 0x21 || c === 0x3f || (c >= 0x80 && c <= 0xff)
  );
}

/** A value class: the bytes its values are made of. The engine puts a value in the first class of VALUE_CLASSES
 * that holds each of its chars (none: the value may match any rule) and skips the rules proven unable to match any
 * value of that class (CompiledRule.immuneClasses). */
export interface ValueClass {
  name: string;
  /** Per byte: 1 when values of the class may hold it. */
  bytes: Uint8Array;
}

function valueClass(name: string, member: (c: number) => boolean): ValueClass {
  return { name, bytes: Uint8Array.from({ length: 256 }, (_, c) => (member(c) ? 1 : 0)) };
}

const isWordChar = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) ||
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x30 && c <= 0x39) ||
  c === 0x5f ||
  c === 0x2e ||
  c === 0x2d;

/** Digits and the punctuation of numbers, dates, times and phone numbers. */
const NUMERIC_PUNCTUATION = [...' +().,:/-'].map((ch) => ch.charCodeAt(0));

/** Fewest rules first: numbers, dates, phone numbers (digits and ` +().,:/-`); identifiers, UUIDs, hex
 * (`[A-Za-z0-9_.-]`); the fast-path alphabet (emails, `+`, `:`); paths (fast path and `/`); prose (isProseChar). At
 * most 16 classes (engine.ts keeps them as bits of an int). */
export const VALUE_CLASSES: readonly ValueClass[] = [
  valueClass('numeric', (c) => (c >= 0x30 && c <= 0x39) || NUMERIC_PUNCTUATION.includes(c)),
  valueClass('word', isWordChar),
  valueClass('fast path', isFastPathChar),
  valueClass('path', (c) => isFastPathChar(c) || c === 0x2f),
  valueClass('prose', isProseChar),
];

const isSpaceByte = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;

/**
 * The bytes a string over `alphabet` (a byte mask) can hold after `transforms`, each step a superset of its input's
 * alphabet (so it covers every prefix of the chain too: multiMatch), or undefined when a step can produce any byte:
 * a decoding whose escape char the alphabet holds, base64Decode, hexEncode, sha1, length, or a transformation this
 * function does not know. A transformation whose trigger chars (transforms.ts TRIGGERS) are absent returns its input.
 */
export function alphabetAfter(transforms: readonly string[], alphabet: Uint8Array): Uint8Array | undefined {
  const bytes = Uint8Array.from(alphabet);
  const has = (...cs: number[]): boolean => cs.some((c) => bytes[c] === 1);
  const hasAny = (pred: (c: number) => boolean): boolean => bytes.some((b, c) => b === 1 && pred(c));
  const addLowerCase = (): void => {
    for (let c = 0x41; c <= 0x5a; c++) if (bytes[c] === 1) bytes[c + 0x20] = 1;
  };
  for (const t of transforms) {
    switch (t) {
      case 'lowercase':
        addLowerCase();
        break;
      case 'urldecode':
      case 'urldecodeuni':
        if (has(0x25)) return undefined;
        if (has(0x2b)) bytes[0x20] = 1;
        break;
      case 'htmlentitydecode':
        if (has(0x26)) return undefined;
        break;
      case 'jsdecode':
      case 'cssdecode':
      case 'escapeseqdecode':
        if (has(0x5c)) return undefined;
        break;
      case 'utf8tounicode':
        if (hasAny((c) => c >= 0x80)) return undefined;
        break;
      case 'cmdline':
        addLowerCase();
        if (has(0x20, 0x2c, 0x3b, 0x09, 0x0a, 0x0d)) bytes[0x20] = 1;
        break;
      case 'compresswhitespace':
        if (hasAny(isSpaceByte)) bytes[0x20] = 1;
        break;
      case 'replacenulls':
        if (has(0)) bytes[0x20] = 1;
        break;
      case 'replacecomments':
        if (has(0x2f)) bytes[0x20] = 1;
        break;
      case 'normalizepathwin':
      case 'normalisepathwin':
        if (has(0x5c)) bytes[0x2f] = 1;
        break;
      case 'removenulls':
      case 'removewhitespace':
      case 'removecommentschar':
      case 'normalizepath':
      case 'normalisepath':
      case 'trim':
        break; // they only remove chars
      default:
        return undefined;
    }
  }
  return bytes;
}

/** The bytes of a mask, as canMatchOver reads them. */
function alphabetList(bytes: Uint8Array | undefined): number[] | undefined {
  if (bytes === undefined) return undefined;
  const chars: number[] = [];
  bytes.forEach((b, c) => {
    if (b === 1) chars.push(c);
  });
  return chars;
}

/** The subset of re2js's compiled program this module reads (re2js exports the class without its instruction type). */
interface ProgInst {
  op: number;
  out: number;
  arg: number;
  matchRune(r: number): boolean;
}

// re2js Inst op codes (build/index.cjs `class Inst`).
const OP_ALT = 1;
const OP_ALT_MATCH = 2;
const OP_MATCH = 6;
const OP_FAIL = 5;
const OP_RUNE = 8;
const OP_RUNE_ANY = 10;
const OP_RUNE_ANY_NOT_NL = 11;

/**
 * Whether some string over `alphabet` contains a match of `pattern`: reachability of a match instruction in the
 * compiled program, moving only on runes of the alphabet, with every empty-width assertion and lookbehind assumed
 * satisfiable (an over-approximation: "false" is a proof that no such value can match).
 */
export function canMatchOver(pattern: string, alphabet: readonly number[]): boolean {
  return reachesMatch(programOf(pattern), alphabet);
}

function programOf(pattern: string): { start: number; inst: ProgInst[]; regexp: RegexpNode } {
  const set = new RE2Set(RE2Set.UNANCHORED);
  set.add(pattern);
  set.compile();
  // The parsed, simplified syntax tree RE2Set keeps (not in re2js's typings): the literal prefilter reads it.
  const regexp = (set as unknown as { regexps: RegexpNode[] }).regexps[0]!;
  return { start: set.prog.start, inst: set.prog.inst as ProgInst[], regexp };
}

function reachesMatch(prog: { start: number; inst: ProgInst[] }, alphabet: readonly number[]): boolean {
  const insts = prog.inst;
  const set = { prog };
  const seen = new Uint8Array(insts.length);
  const stack = [set.prog.start];
  while (stack.length > 0) {
    const pc = stack.pop()!;
    if (seen[pc] === 1) continue;
    seen[pc] = 1;
    const inst = insts[pc]!;
    switch (inst.op) {
      case OP_MATCH:
        return true;
      case OP_FAIL:
        break;
      case OP_ALT:
      case OP_ALT_MATCH:
        stack.push(inst.out, inst.arg);
        break;
      default:
        if (inst.op >= OP_RUNE && inst.op <= OP_RUNE_ANY_NOT_NL) {
          const ok =
            inst.op === OP_RUNE_ANY ||
            (inst.op === OP_RUNE_ANY_NOT_NL
              ? alphabet.some((r) => r !== 0x0a)
              : alphabet.some((r) => inst.matchRune(r)));
          if (ok) stack.push(inst.out);
        } else stack.push(inst.out); // capture, nop, empty-width, lookbehind bookkeeping
    }
  }
  return false;
}

function action(actions: readonly SecAction[], name: string): string | undefined {
  return actions.find((a) => a.name.toLowerCase() === name)?.value;
}

function transformsOf(actions: readonly SecAction[]): string[] | string {
  let chain: string[] = [];
  for (const a of actions) {
    if (a.name !== 't') continue;
    const name = a.value.toLowerCase();
    if (name === 'none') chain = [];
    else if (!TRANSFORMS.has(name)) return `transformation t:${a.value} is not implemented`;
    else chain.push(name);
  }
  return chain;
}

class Unsupported extends Error {}

function keyTarget(key: string, where: string): string | RE2JS {
  if (key.startsWith('/') && key.endsWith('/') && key.length >= 2) {
    try {
      return RE2JS.compile(key.slice(1, -1), RE2JS.CASE_INSENSITIVE);
    } catch {
      throw new Unsupported(`key regex ${key} of ${where} does not compile in RE2`);
    }
  }
  return key.toLowerCase();
}

/** `ARGS|!ARGS:foo|XML:/*` → targets and exclusions; variables Bulwark has no data for are dropped. */
function compileVariables(spec: string): { targets: Target[]; excluded: Target[]; dropped: string[] } {
  const targets: Target[] = [];
  const excluded: Target[] = [];
  const dropped: string[] = [];
  for (const raw of spec.split('|')) {
    if (raw === '') continue;
    const negated = raw.startsWith('!');
    if (raw.startsWith('&')) throw new Unsupported(`counting variable ${raw} is not modelled`);
    const body = negated ? raw.slice(1) : raw;
    const colon = body.indexOf(':');
    const name = (colon === -1 ? body : body.slice(0, colon)).toUpperCase();
    const key = colon === -1 ? undefined : body.slice(colon + 1);
    const collections: readonly Collection[] | undefined =
      COLLECTION_ALIASES[name] ??
      ((COLLECTIONS as readonly string[]).includes(name) ? [name as Collection] : undefined);
    if (collections === undefined) {
      dropped.push(name);
      continue;
    }
    for (const collection of collections) {
      const t: Target = key === undefined ? { collection } : { collection, key: keyTarget(key, raw) };
      (negated ? excluded : targets).push(t);
    }
  }
  return { targets, excluded, dropped };
}

interface OperatorContext {
  dir: string;
  dataCache: Map<string, PhraseMatcher>;
}

interface CompiledOperator {
  operator: Operator;
  negated: boolean;
  /** An `@rx` operator's compiled program (its parse checks the pattern; the fast-path proofs walk it). */
  program?: ReturnType<typeof programOf>;
}

function compileOperator(raw: string, ctx: OperatorContext): CompiledOperator {
  let text = raw;
  let negated = false;
  if (text.startsWith('!')) {
    negated = true;
    text = text.slice(1);
  }
  if (!text.startsWith('@')) text = `@rx ${text}`;
  const space = text.indexOf(' ');
  const name = (space === -1 ? text.slice(1) : text.slice(1, space)).toLowerCase();
  const arg = space === -1 ? '' : text.slice(space + 1);
  switch (name) {
    case 'rx': {
      const pattern = arg;
      let program: ReturnType<typeof programOf>;
      try {
        // One parse per pattern (re2js parses a large CRS regex in tens to hundreds of ms): the check that RE2 can
        // run it and the program the proofs walk. RE2JS.compile for captures is built with the engine.
        program = programOf(pattern);
      } catch (err) {
        throw new Unsupported(`regex does not compile in RE2: ${(err as Error).message.slice(0, 120)}`);
      }
      let regex: RE2JS | undefined;
      const operator = {
        kind: 'rx' as const,
        pattern,
        literals: requiredLiterals(program.regexp),
        // ModSecurity v3 and Coraza compile @rx with DOTALL and MULTILINE.
        get regex(): RE2JS {
          return (regex ??= RE2JS.compile(pattern, RE2JS.DOTALL | RE2JS.MULTILINE));
        },
      };
      return { operator, negated, program };
    }
    case 'pm':
      return { operator: { kind: 'pm', matcher: new PhraseMatcher(splitPhrases(arg)) }, negated };
    case 'pmf':
    case 'pmfromfile': {
      const phrases: string[] = [];
      const files = splitPhrases(arg);
      for (const file of files) {
        if (/^https?:/i.test(file)) throw new Unsupported(`@pmFromFile from a URL (${file})`);
        let cached = ctx.dataCache.get(file);
        if (cached === undefined) {
          cached = new PhraseMatcher(parseDataFile(readFileSync(join(ctx.dir, file), 'latin1')));
          ctx.dataCache.set(file, cached);
        }
        if (files.length === 1) return { operator: { kind: 'pm', matcher: cached }, negated };
        phrases.push(...cached.phrases);
      }
      return { operator: { kind: 'pm', matcher: new PhraseMatcher(phrases) }, negated };
    }
    case 'contains':
    case 'beginswith':
    case 'endswith':
    case 'streq':
    case 'within':
    case 'containsword': {
      const op = (
        {
          contains: 'contains',
          beginswith: 'beginsWith',
          endswith: 'endsWith',
          streq: 'streq',
          within: 'within',
          containsword: 'containsWord',
        } as const
      )[name];
      if (/%\{(?!tx\.\d\})/i.test(arg)) throw new Unsupported(`macro in @${op} argument ${arg}`);
      return { operator: { kind: 'string', op, arg }, negated };
    }
    case 'detectsqli':
      return { operator: { kind: 'detect', detector: 'sqli' }, negated };
    case 'detectxss':
      return { operator: { kind: 'detect', detector: 'xss' }, negated };
    case 'unconditionalmatch':
      return { operator: { kind: 'unconditional' }, negated };
    default:
      throw new Unsupported(`operator @${name} is not implemented`);
  }
}

/** The anomaly-score increment a rule adds, from its setvar (`=+%{tx.critical_anomaly_score}`) or its severity. */
function scoreOf(actions: readonly SecAction[], severity: string): { score: number; scoring: boolean } {
  for (const a of actions) {
    if (a.name !== 'setvar') continue;
    const m = /^tx\.(?:inbound_)?anomaly_score(?:_pl\d)?=\+(.*)$/i.exec(a.value);
    if (m === null) continue;
    const macro = /^%\{tx\.(critical|error|warning|notice)_anomaly_score\}$/i.exec(m[1]!);
    if (macro !== null) return { score: SEVERITY_SCORES[macro[1]!.toUpperCase()]!, scoring: true };
    const n = Number(m[1]);
    return { score: Number.isFinite(n) ? n : (SEVERITY_SCORES[severity] ?? 0), scoring: true };
  }
  return { score: 0, scoring: false };
}

function paranoiaLevelOf(actions: readonly SecAction[]): number {
  for (const a of actions) {
    const m = a.name === 'tag' ? /^paranoia-level\/(\d)$/.exec(a.value) : null;
    if (m !== null) return Number(m[1]);
  }
  for (const a of actions) {
    const m = a.name === 'setvar' ? /anomaly_score_pl(\d)=/i.exec(a.value) : null;
    if (m !== null) return Number(m[1]);
  }
  return 1;
}

function categoryOf(actions: readonly SecAction[], file: string): string {
  for (const a of actions) {
    const m = a.name === 'tag' ? /^attack-([a-z-]+)$/.exec(a.value) : null;
    if (m !== null) return m[1]!;
  }
  return /REQUEST-(\d+)/.exec(file)?.[1] ?? 'other';
}

function compileChainLink(link: SecRuleLink, ctx: OperatorContext): ChainLink {
  // XML:… as in the first link: no XML data is modelled (CRS 4's 944110 chains on MATCHED_VARS|XML:/*|XML://@*).
  const variable = link.variables
    .toUpperCase()
    .split('|')
    .filter((v) => !v.startsWith('XML:'))
    .join('|');
  let input: ChainLink['input'];
  if (variable === 'MATCHED_VARS' || variable === 'MATCHED_VAR') input = 'matched';
  else if (/^TX:\d$/.test(variable)) input = Number(variable.slice(3));
  else throw new Unsupported(`chained rule on ${link.variables} is not modelled`);
  const transforms = transformsOf(link.actions);
  if (typeof transforms === 'string') throw new Unsupported(transforms);
  const { operator, negated } = compileOperator(link.operator, ctx);
  return { input, transforms, operator, negated, capture: link.actions.some((a) => a.name === 'capture') };
}

function compileRule(
  parsed: ParsedSecRule,
  file: string,
  ctx: OperatorContext,
): CompiledRule | SkippedRule | undefined {
  const first = parsed.links[0]!;
  const actions = first.actions;
  const id = Number(action(actions, 'id'));
  const severityRaw = (action(actions, 'severity') ?? '').toUpperCase();
  const severity = NUMERIC_SEVERITIES[severityRaw] ?? severityRaw;
  // A chained rule adds its score in its last link (CRS 4's 933150, 941310, 944110 …; ModSecurity runs the setvar
  // when the whole chain matches): the setvar is looked for in every link.
  const { score, scoring } = scoreOf(
    parsed.links.flatMap((l) => l.actions),
    severity,
  );
  // Only rules that add to the inbound anomaly score detect anything; the rest are CRS's own bookkeeping.
  if (!scoring || !Number.isInteger(id)) return undefined;
  const phase = Number(action(actions, 'phase') ?? '2');
  if (phase > 2) return undefined;
  try {
    const { targets, excluded, dropped } = compileVariables(first.variables);
    if (targets.length === 0)
      throw new Unsupported(`no modelled variable in ${first.variables} (${dropped.join(', ')})`);
    const transforms = transformsOf(actions);
    if (typeof transforms === 'string') throw new Unsupported(transforms);
    const { operator, negated, program } = compileOperator(first.operator, ctx);
    const chain = parsed.links.slice(1).map((l) => compileChainLink(l, ctx));
    const rule: CompiledRule = {
      id,
      file,
      phase,
      paranoiaLevel: paranoiaLevelOf(actions),
      severity,
      score,
      category: categoryOf(actions, file),
      msg: action(actions, 'msg') ?? '',
      targets,
      excluded,
      transforms,
      multiMatch: actions.some((a) => a.name.toLowerCase() === 'multimatch'),
      operator,
      negated,
      capture: actions.some((a) => a.name === 'capture'),
      chain,
      immuneClasses: 0,
    };
    const prog = operator.kind === 'rx' && !negated ? program : undefined;
    VALUE_CLASSES.forEach((valueClass, c) => {
      if (isImmune(rule, alphabetList(alphabetAfter(rule.transforms, valueClass.bytes)), prog))
        rule.immuneClasses |= 1 << c;
    });
    return rule;
  } catch (err) {
    if (err instanceof Unsupported) return { id, file, reason: err.message };
    throw err;
  }
}

/** Whether the first link provably matches no value over `alphabet` (chain links only narrow it further). A
 * multiMatch rule runs on each prefix of its chain: alphabetAfter's alphabet covers them all. */
function isImmune(
  rule: CompiledRule,
  alphabet: number[] | undefined,
  prog: ReturnType<typeof programOf> | undefined,
): boolean {
  if (rule.negated) return false;
  if (alphabet === undefined) return false;
  const op = rule.operator;
  if (op.kind === 'rx') return prog !== undefined && !reachesMatch(prog, alphabet);
  if (op.kind === 'pm') return !op.matcher.hasPhraseWithin((c) => alphabet.includes(c));
  return false; // detectors and string operators: always run
}

/**
 * A digest of what compileCrsDirectory(dir, families) reads: the chosen REQUEST-9xx files and every .data file of the
 * directory, names and bytes. Compiled rule sets are cached by it (config.ts): the same rules at another path share
 * one compilation, and rules updated in place (a CRS upgrade) are compiled again instead of served stale.
 */
export function crsContentKey(dir: string, families: readonly string[] = DEFAULT_RULE_FAMILIES): string {
  const hash = createHash('sha256');
  const names = readdirSync(dir)
    .filter(
      (f) =>
        f.endsWith('.data') || (/^REQUEST-\d+.*\.conf$/.test(f) && families.some((p) => f.startsWith(`REQUEST-${p}`))),
    )
    .sort();
  if (!names.some((name) => name.endsWith('.conf')))
    throw new Error(`no REQUEST-*.conf rule file of families ${families.join(', ')} in ${dir}`);
  for (const name of names) {
    hash.update(`${name}\0`);
    hash.update(readFileSync(join(dir, name)));
    hash.update('\0');
  }
  return `${[...families].sort().join(',')}:${hash.digest('hex')}`;
}

/** Compile the REQUEST rule files of a CRS `rules/` directory (CRS 3.3 or 4) now (tools, benches, tests). */
export function compileCrsDirectory(dir: string, options: CompileOptions = {}): CompiledRuleSet {
  return runToEnd(compileCrsSteps(dir, options));
}

/**
 * compileCrsDirectory as steps, one per rule (parsing a CRS 4 regex in re2js takes up to tens of ms, the whole set
 * seconds): config.ts runs them in slices so that instance start never holds the event loop.
 */
export function* compileCrsSteps(dir: string, options: CompileOptions = {}): Steps<CompiledRuleSet> {
  const families = options.families ?? DEFAULT_RULE_FAMILIES;
  const files = readdirSync(dir)
    .filter((f) => /^REQUEST-\d+.*\.conf$/.test(f) && families.some((p) => f.startsWith(`REQUEST-${p}`)))
    .sort();
  if (files.length === 0) throw new Error(`no REQUEST-*.conf rule file of families ${families.join(', ')} in ${dir}`);
  const ctx: OperatorContext = { dir, dataCache: new Map() };
  const result: CompiledRuleSet = { rules: [], skipped: [], regexCount: 0, regexCompiled: 0 };
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'latin1');
    result.version ??= /ver:'OWASP_CRS\/([\d.]+)'/.exec(text)?.[1];
    for (const parsed of parseSecRules(text, file)) {
      const isRx = parsed.links.map((l) => l.operator).filter((o) => /^!?(@rx |[^@!])/.test(o)).length;
      const compiled = compileRule(parsed, file, ctx);
      if (compiled === undefined) continue;
      result.regexCount += isRx;
      if ('targets' in compiled) {
        result.rules.push(compiled);
        result.regexCompiled += isRx;
      } else {
        result.skipped.push(compiled);
        if (!compiled.reason.startsWith('regex does not compile')) result.regexCompiled += isRx;
      }
      yield;
    }
  }
  return result;
}

export function transformFunctions(names: readonly string[]): Transform[] {
  return names.map((n) => TRANSFORMS.get(n)!);
}
