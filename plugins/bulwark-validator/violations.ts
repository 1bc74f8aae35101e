// Violations: what was wrong, where, by which rule; and the error body the client gets.
// A violation never carries the offending value. Its location is built from the schema's names and, where a
// location step comes from the request itself (an unexpected member name, a query key), that step is shown to
// the client only if it is short and made of harmless characters (else `*`); the log keeps it as sent.
import type { ErrorObject } from 'ajv';
import type { HeaderValues } from '../lib/pdk';
import { defaultErrorMessage } from '../lib/errors';

/** Where a violation is: the request part, then the steps inside it. */
export type ViolationRoot = 'path' | 'query' | 'header' | 'cookie' | 'body' | 'request';

export interface Violation {
  root: ViolationRoot;
  steps: (string | number)[];
  /** The rule (JSON Schema keyword, OpenAPI rule or JSON-guard limit), e.g. `maximum`, `required`, `max-depth`. */
  rule: string;
  /** A description built from the schema/config only (e.g. "must be <= 100"), never from the request value. */
  detail: string;
}

export interface ClientViolation {
  location: string;
  rule: string;
  detail: string;
}

const SAFE_STEP = /^[A-Za-z0-9_.~$@:+-]{1,64}$/;

function renderStep(step: string | number, forClient: boolean): string {
  if (typeof step === 'number') return String(step);
  if (!forClient) return step;
  return SAFE_STEP.test(step) ? step : '*';
}

/** `body/items/0/price`, `query/limit`, `body` (client form sanitises request-derived steps). */
export function violationLocation(v: Violation, forClient: boolean): string {
  return [v.root, ...v.steps.map((s) => renderStep(s, forClient))].join('/');
}

export function toClientViolation(v: Violation): ClientViolation {
  return { location: violationLocation(v, true), rule: v.rule, detail: v.detail };
}

export function toLogViolation(v: Violation): ClientViolation {
  return { location: violationLocation(v, false), rule: v.rule, detail: v.detail };
}

function pointerSteps(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The extra step some keywords name in their params (the missing or unexpected member). */
function paramStep(e: ErrorObject): string | undefined {
  const p = e.params as Record<string, unknown>;
  for (const key of ['missingProperty', 'additionalProperty', 'unevaluatedProperty', 'propertyName']) {
    if (typeof p[key] === 'string') return p[key] as string;
  }
  return undefined;
}

/**
 * Ajv errors → violations under `root`; with `root` undefined the data was the parameter wrapper object
 * `{path, query, header, cookie}` and the first step of each instancePath names the request part.
 */
export function ajvViolations(
  errors: readonly ErrorObject[] | null | undefined,
  root: ViolationRoot | undefined,
): Violation[] {
  const out: Violation[] = [];
  for (const e of errors ?? []) {
    if (e.keyword === 'if') continue; // "must match then schema": the failing keyword inside is reported too
    let steps: (string | number)[] = pointerSteps(e.instancePath).map((s) =>
      /^(0|[1-9]\d{0,8})$/.test(s) ? Number(s) : s,
    );
    const extra = paramStep(e);
    if (extra !== undefined) steps.push(extra);
    let r: ViolationRoot;
    if (root !== undefined) r = root;
    else {
      // Wrapped parameters: the first step is the request part (path/query/header/cookie).
      r = String(steps[0] ?? 'request') as ViolationRoot;
      steps = steps.slice(1);
    }
    out.push({ root: r, steps, rule: e.keyword, detail: e.message ?? 'invalid' });
  }
  return out;
}

export interface Rejection {
  status: number;
  message: string;
  violations: Violation[];
  headers?: HeaderValues;
}

export const VALIDATION_FAILED = 'Request validation failed';

/** The JSON body sent to the client. `verbose: false` keeps only the message. */
export function rejectionBody(r: Rejection, verbose: boolean, maxErrors: number): Record<string, unknown> {
  const body: Record<string, unknown> = { message: r.message || defaultErrorMessage(r.status) };
  if (!verbose || r.violations.length === 0) return body;
  body.errors = r.violations.slice(0, maxErrors).map(toClientViolation);
  if (r.violations.length > maxErrors) body.errors_omitted = r.violations.length - maxErrors;
  return body;
}
