// bulwark-authz's config: Kong's (schema-validated, defaulted) config → compiled rules, an operation index, CEL
// programs and the AuthZEN client settings. Everything that can be wrong with a rule is found here, at instance
// start, and refused with the rule and the field named (`rules[2] (own-orders).objects[0].equals: ...`).
import { RE2JS } from 're2js';
import { ConfigError } from '../lib/config';
import { readConfig, type Infer } from '../lib/fields';
import { checkOutboundUrl, OutboundFetchError } from '../lib/outbound-http';
import { TtlCache } from '../lib/ttl-cache';
import { compileExpression, type CompiledExpression } from './expression';
import { loadDocumentOperations, type DocumentOperations } from './openapi-operations';
import { OperationIndex, templateProblem } from './operations';
import { ConfigFields, HTTP_METHODS, MAX_RULES } from './schema';

export { HTTP_METHODS, MAX_RULES };

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

type RawConfig = Infer<typeof ConfigFields>;
export type RawRule = RawConfig['rules'][number];

const SCALAR_ATTRIBUTES = new Set(['subject', 'issuer', 'consumer.id', 'consumer.username', 'credential.id']);
const LIST_ATTRIBUTES = new Set(['groups', 'scopes']);

const unique = (values: readonly string[]): string[] => [...new Set(values)];

function attribute(value: string, field: string, list: boolean): IdentityAttribute {
  const claim = /^claims\.[^.\s]+(\.[^.\s]+)*$/.test(value);
  if (claim || (list ? LIST_ATTRIBUTES : SCALAR_ATTRIBUTES).has(value)) return value;
  const allowed = list
    ? 'groups, scopes or claims.<name>'
    : 'subject, issuer, consumer.id, consumer.username, credential.id or claims.<name>';
  throw new ConfigError(
    field,
    `unknown identity attribute ${JSON.stringify(value.slice(0, 64))} (expected ${allowed})`,
  );
}

