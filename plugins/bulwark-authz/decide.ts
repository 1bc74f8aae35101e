// The decision, pure: the request's facts and the caller's identity in, allow / deny / "ask the decision point"
// out. Precedence: the rules of the matched operation only (the index finds them); every deny rule first (any
// deny whose conditions hold refuses), then the allow rules in order (the first whose conditions hold allows);
// nothing holds → default deny. An error while evaluating a rule (a CEL expression that fails) counts for a deny
// rule and against an allow rule: fail closed.
import type { BulwarkIdentity } from '../lib/identity';
import type { HeaderMultimap, QueryMultimap, SharedValue } from '../lib/pdk';
import type { AuthzConfig, AuthzRule, ClaimCondition, IdentityAttribute, ObjectCondition } from './config';
import type { ExpressionInput } from './expression';
import { AUTHZ_REASONS, type AuthzReason } from './reasons';

export interface RequestFacts {
  method: string;
  /** The raw path (as `get_path_with_query` gives it, before `?`). */
  path: string;
  query: QueryMultimap;
  /** Only when the config needs them. */
  headers: HeaderMultimap | undefined;
}

export type Decision =
  | { outcome: 'allow'; rule: AuthzRule }
  | { outcome: 'deny'; rule: AuthzRule | undefined; reason: AuthzReason; detail?: string }
  /** The allow rule's own conditions hold; the external decision point decides (then `next` candidates). */
  | { outcome: 'ask'; rule: AuthzRule; params: Record<string, string>; remaining: PendingRule[] };

export interface PendingRule {
  rule: AuthzRule;
  params: Record<string, string>;
}

export type Check = { ok: true } | { ok: false; reason: AuthzReason; detail?: string };
const OK: Check = { ok: true };
const fail = (reason: AuthzReason, detail?: string): Check =>
  detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };

/** A claim by dotted path in the identity's claims; `sub`/`iss` fall back to subject/issuer. */
function claimAt(identity: BulwarkIdentity, path: string): SharedValue | undefined {
  let cur: unknown = identity.claims;
  for (const segment of path.split('.')) {
    if (
      cur === null ||
      typeof cur !== 'object' ||
      Array.isArray(cur) ||
      !Object.prototype.hasOwnProperty.call(cur, segment)
    ) {
      cur = undefined;
      break;
    }
    cur = (cur as Record<string, unknown>)[segment];
  }
  if (cur === undefined && path === 'sub') return identity.subject;
  if (cur === undefined && path === 'iss') return identity.issuer;
  return cur as SharedValue | undefined;
}

function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

function scalarAttribute(identity: BulwarkIdentity, attr: IdentityAttribute): string | undefined {
  switch (attr) {
    case 'subject':
      return identity.subject;
    case 'issuer':
      return identity.issuer;
    case 'consumer.id':
      return identity.consumer?.id;
    case 'consumer.username':
      return identity.consumer?.username;
    case 'credential.id':
      return identity.credential?.id;
    default:
      return scalarText(claimAt(identity, attr.slice('claims.'.length)));
  }
}

function listAttribute(identity: BulwarkIdentity, attr: IdentityAttribute): string[] {
  if (attr === 'groups') return identity.groups;
  if (attr === 'scopes') return identity.scopes;
  const v = claimAt(identity, attr.slice('claims.'.length));
  if (Array.isArray(v)) return v.map(scalarText).filter((x): x is string => x !== undefined);
  if (typeof v === 'string') return v.split(' ').filter((x) => x !== '');
  return [];
}

function claimHolds(identity: BulwarkIdentity, c: ClaimCondition): boolean {
  const value = claimAt(identity, c.claim);
  // A list claim holds when one of its entries does (roles: ["a","b"] equals "a").
  const values = Array.isArray(value) ? value.map(scalarText) : [scalarText(value)];
  return values.some((v) => {
    if (v === undefined) return false;
    if (c.equals !== undefined) return v === c.equals;
    if (c.in !== undefined) return c.in.has(v);
    return c.matches !== undefined && v.length <= 4096 && c.matches.matches(v);
  });
}

/** Query argument names a framework may read as `param`: any case, and `param[...]` (PHP, Rails, qs). */
function queryNamesFor(query: QueryMultimap, param: string): string[] {
  const p = param.toLowerCase();
  return Object.keys(query).filter((k) => {
    const l = k.toLowerCase();
    return l === p || l.startsWith(`${p}[`);
  });
}

/** Header names an upstream may read as `param`: any case, `_` for `-`. */
function headerValuesFor(headers: HeaderMultimap | undefined, param: string): string[] {
  if (headers === undefined) return [];
  const p = param.toLowerCase().replace(/_/g, '-');
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase().replace(/_/g, '-') !== p) continue;
    if (Array.isArray(v)) out.push(...v.map(String));
    else out.push(String(v));
  }
  return out;
}

