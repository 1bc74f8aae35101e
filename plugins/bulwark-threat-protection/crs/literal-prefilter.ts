// Literal prefilter for `@rx` rules: from a regex's syntax tree (re2js's parsed and simplified Regexp), a set of
// literals such that every string the regex matches contains one of them (ASCII case-insensitively). The engine
// runs one Aho–Corasick pass per transformed value over all the literals of a group's regexes and runs only the
// regexes whose literal occurred (or that have none): the method of Google Code Search's regexp-to-trigram query
// and of Hyperscan's literal factoring, reduced to one "contains one of" condition per regex.
//
// Conservative by construction (each step below keeps "every match contains one of the set"):
//   literal → itself; small character class → its characters; x+ / x{n,} with n ≥ 1 → x's set;
//   x* / x? / x{0,} / any char / large class → nothing required; alternation → union of the branches' sets (nothing
//   required if a branch requires nothing); concatenation → the best of the parts' sets, where runs of parts whose
//   exact strings are few are first multiplied out into longer literals (`un(i|y)on` → {union, unyon}).
// Case: the automaton folds ASCII only, so a case-folded literal stops at a non-ASCII letter (`(?i)é` also matches
// `É`, which the automaton would not see); values are byte strings (chars ≤ 0xFF) and a value with a char above
// 0xFF skips the prefilter (the engine checks), so re2's wider Unicode folds (`k` ~ U+212A) never matter.
// `spec/plugins/bulwark-threat-protection/literal-prefilter.test.ts` checks, over every CRS 3.3 and 4 rule at PL4 and
// the attack and benign corpora, that prefiltered evaluation returns exactly the full evaluation's rule ids.

/** The subset of re2js's Regexp (build/index.cjs `class Regexp`) this module reads: re2js does not export the type. */
export interface RegexpNode {
  op: number;
  flags: number;
  subs: RegexpNode[];
  runes: ArrayLike<number>;
  min: number;
  max: number;
}

// re2js Regexp.Op (createEnum order in build/index.cjs).
const NO_MATCH = 0;
const EMPTY_MATCH = 1;
const LITERAL = 2;
const CHAR_CLASS = 3;
const CAPTURE = 12;
const STAR = 13;
const PLUS = 14;
const QUEST = 15;
const REPEAT = 16;
const CONCAT = 17;
const ALTERNATE = 18;
// BEGIN/END_LINE, BEGIN/END_TEXT, (NO_)WORD_BOUNDARY, PLB/NLB (lookbehinds): zero width, like EMPTY_MATCH.
const ZERO_WIDTH = new Set([6, 7, 8, 9, 10, 11, 19, 20]);
const FOLD_CASE = 1;

/** Most strings an exact set may hold (cross products of alternations grow fast). */
const MAX_EXACT = 64;
/** Most characters a class may have to count as a set of literals. */
const MAX_CLASS = 10;

interface Info {
  /** Every string the node can match, lower case (undefined: too many or unbounded). */
  exact?: Set<string>;
  /** Every match contains one of these (lower case); undefined: no requirement known. Empty: matches nothing. */
  required?: Set<string>;
}

function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/**
 * How often a literal is expected in benign values (a rough weight, lower is a better filter): letters and digits
 * are common, `. -_/:@` and space too, other punctuation rare; a literal needs all its characters.
 */
function expectedHits(literal: string): number {
  let p = 1;
  for (let i = 0; i < literal.length; i++) {
    const c = literal.charCodeAt(i);
    const alnum = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
    p *= alnum ? 0.3 : c === 0x20 || c === 0x2e || c === 0x2d || c === 0x5f || c === 0x2f || c === 0x3a ? 0.5 : 0.05;
  }
  return p;
}

function setCost(s: Set<string>): number {
  let sum = 0;
  for (const x of s) sum += expectedHits(x);
  return sum;
}

/** Whether `a` is the better filter: fewer expected hits in benign values. */
function better(a: Set<string>, b: Set<string>): boolean {
  return setCost(a) < setCost(b);
}

function requiresNothing(s: Set<string> | undefined): boolean {
  return s === undefined || s.has('');
}

function cross(a: Set<string>, b: Set<string>): Set<string> | undefined {
  if (a.size * b.size > MAX_EXACT) return undefined;
  const out = new Set<string>();
  for (const x of a) for (const y of b) out.add(x + y);
  return out;
}

