// bulwark-authz's config: Kong's (schema-validated, defaulted) config → compiled rules, an operation index, CEL
// programs and the AuthZEN client settings. Everything that can be wrong with a rule is found here, at instance
// start, and refused with the rule and the field named (`rules[2] (own-orders).objects[0].equals: ...`).
import { RE2JS } from 're2js';
import { ConfigError, ConfigReader, MAX_OUTBOUND_WAIT_MS } from '../lib/config';
import { checkOutboundUrl, OutboundFetchError } from '../lib/outbound-http';
import { TtlCache } from '../lib/ttl-cache';
import { compileExpression, type CompiledExpression } from './expression';
import { loadDocumentOperations, type DocumentOperations } from './openapi-operations';
import { OperationIndex, templateProblem } from './operations';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const;
export const MAX_RULES = 1000;

export type Caller = 'authenticated' | 'anonymous' | 'any';
export type ParamSource = 'path' | 'query' | 'header';

export interface ClaimCondition {
  claim: string;
  equals?: string;
  in?: ReadonlySet<string>;
  matches?: RE2JS;
}

/** An identity attribute: `subject`, `issuer`, `consumer.id`, `consumer.username`, `credential.id`, `claims.<path>`. */
export type IdentityAttribute = string;

export interface ObjectCondition {
  param: string;
  from: ParamSource;
  /** The parameter must equal this scalar attribute... */
  equals?: IdentityAttribute;
  /** ...or be one of the values of this list attribute (`groups`, `scopes`, `claims.<path>`). */
  memberOf?: IdentityAttribute;
}

export interface AuthzRule {
  index: number;
  name: string;
  /** `rules[2] (own-orders)`: how logs and errors name the rule. */
  label: string;
  effect: 'allow' | 'deny';
  methods: string[];
  template: string;
  operationId: string | undefined;
  caller: Caller;
  scopesAll: string[];
  scopesAny: string[];
  groupsAll: string[];
  groupsAny: string[];
  consumers: ReadonlySet<string>;
  claims: ClaimCondition[];
  objects: ObjectCondition[];
  expression: CompiledExpression | undefined;
  /** Ask the AuthZEN decision point once the rule's own conditions hold. */
  authzen: boolean;
}

export interface AuthzenSettings {
  url: string;
  timeoutMs: number;
  cacheTtlMs: number;
  cache: TtlCache<string, boolean>;
  allowHttp: boolean;
  caCertificates: string[];
  subjectType: string;
  resourceType: string;
}

export interface AuthzConfig {
  mode: 'enforce' | 'monitor';
  denyStatus: 403 | 404;
  rules: AuthzRule[];
  index: OperationIndex<AuthzRule>;
  /** Request headers are read (one RPC) only when a rule needs them. */
  needsHeaders: boolean;
  authzen: AuthzenSettings | undefined;
}

const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const TOKEN = /^[\x21-\x7e]{1,256}$/;
const PARAM_NAME = /^[A-Za-z0-9_.\-[\]]{1,64}$/;
const SCALAR_ATTRIBUTES = new Set(['subject', 'issuer', 'consumer.id', 'consumer.username', 'credential.id']);
const LIST_ATTRIBUTES = new Set(['groups', 'scopes']);

function rawArray(reader: ConfigReader, raw: unknown, key: string): unknown[] {
  const value = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>)[key] : undefined;
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  if (typeof value === 'object' && Object.keys(value).length === 0) return []; // an empty Lua table as {}
  throw new ConfigError(reader.field(key), 'expected an array');
}

function tokens(reader: ConfigReader, key: string): string[] {
  const out: string[] = [];
  reader.stringArray(key).forEach((v, i) => {
    if (!TOKEN.test(v)) throw new ConfigError(`${reader.field(key)}[${i}]`, `invalid value ${JSON.stringify(v.slice(0, 64))}`);
    if (!out.includes(v)) out.push(v);
  });
  return out;
}

