// The Ajv instances the validator compiles with, one class per JSON Schema draft, and the formats OpenAPI
// uses. Options, and why:
// - strict: false — OpenAPI documents carry annotations (`x-*`, `example`, `discriminator`) that Ajv's strict
//   mode refuses; unknown keywords are ignored as JSON Schema says. Schemas are still checked against their
//   meta-schema (validateSchema) and a schema that does not compile is refused.
// - allErrors: true — every violation is reported. Its cost is bounded by the JSON limits checked first.
// - logger: false — nothing on stdout/stderr from inside the plugin server.
// - coerceTypes (parameter/form instances only) — query, path, header and form values are strings on the wire;
//   `"7"` must satisfy `type: integer`. Bodies are never coerced. Coercing instances also check how the number is
//   written (number-syntax.ts): `0x0A`, `1e1`, ` 5 ` are not integers.
// - strictNumbers: true — NaN and ±Infinity (`1e400`) are not numbers (they would pass `type: integer` and any
//   `minimum`/`maximum`).
// - Unknown formats are ignored (OpenAPI 3.0.3 §4.4: formats are open; "uriref" in the USPTO spec).
// - code.regExp: linearRegExp — every `pattern` and `patternProperties` key of a schema runs on RE2JS (RE2
//   semantics, linear time in the input), never on V8's backtracking engine: `^(a+)+$` against 30 characters
//   would otherwise block the event loop that every plugin shares for seconds. A pattern RE2 cannot express
//   (lookaround, backreferences) makes compilation fail; schema-dialect.ts's checkPatterns refuses it earlier,
//   at load, with its location.
// All format checks below are linear-time: no regular expression with nested quantifiers runs on request data.
import * as net from 'node:net';
import AjvDraft07 from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import type AjvCore from 'ajv/dist/core';
import type { ValidateFunction } from 'ajv';
import type { ErrorObject, Format } from 'ajv/dist/types';
import draft06MetaSchema from 'ajv/dist/refs/json-schema-draft-06.json';
import { numberTextKeyword } from './number-syntax';
import { RE2JS } from 're2js';

export type AjvInstance = AjvCore;

/** The drafts Ajv compiles (draft-04 is converted to draft-07 first, see schema-dialect.ts). */
export type AjvDialect = 'draft-07' | '2019-09' | '2020-12';

export type Coercion = false | true | 'array';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
// int64 on a double (JSON bodies: JSON.parse keeps no source text): -2^63 is exact; the literals just below
// 2^63, INT64_MAX included, round to the double 2^63, which is refused (fail closed: 2^63 itself overflows).
// Parameters and form fields are compared exactly on their digits instead (number-syntax.ts).
const TWO_63 = 2 ** 63;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[zZ]|[+-](\d{2}):(\d{2}))$/;
const DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/;
const NO_WHITESPACE = /^[^\s]*$/;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function isDate(s: string): boolean {
  const m = DATE.exec(s);
  if (m === null) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > DAYS[month]!) return false;
  return month !== 2 || day <= 28 || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
}

function isTime(s: string): boolean {
  const m = TIME.exec(s);
  if (m === null) return false;
  const [h, min, sec] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (h > 23 || min > 59 || sec > 60) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59)) return false;
  return true;
}

function isDateTime(s: string): boolean {
  const t = s.search(/[Tt ]/);
  return t === 10 && isDate(s.slice(0, 10)) && isTime(s.slice(11));
}

function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  return s.split('.').every((label) => LABEL.test(label));
}