/**
 * The one value of an object parameter, or why there is not exactly one. The same name in a second place
 * (`/users/{id}` with `?id=`, a repeated `?id=&id=`, `?ID=`, `?id[]=`, an `id` header next to a path id) is refused:
 * the upstream might read the other copy than the one checked.
 */
export function objectValue(
  o: ObjectCondition,
  params: Record<string, string>,
  facts: RequestFacts,
): { value: string } | { problem: string } {
  const inQuery = queryNamesFor(facts.query, o.param);
  const queryValues = inQuery.flatMap((k) => facts.query[k] ?? []);
  const queryCount = inQuery.reduce((n, k) => n + Math.max(1, (facts.query[k] ?? []).length), 0);
  const headerValues = headerValuesFor(facts.headers, o.param);
  const inPath = Object.prototype.hasOwnProperty.call(params, o.param);
  const places = (inPath ? 1 : 0) + queryCount + headerValues.length;
  if (places > 1) return { problem: `parameter ${o.param} given ${places} times (path, query, headers)` };
  let value: unknown;
  if (o.from === 'path') value = inPath ? params[o.param] : undefined;
  else if (o.from === 'query') value = inQuery.length === 1 && inQuery[0] === o.param ? queryValues[0] : undefined;
  else value = headerValues[0];
  if (typeof value !== 'string' || value === '') return { problem: `parameter ${o.param} missing from the ${o.from}` };
  return { value };
}

function objectHolds(
  identity: BulwarkIdentity,
  o: ObjectCondition,
  params: Record<string, string>,
  facts: RequestFacts,
): Check {
  const got = objectValue(o, params, facts);
  if ('problem' in got) return fail(AUTHZ_REASONS.ambiguousOrMissingParameter, got.problem);
  if (o.equals !== undefined) {
    const expected = scalarAttribute(identity, o.equals);
    return expected !== undefined && expected === got.value
      ? OK
      : fail(AUTHZ_REASONS.objectNotOwned, `${o.param} is not the caller's ${o.equals}`);
  }
  return listAttribute(identity, o.memberOf!).includes(got.value)
    ? OK
    : fail(AUTHZ_REASONS.objectNotOwned, `${o.param} is not in the caller's ${o.memberOf}`);
}

const EMPTY_IDENTITY: BulwarkIdentity = {
  v: 1,
  authenticated: false,
  authenticatedBy: 'none',
  method: 'anonymous',
  scopes: [],
  groups: [],
  claims: {},
};

/** The variables a CEL expression sees (absent strings as ""). */
export function expressionInput(
  identity: BulwarkIdentity,
  params: Record<string, string>,
  facts: RequestFacts,
): ExpressionInput {
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(facts.query)) {
    const first = v[0];
    if (typeof first === 'string') query[k] = first;
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(facts.headers ?? {}))
    headers[k.toLowerCase()] = Array.isArray(v) ? v.map(String).join(', ') : String(v);
  return {
    identity: {
      authenticated: identity.authenticated,
      method: identity.method,
      subject: identity.subject ?? '',
      issuer: identity.issuer ?? '',
      scopes: identity.scopes,
      groups: identity.groups,
      // A plain copy: cel-js refuses prototype-less objects (parseIdentity builds the claims map with none).
      claims: JSON.parse(JSON.stringify(identity.claims)) as Record<string, unknown>,
      consumer: { id: identity.consumer?.id ?? '', username: identity.consumer?.username ?? '' },
      credential: { kind: identity.credential?.kind ?? '', id: identity.credential?.id ?? '' },
    },
    request: { method: facts.method, path: facts.path, params: { ...params }, query, headers },
  };
}

/** Whether the conditions of `rule` on the caller alone hold (caller kind, consumers, scopes, groups, claims). */
export function identityConditionsHold(rule: AuthzRule, identity: BulwarkIdentity | undefined): Check {
  const who = identity ?? EMPTY_IDENTITY;
  if (rule.caller === 'authenticated' && !who.authenticated) return fail(AUTHZ_REASONS.unauthenticated);
  if (rule.caller === 'anonymous' && who.authenticated) return fail(AUTHZ_REASONS.authenticatedCaller);
  if (rule.consumers.size > 0) {
    const c = who.consumer;
    if (c === undefined || !(rule.consumers.has(c.id) || (c.username !== undefined && rule.consumers.has(c.username))))
      return fail(AUTHZ_REASONS.consumerNotListed);
  }
  if (rule.scopesAll.length > 0 && !rule.scopesAll.every((s) => who.scopes.includes(s)))
    return fail(AUTHZ_REASONS.insufficientScope, `needs all of ${rule.scopesAll.join(' ')}`);
  if (rule.scopesAny.length > 0 && !rule.scopesAny.some((s) => who.scopes.includes(s)))
    return fail(AUTHZ_REASONS.insufficientScope, `needs one of ${rule.scopesAny.join(' ')}`);
  if (rule.groupsAll.length > 0 && !rule.groupsAll.every((g) => who.groups.includes(g)))
    return fail(AUTHZ_REASONS.groupMissing, `needs all of ${rule.groupsAll.join(' ')}`);
  if (rule.groupsAny.length > 0 && !rule.groupsAny.some((g) => who.groups.includes(g)))
    return fail(AUTHZ_REASONS.groupMissing, `needs one of ${rule.groupsAny.join(' ')}`);
  for (const c of rule.claims) if (!claimHolds(who, c)) return fail(AUTHZ_REASONS.claimMismatch, `claim ${c.claim}`);
  return OK;
}