function parseClaims(label: string, raw: RawRule['claims']): ClaimCondition[] {
  return raw.map((entry, i) => {
    const at = `${label}.claims[${i}]`;
    const set = [
      entry.equals !== undefined && 'equals',
      entry.values.length > 0 && 'values',
      entry.matches !== undefined && 'matches',
    ].filter((k): k is string => k !== false);
    if (set.length !== 1) throw new ConfigError(`${at}.claim`, 'give exactly one of equals, values, matches');
    const c: ClaimCondition = { claim: entry.claim };
    if (entry.equals !== undefined) c.equals = entry.equals;
    if (entry.values.length > 0) c.in = new Set(entry.values);
    if (entry.matches !== undefined) {
      try {
        // RE2: linear time on any input; anchored so that "admin" does not match "not-admin-at-all".
        c.matches = RE2JS.compile(`^(?:${entry.matches})$`);
      } catch (err) {
        throw new ConfigError(
          `${at}.matches`,
          `not an RE2 regular expression: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    return c;
  });
}

function parseObjects(label: string, raw: RawRule['objects'], templateParams: Set<string>): ObjectCondition[] {
  const seen = new Set<string>();
  return raw.map((entry, i) => {
    const at = `${label}.objects[${i}]`;
    const { param, location: from } = entry;
    if (from === 'path' && !templateParams.has(param)) {
      throw new ConfigError(`${at}.param`, `the path template has no {${param}}: the condition could never hold`);
    }
    if (from !== 'path' && templateParams.has(param)) {
      throw new ConfigError(
        `${at}.location`,
        `{${param}} is a path parameter of this rule: a second place for it is ambiguous`,
      );
    }
    const key = `${from}:${from === 'header' ? param.toLowerCase() : param}`;
    if (seen.has(key)) throw new ConfigError(`${at}.param`, `${param} (${from}) already has a condition in this rule`);
    seen.add(key);
    if ((entry.equals === undefined) === (entry.member_of === undefined)) {
      throw new ConfigError(`${at}.param`, 'give exactly one of equals, member_of');
    }
    const c: ObjectCondition = { param, from };
    if (entry.equals !== undefined) c.equals = attribute(entry.equals, `${at}.equals`, false);
    else c.memberOf = attribute(entry.member_of!, `${at}.member_of`, true);
    return c;
  });
}

function parseRule(
  r: RawRule,
  index: number,
  docs: DocumentOperations | undefined,
  templatesInDocument: boolean,
): AuthzRule[] {
  const name = r.name;
  const label = `rules[${index}] (${name})`;
  const field = (key: string): string => `${label}.${key}`;
  const effect = r.effect;
  const methods = unique(r.methods);
  const path = r.path;
  const operationId = r.operation_id;
  if ((path === undefined) === (operationId === undefined)) {
    throw new ConfigError(field('path'), 'give exactly one of path, operation_id');
  }

  // The operations this rule covers: one (method list, template) for a path; each operation for an operationId.
  let operations: { methods: string[]; template: string }[];
  if (path !== undefined) {
    const problem = templateProblem(path);
    if (problem !== undefined) throw new ConfigError(field('path'), problem);
    if (docs !== undefined && templatesInDocument) {
      for (const m of methods.length === 0 ? HTTP_METHODS : methods) {
        if (docs.keys.has(`${m} ${path}`)) continue;
        if (methods.length === 0 && [...docs.keys].some((k) => k.endsWith(` ${path}`))) continue;
        throw new ConfigError(
          field('path'),
          `the OpenAPI document has no operation ${m} ${path}: the rule could never match`,
        );
      }
    }
    operations = [{ methods, template: path }];
  } else {
    if (docs === undefined) throw new ConfigError(field('operation_id'), 'needs openapi.spec or openapi.spec_file');
    if (methods.length > 0) {
      throw new ConfigError(field('methods'), 'an operation_id names its method: leave methods empty');
    }
    const ops = docs.byId.get(operationId!);
    if (ops === undefined) {
      throw new ConfigError(
        field('operation_id'),
        `the OpenAPI document has no operationId ${JSON.stringify(operationId!.slice(0, 128))}: the rule could never match`,
      );
    }
    operations = ops.map((o) => ({ methods: [o.method], template: o.template }));
  }

  const caller: Caller = r.caller ?? (effect === 'allow' ? 'authenticated' : 'any');
  const base = {
    index,
    name,
    label,
    effect,
    operationId,
    caller,
    scopesAll: unique(r.scopes_all),
    scopesAny: unique(r.scopes_any),
    groupsAll: unique(r.groups_all),
    groupsAny: unique(r.groups_any),
    consumers: new Set(r.consumers),
    claims: parseClaims(label, r.claims),
    authzen: r.authzen,
  };
  let expression: CompiledExpression | undefined;
  if (r.expression !== undefined) {
    try {
      expression = compileExpression(r.expression);
    } catch (err) {
      throw new ConfigError(field('expression'), err instanceof Error ? err.message : String(err));
    }
  }
  const identityConditions =
    base.scopesAll.length + base.scopesAny.length + base.groupsAll.length + base.groupsAny.length + base.claims.length;
  if (caller === 'anonymous' && identityConditions > 0) {
    throw new ConfigError(
      field('caller'),
      'an anonymous caller has no scopes, groups or claims: the rule could never match',
    );
  }
  return operations.map((op) => {
    const params = new Set([...op.template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]!));
    return {
      ...base,
      methods: op.methods,
      template: op.template,
      objects: parseObjects(label, r.objects, params),
      expression,
    };
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

function parseAuthzen(a: RawConfig['authzen']): AuthzenSettings | undefined {
  if (a.url === undefined) return undefined;
  try {
    checkOutboundUrl(a.url, a.allow_http);
  } catch (err) {
    throw new ConfigError('authzen.url', err instanceof OutboundFetchError ? err.message : String(err));
  }
  return {
    url: a.url,
    allowHttp: a.allow_http,
    timeoutMs: a.timeout_ms,
    cacheTtlMs: a.cache_ttl * 1000,
    cache: new TtlCache<string, boolean>({ maxEntries: a.cache_max_entries }),
    caCertificates: a.ca_certificates,
    subjectType: a.subject_type,
    resourceType: a.resource_type,
  };
}

/**
 * The rules, compiled and checked (names unique, no allow rule shadowed by an unconditional deny): what the access
 * handler decides with and what `allowedOperations` reads. Shared with bulwark-docs' `filter: authz`, which reads the
 * same rule declarations (schema.ts RuleField) so that both plugins understand a rule alike. `docs` resolves
 * operation_id rules; `templatesInDocument` (default) also refuses a path rule for an operation `docs` lacks (off for
 * bulwark-docs: the route's rules may cover paths outside the published document, such as the docs paths).
 */
export function compileRules(
  raw: readonly RawRule[],
  docs: DocumentOperations | undefined,
  { templatesInDocument = true }: { templatesInDocument?: boolean } = {},
): AuthzRule[] {
  const rules = raw.flatMap((entry, i) => parseRule(entry, i, docs, templatesInDocument));

  const names = new Map<string, AuthzRule>();
  for (const rule of rules) {
    const other = names.get(rule.name);
    if (other !== undefined && other.index !== rule.index) {
      throw new ConfigError(`${rule.label}.name`, `${other.label} has the same name`);
    }
    names.set(rule.name, rule);
  }
  // An allow rule can never decide when an unconditional deny rule covers the same operation (deny rules first).
  for (const allow of rules.filter((x) => x.effect === 'allow')) {
    for (const deny of rules.filter((x) => x.effect === 'deny' && unconditional(x) && x.template === allow.template)) {
      const covered =
        deny.methods.length === 0 || (allow.methods.length > 0 && allow.methods.every((m) => deny.methods.includes(m)));
      if (covered) {
        throw new ConfigError(
          `${allow.label}.path`,
          `unreachable: ${deny.label} denies the same operation without conditions`,
        );
      }
    }
  }

  return rules;
}

export function parseAuthzConfig(raw: unknown): AuthzConfig {
  const conf = readConfig(ConfigFields, raw);
  const { spec, spec_file: specFile } = conf.openapi;
  if (spec !== undefined && specFile !== undefined) {
    throw new ConfigError('openapi.spec', 'give only one of spec, spec_file');
  }
  const docs =
    spec !== undefined || specFile !== undefined ? loadDocumentOperations(spec, specFile, 'openapi') : undefined;

  const rules = compileRules(conf.rules, docs);
  const index = new OperationIndex<AuthzRule>();
  for (const rule of rules) index.add(rule.methods, rule.template, rule);
  const authzen = parseAuthzen(conf.authzen);
  const first = rules.find((x) => x.authzen);
  if (first !== undefined && authzen === undefined)
    throw new ConfigError(`${first.label}.authzen`, 'needs authzen.url');
  return {
    mode: conf.mode,
    denyStatus: conf.deny_status,
    rules,
    index,
    needsHeaders: rules.some((x) => x.objects.some((o) => o.from === 'header') || x.expression?.readsHeaders === true),
    authzen,
  };
}
