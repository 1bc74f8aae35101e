// Kong's per-field validators (kong/db/schema/init.lua `Schema.validators`, `Schema.validators_order` and the
// messages of `validation_errors`), for JSON values. Lua semantics kept: string lengths count UTF-8 bytes (`#s`),
// patterns are Lua patterns, numbers print as Lua's tostring does.
import { luaPatternFind } from './lua-pattern';
import { luaNumberToString, luaToString } from './lua-format';
import type { FieldDef } from './types';

/** The messages of kong/db/schema/init.lua `validation_errors` that config validation can produce. */
export const MSG = {
  ARRAY: 'expected an array',
  SET: 'expected a set',
  MAP: 'expected a map',
  RECORD: 'expected a record',
  STRING: 'expected a string',
  NUMBER: 'expected a number',
  BOOLEAN: 'expected a boolean',
  INTEGER: 'expected an integer',
  FUNCTION: 'expected a function',
  REQUIRED: 'required field missing',
  UNKNOWN: 'unknown field',
  SCHEMA_TYPE: (t: string) => `invalid type: ${t}`,
  ABSTRACT: 'error in schema definition: abstract field was not specialized',
  EQ: (s: string) => `value must be ${s}`,
  NE: (s: string) => `value must not be ${s}`,
  GT: (s: string) => `value must be greater than ${s}`,
  BETWEEN: (a: number, b: number) => `value should be between ${Math.trunc(a)} and ${Math.trunc(b)}`,
  LEN_EQ: (n: number) => `length must be ${Math.trunc(n)}`,
  LEN_MIN: (n: number) => `length must be at least ${Math.trunc(n)}`,
  LEN_MAX: (n: number) => `length must be at most ${Math.trunc(n)}`,
  INVALID_VALUE: (v: unknown) => `invalid value: ${luaToString(v)}`, // MATCH, NOT_MATCH, MATCH_ALL/NONE/ANY
  STARTS_WITH: (s: string) => `should start with: ${s}`,
  CONTAINS: (v: unknown) => `expected to contain: ${luaToString(v)}`,
  ONE_OF: (list: string) => `expected one of: ${list}`,
  NOT_ONE_OF: (list: string) => `must not be one of: ${list}`,
  IS_REGEX: (v: unknown) => `not a valid regex: ${luaToString(v)}`,
  TIMESTAMP: 'expected a valid timestamp',
  UUID: 'expected a valid UUID',
  MUTUALLY_EXCLUSIVE_SETS: (s: string) => `these sets are mutually exclusive: ${s}`,
} as const;

const utf8 = new TextEncoder();
/** Kong's uuid check (kong.tools.uuid is_valid_uuid): also the PDK's and the declarative loader's. */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Lua `==` on decoded JSON: primitives by value, tables only by identity. */
export function luaEquals(a: unknown, b: unknown): boolean {
  return a === b;
}

/** Lua `#v` for strings (bytes), sequences; 0 for a hash-only table. */
function luaLength(v: unknown): number {
  if (typeof v === 'string') return utf8.encode(v).length;
  if (Array.isArray(v)) return v.length;
  return 0;
}

/** `table.concat(list, ", ")`: numbers print as Lua numbers. */
function concatList(list: unknown[]): string {
  return list.map((x) => (typeof x === 'number' ? luaNumberToString(x) : String(x))).join(', ');
}

/** `quoted_list` of init.lua: `'a', 'b'`, nested lists as `('a', 'b')`. */
function quotedList(words: unknown[]): string {
  return words.map((w) => (Array.isArray(w) ? `(${quotedList(w)})` : `'${String(w)}'`)).join(', ');
}

/** Length as make_length_validator counts it: `#value`, plus every pair for maps. */
function lengthFor(value: unknown, field: FieldDef): number {
  let len = luaLength(value);
  if (field.type === 'map' && value !== null && typeof value === 'object') len += Object.keys(value).length;
  return len;
}

type Outcome = string | undefined; // a message (failed) or undefined (passed)
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a config value and a validator's argument, any Lua value
type Check = (value: any, arg: any, field: FieldDef) => Outcome | false;