function attribute(value: string, field: string, list: boolean): IdentityAttribute {
  const claim = /^claims\.[^.\s]+(\.[^.\s]+)*$/.test(value);
  if (claim || (list ? LIST_ATTRIBUTES : SCALAR_ATTRIBUTES).has(value)) return value;
  const allowed = list ? 'groups, scopes or claims.<name>' : 'subject, issuer, consumer.id, consumer.username, credential.id or claims.<name>';
  throw new ConfigError(field, `unknown identity attribute ${JSON.stringify(value.slice(0, 64))} (expected ${allowed})`);
}

function parseClaims(rule: ConfigReader, raw: unknown): ClaimCondition[] {
  return rawArray(rule, raw, 'claims').map((entry, i) => {
    const r = new ConfigReader(entry, `${rule.field('claims')}[${i}]`);
    const claim = r.string('claim');
    if (!/^[^.\s]+(\.[^.\s]+)*$/.test(claim) || claim.length > 256) throw new ConfigError(r.field('claim'), 'expected a claim name or dotted path');
    const set = ['equals', 'values', 'matches'].filter((k) => r.has(k) && !(k === 'values' && r.stringArray('values').length === 0));
    if (set.length !== 1) throw new ConfigError(r.field('claim'), 'give exactly one of equals, values, matches');
    const c: ClaimCondition = { claim };
    if (set[0] === 'equals') c.equals = r.string('equals');
    if (set[0] === 'values') c.in = new Set(r.stringArray('values'));
    if (set[0] === 'matches') {
      const source = r.string('matches');
      try {
        // RE2: linear time on any input; anchored so that "admin" does not match "not-admin-at-all".
        c.matches = RE2JS.compile(`^(?:${source})$`);
      } catch (err) {
        throw new ConfigError(r.field('matches'), `not an RE2 regular expression: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return c;
  });
}

function parseObjects(rule: ConfigReader, raw: unknown, templateParams: Set<string>): ObjectCondition[] {
  const seen = new Set<string>();
  return rawArray(rule, raw, 'objects').map((entry, i) => {
    const r = new ConfigReader(entry, `${rule.field('objects')}[${i}]`);
    const param = r.string('param');
    if (!PARAM_NAME.test(param)) throw new ConfigError(r.field('param'), `invalid parameter name ${JSON.stringify(param.slice(0, 64))}`);
    const from = r.oneOf<ParamSource>('location', ['path', 'query', 'header'], 'path');
    if (from === 'path' && !templateParams.has(param)) {
      throw new ConfigError(r.field('param'), `the path template has no {${param}}: the condition could never hold`);
    }
    if (from !== 'path' && templateParams.has(param)) {
      throw new ConfigError(r.field('location'), `{${param}} is a path parameter of this rule: a second place for it is ambiguous`);
    }
    const key = `${from}:${from === 'header' ? param.toLowerCase() : param}`;
    if (seen.has(key)) throw new ConfigError(r.field('param'), `${param} (${from}) already has a condition in this rule`);
    seen.add(key);
    const hasEquals = r.has('equals');
    const hasMember = r.has('member_of');
    if (hasEquals === hasMember) throw new ConfigError(r.field('param'), 'give exactly one of equals, member_of');
    const c: ObjectCondition = { param, from };
    if (hasEquals) c.equals = attribute(r.string('equals'), r.field('equals'), false);
    else c.memberOf = attribute(r.string('member_of'), r.field('member_of'), true);
    return c;
  });
}

function parseRule(raw: unknown, index: number, docs: DocumentOperations | undefined): AuthzRule[] {
  const at = `rules[${index}]`;
  const pre = new ConfigReader(raw, at);
  const name = pre.string('name');
  if (!RULE_NAME.test(name)) throw new ConfigError(pre.field('name'), 'expected 1-64 letters, digits, _ . : - (starting with a letter or digit)');
  const label = `${at} (${name})`;
  const r = new ConfigReader(raw, label);
  const effect = r.oneOf<'allow' | 'deny'>('effect', ['allow', 'deny'], 'allow');
  const methods = r.stringArray('methods').map((m, i) => {
    const upper = m.toUpperCase();
    if (!(HTTP_METHODS as readonly string[]).includes(upper)) throw new ConfigError(`${r.field('methods')}[${i}]`, `unknown method ${JSON.stringify(m.slice(0, 16))}`);
    return upper;
  });
  const path = r.optionalString('path');
  const operationId = r.optionalString('operation_id');
  if ((path === undefined) === (operationId === undefined)) throw new ConfigError(r.field('path'), 'give exactly one of path, operation_id');

  // The operations this rule covers: one (method list, template) for a path; each operation for an operationId.
  let operations: { methods: string[]; template: string }[];
  if (path !== undefined) {
    const problem = templateProblem(path);
    if (problem !== undefined) throw new ConfigError(r.field('path'), problem);
    if (path.length > 1024) throw new ConfigError(r.field('path'), 'longer than 1024 characters');
    if (docs !== undefined) {
      for (const m of methods.length === 0 ? ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] : methods) {
        if (docs.keys.has(`${m} ${path}`)) continue;
        if (methods.length === 0 && [...docs.keys].some((k) => k.endsWith(` ${path}`))) continue;
        throw new ConfigError(r.field('path'), `the OpenAPI document has no operation ${m} ${path}: the rule could never match`);
      }
    }
    operations = [{ methods, template: path }];
  } else {
    if (docs === undefined) throw new ConfigError(r.field('operation_id'), 'needs openapi.spec or openapi.spec_file');
    if (methods.length > 0) throw new ConfigError(r.field('methods'), 'an operation_id names its method: leave methods empty');
    const ops = docs.byId.get(operationId!);
    if (ops === undefined) throw new ConfigError(r.field('operation_id'), `the OpenAPI document has no operationId ${JSON.stringify(operationId!.slice(0, 128))}: the rule could never match`);
    operations = ops.map((o) => ({ methods: [o.method], template: o.template }));
  }

  const callerDefault: Caller = effect === 'allow' ? 'authenticated' : 'any';
  const caller = r.oneOf<Caller>('caller', ['authenticated', 'anonymous', 'any'], callerDefault);
  const consumers = new Set(tokens(r, 'consumers'));
  const base = {
    index,
    name,
    label,
    effect,
    operationId,
    caller,
    scopesAll: tokens(r, 'scopes_all'),
    scopesAny: tokens(r, 'scopes_any'),
    groupsAll: tokens(r, 'groups_all'),
    groupsAny: tokens(r, 'groups_any'),
    consumers,
    claims: parseClaims(r, raw),
    authzen: r.boolean('authzen', false),
  };
  const source = r.optionalString('expression');
  let expression: CompiledExpression | undefined;
  if (source !== undefined) {
    try {
      expression = compileExpression(source);
    } catch (err) {
      throw new ConfigError(r.field('expression'), err instanceof Error ? err.message : String(err));
    }
  }
  if (caller === 'anonymous' && (base.scopesAll.length + base.scopesAny.length + base.groupsAll.length + base.groupsAny.length > 0 || base.claims.length > 0)) {
    throw new ConfigError(r.field('caller'), 'an anonymous caller has no scopes, groups or claims: the rule could never match');
  }
  return operations.map((op) => {
    const params = new Set([...op.template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]!));
    return { ...base, methods: op.methods, template: op.template, objects: parseObjects(r, raw, params), expression };
  });
}

/** A rule with no condition at all: it decides every request of its operation. */
function unconditional(rule: AuthzRule): boolean {
  return (
    rule.caller === 'any' &&
    rule.scopesAll.length + rule.scopesAny.length + rule.groupsAll.length + rule.groupsAny.length === 0 &&
    rule.consumers.size === 0 &&
    rule.claims.length === 0 &&
    rule.objects.length === 0 &&
    rule.expression === undefined &&
    !rule.authzen
  );
}

function parseAuthzen(root: ConfigReader): AuthzenSettings | undefined {
  const a = root.record('authzen');
  const url = a.optionalString('url');
  if (url === undefined) return undefined;
  const allowHttp = a.boolean('allow_http', false);
  try {
    checkOutboundUrl(url, allowHttp);
  } catch (err) {
    throw new ConfigError(a.field('url'), err instanceof OutboundFetchError ? err.message : String(err));
  }
  const maxEntries = a.integer('cache_max_entries', 10000, 0, 1_000_000);
  return {
    url,
    allowHttp,
    timeoutMs: a.integer('timeout_ms', 1000, 50, MAX_OUTBOUND_WAIT_MS),
    cacheTtlMs: a.integer('cache_ttl', 30, 0, 3600) * 1000,
    cache: new TtlCache<string, boolean>({ maxEntries }),
    caCertificates: a.stringArray('ca_certificates'),
    subjectType: a.string('subject_type', 'user'),
    resourceType: a.string('resource_type', 'route'),
  };
}

export function parseAuthzConfig(raw: unknown): AuthzConfig {
  const root = new ConfigReader(raw);
  const mode = root.oneOf<'enforce' | 'monitor'>('mode', ['enforce', 'monitor'], 'enforce');
  const denyStatus = root.integer('deny_status', 403);
  if (denyStatus !== 403 && denyStatus !== 404) throw new ConfigError(root.field('deny_status'), 'expected one of: 403, 404');
  const oa = root.record('openapi');
  const spec = oa.optionalString('spec');
  const specFile = oa.optionalString('spec_file');
  if (spec !== undefined && specFile !== undefined) throw new ConfigError(oa.field('spec'), 'give only one of spec, spec_file');
  const docs = spec !== undefined || specFile !== undefined ? loadDocumentOperations(spec, specFile, oa.at) : undefined;

  const rawRules = rawArray(root, raw, 'rules');
  if (rawRules.length === 0) throw new ConfigError(root.field('rules'), 'at least one rule is required (with none, every request is refused)');
  if (rawRules.length > MAX_RULES) throw new ConfigError(root.field('rules'), `at most ${MAX_RULES} rules`);
  const rules = rawRules.flatMap((entry, i) => parseRule(entry, i, docs));

  const names = new Map<string, AuthzRule>();
  for (const rule of rules) {
    const other = names.get(rule.name);
    if (other !== undefined && other.index !== rule.index) throw new ConfigError(`${rule.label}.name`, `${other.label} has the same name`);
    names.set(rule.name, rule);
  }
  // An allow rule can never decide when an unconditional deny rule covers the same operation (deny rules first).
  for (const allow of rules.filter((x) => x.effect === 'allow')) {
    for (const deny of rules.filter((x) => x.effect === 'deny' && unconditional(x) && x.template === allow.template)) {
      const covered = deny.methods.length === 0 || (allow.methods.length > 0 && allow.methods.every((m) => deny.methods.includes(m)));
      if (covered) throw new ConfigError(`${allow.label}.path`, `unreachable: ${deny.label} denies the same operation without conditions`);
    }
  }

  const index = new OperationIndex<AuthzRule>();
  for (const rule of rules) index.add(rule.methods, rule.template, rule);
  const authzen = parseAuthzen(root);
  const usesAuthzen = rules.some((x) => x.authzen);
  if (usesAuthzen && authzen === undefined) {
    const first = rules.find((x) => x.authzen)!;
    throw new ConfigError(`${first.label}.authzen`, 'needs authzen.url');
  }
  return {
    mode,
    denyStatus,
    rules,
    index,
    needsHeaders: rules.some((x) => x.objects.some((o) => o.from === 'header') || x.expression?.readsHeaders === true),
    authzen,
  };
}
