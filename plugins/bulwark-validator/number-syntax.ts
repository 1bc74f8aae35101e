// What a parameter or form value may look like to count as a number: the validator must accept only text
// that every upstream reads as the number the schema checked. Ajv's type coercion takes any string JavaScript's
// Number() accepts (`0x0A`, `1e1`, ` 5 `, `+5`, `5.0`, `Infinity`), while an upstream's parseInt reads `1e1` as 1
// and `0x0A` as 0. So, before Ajv coerces a string where the schema asks for a number:
// - `type: integer`: decimal integer syntax only, `-?[0-9]+` (OAS 3.1 §4.8.12.4: values are serialised as
//   their JSON text; JSON has no `+`, no hex, no exponent for an integer);
// - `type: number`: JSON number syntax (RFC 8259 §6), finite;
// - `format: int32` / `int64`: the bounds are compared on the digits (BigInt), not on a double (2^63 would
//   otherwise equal INT64_MAX).
// The check is an Ajv keyword placed by `guardNumberText` in front of each such subschema (as `allOf[0]`): it
// must see the string before the subschema's own `type` coerces it. Only the coercing Ajv instances (parameters,
// form fields) register the keyword; elsewhere it is an ignored annotation.
import type { ErrorObject, FuncKeywordDefinition, SchemaValidateFunction } from 'ajv';
import type { JsonObject } from './schema-dialect';

export const NUMBER_TEXT_KEYWORD = 'x-bulwark-number-text';

export interface NumberTextRule {
  /** `integer` when the schema allows integers but not other numbers. */
  kind: 'integer' | 'number';
  format?: 'int32' | 'int64';
}

const INTEGER_TEXT = /^-?[0-9]+$/;
const JSON_NUMBER_TEXT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const BOUNDS = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
} as const;

/** Whether Ajv's coercion would turn this string into a number (`data == +data`, non-empty). */
function coercibleToNumber(s: string): boolean {
  return s !== '' && !Number.isNaN(Number(s));
}

/** undefined when `text` is acceptable for the rule, else why not. */
export function numberTextProblem(text: string, rule: NumberTextRule): string | undefined {
  if (!coercibleToNumber(text)) return undefined; // not a number at all: the schema's type check reports it
  if (rule.kind === 'integer') {
    if (!INTEGER_TEXT.test(text)) return 'must be written as a decimal integer (digits, optional leading -)';
    if (rule.format !== undefined) {
      // The text is digits only, so BigInt reads it exactly; its length is bounded by the string limits.
      const n = BigInt(text);
      const [min, max] = BOUNDS[rule.format];
      if (n < min || n > max) return `must fit in ${rule.format}`;
    }
    return undefined;
  }
  if (!JSON_NUMBER_TEXT.test(text)) return 'must be written as a JSON number';
  if (!Number.isFinite(Number(text))) return 'must be a finite number';
  return undefined;
}

function typesOf(schema: JsonObject): string[] {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  return [];
}

/**
 * `schema` wrapped as `{allOf: [{x-bulwark-number-text: rule}, schema]}` when its type lets Ajv coerce a string
 * into a number (integer or number, not string); otherwise `schema` itself. Subschemas are the caller's business
 * (the dialect converters call this on every level).
 */
export function guardNumberText(schema: JsonObject): JsonObject {
  const types = typesOf(schema);
  if (types.includes('string')) return schema;
  const integer = types.includes('integer');
  const number = types.includes('number');
  if (!integer && !number) return schema;
  const rule: NumberTextRule = { kind: number ? 'number' : 'integer' };
  if (!number && (schema.format === 'int32' || schema.format === 'int64')) rule.format = schema.format;
  return { allOf: [{ [NUMBER_TEXT_KEYWORD]: rule }, schema] };
}

const validateNumberText: SchemaValidateFunction = function numberText(rule: NumberTextRule, data: unknown): boolean {
  if (typeof data !== 'string') return true;
  const problem = numberTextProblem(data, rule);
  if (problem === undefined) return true;
  // instancePath and schemaPath are left for Ajv to fill in (it only sets them when undefined).
  validateNumberText.errors = [{ keyword: 'number-syntax', message: problem, params: {} } as unknown as ErrorObject];
  return false;
};

/** The Ajv keyword definition (registered on coercing instances only). */
export const numberTextKeyword: FuncKeywordDefinition = {
  keyword: NUMBER_TEXT_KEYWORD,
  schemaType: 'object',
  errors: true,
  validate: validateNumberText,
};
