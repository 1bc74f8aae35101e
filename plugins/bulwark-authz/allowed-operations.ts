// Which operations a caller may call under a rule set, without a request: for per-caller API documentation
// (bulwark-docs filters the OpenAPI document it serves with it) and for "what can this token do?" tooling. Pure.
//
// It reads the same compiled rules the access handler decides with (config.ts), and evaluates only what depends
// on the caller (caller kind, consumers, scopes, groups, claims: decide.ts identityConditionsHold). What depends on
// the request (object-level conditions, CEL expressions, the AuthZEN decision point) cannot be known here: an
// operation whose grant depends on it is listed as `conditional`. A deny rule removes an operation only when it
// covers every path of its template (the same template, or a variable where the operation has a literal) and its
// method, without any request-dependent condition, and holds for this caller; a deny rule that may cover only some
// requests of an operation makes it `conditional`. So the list never omits an operation the caller can call, and
// `always` is only said of operations every request of which passes.
import type { BulwarkIdentity } from '../lib/identity';
import type { AuthzConfig, AuthzRule } from './config';
import { identityConditionsHold } from './decide';
import { ANY_METHOD } from './operations';

/** The subset of a compiled rule this function reads (AuthzConfig['rules'] entries). */
export type OperationRule = Pick<
  AuthzRule,
  | 'name'
  | 'effect'
  | 'methods'
  | 'template'
  | 'operationId'
  | 'caller'
  | 'consumers'
  | 'scopesAll'
  | 'scopesAny'
  | 'groupsAll'
  | 'groupsAny'
  | 'claims'
  | 'objects'
  | 'expression'
  | 'authzen'
>;

export interface AllowedOperation {
  /** `GET`, `POST`, …, or `*`: a rule without `methods` (every method). */
  method: string;
  /** The rule's path template, as written in the rule (or as the OpenAPI document gives it, below its base path). */
  path_template: string;
  /** The operationId of the rule that named the operation by id, when one did. */
  operation_id?: string;
  /**
   * `always`: every request to the operation passes bulwark-authz for this caller. `conditional`: some may (an
   * object-level condition, a CEL expression, the AuthZEN decision point or an overlapping deny rule decides per
   * request).
   */
  access: 'always' | 'conditional';
  /** The allow rules that grant it, in rule order. */
  rules: string[];
}

/** Depends on the request, not only on the caller. */
function requestDependent(rule: OperationRule): boolean {
  return rule.objects.length > 0 || rule.expression !== undefined || rule.authzen;
}

function methodCovers(denyMethods: readonly string[], method: string): boolean {
  return denyMethods.length === 0 || (method !== ANY_METHOD && denyMethods.includes(method));
}

function methodMayOverlap(denyMethods: readonly string[], method: string): boolean {
  return denyMethods.length === 0 || method === ANY_METHOD || denyMethods.includes(method);
}

/**
 * Whether two templates may match one request path (same segment count; each segment equal, or one has a variable
 * and neither is the empty segment of a trailing slash, which no variable matches: path-router.ts).
 */
function templatesMayOverlap(a: string, b: string): boolean {
  const sa = a.split('/');
  const sb = b.split('/');
  if (sa.length !== sb.length) return false;
  return sa.every((x, i) => {
    const y = sb[i]!;
    return x === y || ((x.includes('{') || y.includes('{')) && x !== '' && y !== '');
  });
}

const WHOLE_VARIABLE = /^\{[^{}]*\}$/;

/**
 * Whether every path `allow` matches is matched by `deny` (same segment count; each deny segment equal to the allow
 * segment, or a whole-segment variable where the allow segment is a variable or a non-empty literal: a variable
 * never matches an empty segment, path-router.ts). A literal with `%` is left to the equal case (its decoded form
 * is what a request must carry). Mixed segments (`{id}.json`) cover only themselves.
 */
function templateCovers(deny: string, allow: string): boolean {
  const sd = deny.split('/');
  const sa = allow.split('/');
  if (sd.length !== sa.length) return false;
  return sd.every((d, i) => {
    const a = sa[i]!;
    if (d === a) return true;
    if (!WHOLE_VARIABLE.test(d)) return false;
    return WHOLE_VARIABLE.test(a) || (a !== '' && !a.includes('{') && !a.includes('%'));
  });
}

/**
 * The operations `identity` may call under `conf`'s rules (undefined identity: a request nobody authenticated).
 * Sorted by path template, then method. `mode: monitor` is not taken into account: this is what the policy says.
 */
export function allowedOperations(
  conf: Pick<AuthzConfig, 'rules'>,
  identity: BulwarkIdentity | undefined,
): AllowedOperation[] {
  const rules = conf.rules as readonly OperationRule[];
  const denies = rules.filter((r) => r.effect === 'deny' && identityConditionsHold(r as AuthzRule, identity).ok);
  const found = new Map<string, AllowedOperation>();
  for (const rule of rules) {
    if (rule.effect !== 'allow' || !identityConditionsHold(rule as AuthzRule, identity).ok) continue;
    for (const method of rule.methods.length === 0 ? [ANY_METHOD] : rule.methods) {
      let access: AllowedOperation['access'] = requestDependent(rule) ? 'conditional' : 'always';
      let removed = false;
      for (const deny of denies) {
        if (!methodMayOverlap(deny.methods, method) || !templatesMayOverlap(deny.template, rule.template)) continue;
        if (
          !requestDependent(deny) &&
          templateCovers(deny.template, rule.template) &&
          methodCovers(deny.methods, method)
        ) {
          removed = true;
          break;
        }
        access = 'conditional';
      }
      if (removed) continue;
      const key = `${method} ${rule.template}`;
      const entry = found.get(key);
      if (entry === undefined) {
        const op: AllowedOperation = { method, path_template: rule.template, access, rules: [rule.name] };
        if (rule.operationId !== undefined) op.operation_id = rule.operationId;
        found.set(key, op);
      } else {
        if (!entry.rules.includes(rule.name)) entry.rules.push(rule.name);
        if (access === 'always') entry.access = 'always';
      }
    }
  }
  return [...found.values()].sort((a, b) =>
    a.path_template === b.path_template ? a.method.localeCompare(b.method) : a.path_template < b.path_template ? -1 : 1,
  );
}