/** A literal node as a concatenation of exact single strings, split where case folding leaves ASCII. */
function literalInfo(node: RegexpNode): Info {
  const fold = (node.flags & FOLD_CASE) !== 0;
  const parts: Info[] = [];
  let run = '';
  for (let i = 0; i < node.runes.length; i++) {
    const c = node.runes[i]!;
    if (c > 0xff || (fold && c >= 0x80)) {
      // Unknown here: a char the automaton cannot compare exactly (see the header comment).
      if (run !== '') parts.push({ exact: new Set([run]), required: new Set([run]) });
      parts.push({});
      run = '';
    } else run += String.fromCharCode(lowerAscii(c));
  }
  if (parts.length === 0) return { exact: new Set([run]), required: new Set([run]) };
  if (run !== '') parts.push({ exact: new Set([run]), required: new Set([run]) });
  return concatInfo(parts);
}

function classInfo(node: RegexpNode): Info {
  const fold = (node.flags & FOLD_CASE) !== 0;
  const chars = new Set<string>();
  const r = node.runes;
  for (let i = 0; i + 1 < r.length; i += 2) {
    const lo = r[i]!;
    const hi = r[i + 1]!;
    if (hi - lo + 1 > MAX_CLASS || hi > 0xff || (fold && hi >= 0x80)) return {};
    for (let c = lo; c <= hi; c++) chars.add(String.fromCharCode(lowerAscii(c)));
    if (chars.size > MAX_CLASS) return {};
  }
  return { exact: chars, required: chars };
}

function concatInfo(parts: readonly Info[]): Info {
  let best: Set<string> | undefined;
  const consider = (s: Set<string> | undefined): void => {
    if (requiresNothing(s)) return;
    if (best === undefined || better(s!, best)) best = s;
  };
  let run: Set<string> | undefined = new Set(['']);
  let whole: Set<string> | undefined = new Set(['']);
  for (const p of parts) {
    consider(p.required);
    if (whole !== undefined) whole = p.exact === undefined ? undefined : cross(whole, p.exact);
    if (p.exact !== undefined) {
      const next: Set<string> | undefined = run === undefined ? undefined : cross(run, p.exact);
      if (next === undefined) {
        // The run is full: keep it as a candidate and start again from this part.
        consider(run);
        run = p.exact;
      } else run = next;
    } else {
      consider(run);
      run = new Set(['']);
    }
  }
  consider(run);
  if (whole !== undefined) return { exact: whole, required: whole.has('') ? undefined : whole };
  return { required: best };
}

function infoOf(node: RegexpNode, depth: number): Info {
  if (depth > 1000) return {}; // no requirement: always correct
  switch (node.op) {
    case NO_MATCH:
      return { exact: new Set(), required: new Set() };
    case EMPTY_MATCH:
      return { exact: new Set(['']) };
    case LITERAL:
      return literalInfo(node);
    case CHAR_CLASS:
      return classInfo(node);
    case CAPTURE:
      return infoOf(node.subs[0]!, depth + 1);
    case STAR:
      return {};
    case QUEST: {
      const sub = infoOf(node.subs[0]!, depth + 1);
      if (sub.exact === undefined || sub.exact.size + 1 > MAX_EXACT) return {};
      return { exact: new Set([...sub.exact, '']) };
    }
    case PLUS:
      return { required: infoOf(node.subs[0]!, depth + 1).required };
    case REPEAT: {
      if (node.min < 1) return {};
      return { required: infoOf(node.subs[0]!, depth + 1).required };
    }
    case CONCAT:
      return concatInfo(node.subs.map((s) => infoOf(s, depth + 1)));
    case ALTERNATE: {
      const subs = node.subs.map((s) => infoOf(s, depth + 1));
      let exact: Set<string> | undefined = new Set();
      let required: Set<string> | undefined = new Set();
      for (const s of subs) {
        if (exact !== undefined && s.exact !== undefined && exact.size + s.exact.size <= MAX_EXACT) {
          for (const x of s.exact) exact.add(x);
        } else exact = undefined;
        if (required !== undefined && !requiresNothing(s.required)) for (const x of s.required!) required.add(x);
        else required = undefined;
      }
      return { exact, required };
    }
    default:
      if (ZERO_WIDTH.has(node.op)) return { exact: new Set(['']) };
      return {}; // any char, unknown ops: nothing required
  }
}

/**
 * Literals (lower case) of which every match of the regex contains one, or undefined when none is known (the regex
 * must always run). An empty array: the regex matches nothing.
 */
export function requiredLiterals(re: RegexpNode): string[] | undefined {
  const { required } = infoOf(re, 0);
  if (requiresNothing(required)) return undefined;
  // A literal that contains another is redundant in a "contains one of" set.
  const list = [...required!].sort((a, b) => a.length - b.length);
  return list.filter((x, i) => !list.slice(0, i).some((y) => x.includes(y)));
}

/** Expected hits of a literal list in benign values (the weight the extraction minimises): lower filters better. */
export function literalsCost(literals: readonly string[]): number {
  return setCost(new Set(literals));
}