/** Each check returns undefined when the value passes, a message, or `false` for "failed, use the default message". */
const CHECKS: Record<string, Check> = {
  eq: (v, wanted) => (luaEquals(v, wanted) ? undefined : MSG.EQ(wanted === null ? 'null' : luaToString(wanted))),
  // init.lua formats the *value* here (tostring(value)); equal values make that the same text.
  ne: (v, wanted) => (!luaEquals(v, wanted) ? undefined : MSG.NE(wanted === null ? 'null' : luaToString(v))),
  not_one_of: (v, options: unknown[]) =>
    options.some((o) => luaEquals(v, o)) ? MSG.NOT_ONE_OF(concatList(options)) : undefined,
  one_of: (v, options: unknown[]) =>
    options.some((o) => luaEquals(v, o)) ? undefined : MSG.ONE_OF(concatList(options)),
  gt: (v, limit) => (v > limit ? undefined : MSG.GT(luaToString(limit))),
  timestamp: (v) => (v > 0 ? undefined : false),
  uuid: (v: string) => (luaLength(v) === 36 && UUID_RE.test(v) ? undefined : false),
  // Kong compiles the value with PCRE (ngx.re.match); a JS RegExp compile is the closest pure check.
  is_regex: (v: string) => {
    try {
      new RegExp(v);
      return undefined;
    } catch {
      return false;
    }
  },
  between: (v, [lo, hi]: [number, number]) => (v < lo || v > hi ? MSG.BETWEEN(lo, hi) : undefined),
  len_eq: (v, n, f) => (lengthFor(v, f) === n ? undefined : MSG.LEN_EQ(n)),
  len_min: (v, n, f) => (lengthFor(v, f) >= n ? undefined : MSG.LEN_MIN(n)),
  len_max: (v, n, f) => (lengthFor(v, f) <= n ? undefined : MSG.LEN_MAX(n)),
  starts_with: (v: string, prefix: string) => (v.startsWith(prefix) ? undefined : MSG.STARTS_WITH(prefix)),
  not_match: (v: string, p: string) => (luaPatternFind(v, p) ? MSG.INVALID_VALUE(v) : undefined),
  match_none: (v: string, rules: Array<{ pattern: string; err?: string }>) => {
    const hit = rules.find((r) => luaPatternFind(v, r.pattern));
    return hit ? (hit.err ?? false) : undefined;
  },
  match: (v: string, p: string) => (luaPatternFind(v, p) ? undefined : MSG.INVALID_VALUE(v)),
  match_all: (v: string, rules: Array<{ pattern: string; err?: string }>) => {
    const miss = rules.find((r) => !luaPatternFind(v, r.pattern));
    return miss ? (miss.err ?? false) : undefined;
  },
  match_any: (v: string, arg: { patterns: string[]; err?: string }) =>
    arg.patterns.some((p) => luaPatternFind(v, p)) ? undefined : (arg.err ?? false),
  contains: (v: unknown[], wanted) => (v.some((x) => luaEquals(x, wanted)) ? undefined : MSG.CONTAINS(wanted)),
  mutually_exclusive_subsets: (v: unknown[], subsets: unknown[][]) => {
    const memberOf: unknown[][] = [];
    for (const item of v) {
      const subset = [...subsets].reverse().find((s) => s.includes(item)); // a later subset wins, as in init.lua
      if (subset && !memberOf.includes(subset)) memberOf.push(subset);
    }
    return memberOf.length <= 1 ? undefined : MSG.MUTUALLY_EXCLUSIVE_SETS(quotedList(memberOf));
  },
};

/** `Schema.validators_order`: the first failing validator decides the message. */
const ORDER = [
  'eq',
  'ne',
  'not_one_of',
  'one_of',
  'gt',
  'timestamp',
  'uuid',
  'is_regex',
  'between',
  'len_eq',
  'len_min',
  'len_max',
  'starts_with',
  'not_match',
  'match_none',
  'match',
  'match_all',
  'match_any',
  'contains',
  'custom_validator',
  'mutually_exclusive_subsets',
];

/** The message used when a validator fails without one (`validation_errors[K:upper()]:format(value)`). */
function defaultMessage(name: string, value: unknown): string {
  switch (name) {
    case 'timestamp':
      return MSG.TIMESTAMP;
    case 'uuid':
      return MSG.UUID;
    case 'is_regex':
      return MSG.IS_REGEX(value);
    case 'match_all':
    case 'match_none':
    case 'match_any':
      return MSG.INVALID_VALUE(value);
    default:
      return `failed validating: ${luaToString(value)}`;
  }
}

/** Runs the field's validators in Kong's order; returns the first error (replaced by `field.err` if set). */
export function runValidators(field: FieldDef, value: unknown): string | undefined {
  for (const name of ORDER) {
    const arg = field[name];
    if (arg === undefined) continue;
    if (name === 'custom_validator') {
      // A JSON schema cannot carry a Lua function; refuse rather than silently accept.
      throw new Error('custom_validator cannot be emulated (it is a Lua function)');
    }
    const outcome = CHECKS[name](value, arg, field);
    if (outcome === undefined) continue;
    return field.err ?? (outcome === false ? defaultMessage(name, value) : outcome);
  }
  return undefined;
}