/** Whether every condition of `rule` holds for this caller and request. */
export function ruleHolds(
  rule: AuthzRule,
  identity: BulwarkIdentity | undefined,
  params: Record<string, string>,
  facts: RequestFacts,
): Check {
  const who = identity ?? EMPTY_IDENTITY;
  const byIdentity = identityConditionsHold(rule, who);
  if (!byIdentity.ok) return byIdentity;
  for (const o of rule.objects) {
    const r = objectHolds(who, o, params, facts);
    if (!r.ok) return r;
  }
  if (rule.expression !== undefined) {
    const v = rule.expression.evaluate(expressionInput(who, params, facts));
    if (v === false) return fail(AUTHZ_REASONS.expressionFalse);
    if (v !== true) return fail(AUTHZ_REASONS.expressionError, v.error);
  }
  return OK;
}

/** Evaluate the rules of the operation the request matches. */
export function decide(conf: AuthzConfig, identity: BulwarkIdentity | undefined, facts: RequestFacts): Decision {
  const matches = conf.index.match(facts.method, facts.path);
  if (matches === undefined) return { outcome: 'deny', rule: undefined, reason: AUTHZ_REASONS.invalidPath };
  if (matches.length === 0)
    return {
      outcome: 'deny',
      rule: undefined,
      reason: AUTHZ_REASONS.noRuleForOperation,
      detail: `${facts.method} ${facts.path.slice(0, 256)}`,
    };
  // Deny rules first, whatever their position.
  for (const m of matches) {
    if (m.value.effect !== 'deny') continue;
    const r = ruleHolds(m.value, identity, m.params, facts);
    // A deny rule that cannot be evaluated refuses (fail closed).
    if (r.ok || r.reason === AUTHZ_REASONS.expressionError)
      return {
        outcome: 'deny',
        rule: m.value,
        reason: r.ok ? AUTHZ_REASONS.denyRule : r.reason,
        ...(r.ok ? {} : { detail: r.detail }),
      };
  }
  let first: Check | undefined;
  let firstRule: AuthzRule | undefined;
  const allows = matches.filter((m) => m.value.effect === 'allow').sort((a, b) => a.value.index - b.value.index);
  for (let i = 0; i < allows.length; i++) {
    const m = allows[i]!;
    const r = ruleHolds(m.value, identity, m.params, facts);
    if (r.ok) {
      if (!m.value.authzen) return { outcome: 'allow', rule: m.value };
      return {
        outcome: 'ask',
        rule: m.value,
        params: m.params,
        remaining: allows.slice(i + 1).map((x) => ({ rule: x.value, params: x.params })),
      };
    }
    if (first === undefined) {
      first = r;
      firstRule = m.value;
    }
  }
  if (first === undefined || first.ok) return { outcome: 'deny', rule: undefined, reason: AUTHZ_REASONS.noAllowRule };
  return {
    outcome: 'deny',
    rule: firstRule,
    reason: first.reason,
    ...(first.detail === undefined ? {} : { detail: first.detail }),
  };
}

/** Continue after the decision point said no to `rule`: the next allow rule that holds, or the default deny. */
export function decideRemaining(
  remaining: PendingRule[],
  identity: BulwarkIdentity | undefined,
  facts: RequestFacts,
  denied: AuthzRule,
): Decision {
  for (let i = 0; i < remaining.length; i++) {
    const p = remaining[i]!;
    if (!ruleHolds(p.rule, identity, p.params, facts).ok) continue;
    if (!p.rule.authzen) return { outcome: 'allow', rule: p.rule };
    return { outcome: 'ask', rule: p.rule, params: p.params, remaining: remaining.slice(i + 1) };
  }
  return { outcome: 'deny', rule: denied, reason: AUTHZ_REASONS.authzenDenied };
}