function isEmail(s: string): boolean {
  const at = s.lastIndexOf('@');
  if (at < 1 || at > 64 || s.length > 254) return false;
  const local = s.slice(0, at);
  if (/[\s@"(),:;<>[\\\]]/.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..'))
    return false;
  const domain = s.slice(at + 1);
  return domain.includes('.') && isHostname(domain);
}

function isRegex(s: string): boolean {
  try {
    new RegExp(s, 'u');
    return true;
  } catch {
    return false;
  }
}

const FORMATS: Record<string, Format> = {
  int32: { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX },
  int64: { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -TWO_63 && n < TWO_63 },
  float: { type: 'number', validate: (n: number) => Number.isFinite(n) },
  double: { type: 'number', validate: (n: number) => Number.isFinite(n) },
  byte: BASE64,
  binary: true,
  password: true,
  date: isDate,
  time: isTime,
  'date-time': isDateTime,
  email: isEmail,
  hostname: isHostname,
  ipv4: (s: string) => net.isIPv4(s),
  ipv6: (s: string) => net.isIPv6(s),
  uri: URI,
  'uri-reference': NO_WHITESPACE,
  uuid: UUID,
  regex: isRegex,
};

/** `\k<` preceded by an even number of backslashes (the `\k` itself not escaped). */
const NAMED_BACKREFERENCE = /(?:^|[^\\])(?:\\\\)*\\k</;

/** RE2JS rejects repetition counts above this (RE2's limit); said in the error so the author can fix it. */
const RE2_MAX_REPEAT = 1000;

/**
 * An ECMA-262 pattern (as JSON Schema writes them) compiled for RE2JS; throws an Error saying why RE2 refuses
 * it. `translateRegExp` rewrites the ECMAScript-only spellings RE2 reads differently (`\u00e9`, `(?<name>`, `[^]`).
 */
export function compileLinearRegExp(pattern: string): RE2JS {
  // translateRegExp would turn a named backreference `\k<name>` into the literal text `k<name>`.
  if (NAMED_BACKREFERENCE.test(pattern)) {
    throw new Error(
      'pattern not supported by the linear-time regex engine (RE2): named backreference `\\k<...>` (RE2 has no lookaround or backreferences)',
    );
  }
  try {
    return RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : String(err);
    const hint = /repeat count/.test(why)
      ? ` (RE2 allows at most {${RE2_MAX_REPEAT}})`
      : /Perl syntax|escape sequence|named capture/.test(why)
        ? ' (RE2 has no lookaround or backreferences)'
        : '';
    throw new Error(`pattern not supported by the linear-time regex engine (RE2): ${why}${hint}`, { cause: err });
  }
}

/**
 * Ajv's RegExpEngine on RE2JS: unanchored search, like RegExp.prototype.test. `toString` must tell patterns apart:
 * Ajv shares compiled patterns within an instance keyed by it (`usePattern`: `key: rx.toString()`).
 */
const linearRegExp = Object.assign(
  (pattern: string) => {
    const re = compileLinearRegExp(pattern);
    return { test: (s: string) => re.test(s), toString: () => `re2:${pattern}` };
  },
  { code: 'linearRegExp' },
);

const metaValidators = new Map<AjvDialect, AjvInstance>();

/**
 * A process-wide Ajv per draft used only for validateSchema: compiling a draft's meta-schema costs a few hundred
 * milliseconds, paid once per process instead of once per document.
 */
export function metaSchemaValidator(dialect: AjvDialect): AjvInstance {
  let ajv = metaValidators.get(dialect);
  if (ajv === undefined) {
    ajv = createAjv(dialect, false);
    metaValidators.set(dialect, ajv);
  }
  return ajv;
}

/** A fresh Ajv for one draft. */
export function createAjv(dialect: AjvDialect, coerceTypes: Coercion): AjvInstance {
  const options = {
    strict: false,
    allErrors: true,
    logger: false as const,
    coerceTypes,
    strictNumbers: true,
    useDefaults: false,
    validateFormats: true,
    // Coerced instances: the int64 bounds were checked on the digits before coercion (the double of
    // 9223372036854775807 is 2^63).
    formats:
      coerceTypes === false
        ? FORMATS
        : { ...FORMATS, int64: { type: 'number' as const, validate: (n: number) => Number.isInteger(n) } },
    code: { regExp: linearRegExp },
  };
  const ajv = newAjv(dialect, options);
  if (coerceTypes !== false) ajv.addKeyword(numberTextKeyword);
  return ajv;
}

function newAjv(dialect: AjvDialect, options: ConstructorParameters<typeof Ajv2020>[0]): AjvInstance {
  switch (dialect) {
    case '2020-12':
      return new Ajv2020(options);
    case '2019-09':
      return new Ajv2019(options);
    case 'draft-07': {
      const ajv = new AjvDraft07(options);
      ajv.addMetaSchema(draft06MetaSchema);
      return ajv;
    }
  }
}

/**
 * Ajv's generated code recurses once (or, through $ref/anyOf/allOf chains, a few times) per nesting level of the
 * data. `limits.max_depth` (at most MAX_VALIDATED_DEPTH) keeps data shallow enough for ordinary schemas; a schema
 * with long reference chains per level could still run out of stack on data within that limit. Such a request is
 * then refused as too deep (400, rule max-depth) instead of ending in a 500.
 */
export const MAX_VALIDATED_DEPTH = 1000;

const TOO_DEEP: ErrorObject[] = [
  {
    keyword: 'max-depth',
    instancePath: '',
    schemaPath: '#',
    params: {},
    message: 'data nested too deeply to be checked against this schema',
  },
];

/** Calls a compiled validator; a stack overflow inside it becomes a `max-depth` failure. */
export function runBounded(
  fn: ValidateFunction,
  data: unknown,
): { valid: boolean; errors: ValidateFunction['errors'] } {
  try {
    const valid = fn(data) as boolean;
    return { valid, errors: fn.errors };
  } catch (err) {
    if (err instanceof RangeError) return { valid: false, errors: TOO_DEEP };
    throw err;
  }
}

/** A validator with the same call shape whose stack overflows become `max-depth` failures. */
export function stackBounded(fn: ValidateFunction): ValidateFunction {
  const wrapper = (data: unknown): boolean => {
    const r = runBounded(fn, data);
    wrapper.errors = r.errors;
    return r.valid;
  };
  wrapper.errors = null as ValidateFunction['errors'];
  return wrapper as unknown as ValidateFunction;
}
