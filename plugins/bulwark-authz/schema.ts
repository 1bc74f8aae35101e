// bulwark-authz's config fields, declared once (lib/fields.ts): the Kong schema the plugin server dumps (`Schema`,
// ../../docs/kong-protocol.md §1.12) and the typed reader. What a field declaration cannot say (exactly one of
// path/operation_id, templates, identity attributes, RE2 and CEL compilation, OpenAPI operations, unreachable
// rules) is checked at instance start in config.ts, with the rule and the field named, and before deployment by
// scripts/validate-config.ts.
import { array, boolean, configFields, integer, kongSchema, record, refine, string } from '../lib/fields';
import { outboundTimeoutMs, pemCertificate } from '../lib/typedefs';
import { MAX_SPEC_BYTES } from '../bulwark-validator/spec-source';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const;
export const MAX_RULES = 1000;

const NAME_MAX = 256;
const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const TOKEN = /^[\x21-\x7e]{1,256}$/;
const PARAM_NAME = /^[A-Za-z0-9_.\-[\]]{1,64}$/;

/** A scope, group, consumer or claim value: printable ASCII without spaces. */
const token = refine(string({ len_max: NAME_MAX }), (v) =>
  TOKEN.test(v) ? undefined : `invalid value ${JSON.stringify(v.slice(0, 64))}`,
);
const tokens = (description: string, lenMax = 64) => array(token, { len_max: lenMax, default: [], description });

const claimCondition = record({
  claim: string({
    required: true,
    len_max: NAME_MAX,
    description:
      'Claim name or dotted path in the caller identity claims (sub and iss fall back to subject and issuer).',
    check: (v: string) => (/^[^.\s]+(\.[^.\s]+)*$/.test(v) ? undefined : 'expected a claim name or dotted path'),
  }),
  equals: string({ len_max: 1024, description: 'The claim (or one of its entries) equals this value.' }),
  values: array(string({ len_max: NAME_MAX }), {
    len_max: 256,
    default: [],
    description: 'The claim (or one of its entries) is one of these values.',
  }),
  matches: string({
    len_max: 1024,
    description: 'RE2 regular expression the whole claim value (or one of its entries) matches.',
  }),
});

const objectCondition = record({
  param: string({
    required: true,
    len_max: 64,
    description: 'Parameter name (a {param} of the path template, a query argument or a header).',
    check: (v: string) => (PARAM_NAME.test(v) ? undefined : `invalid parameter name ${JSON.stringify(v.slice(0, 64))}`),
  }),
  location: string({
    one_of: ['path', 'query', 'header'],
    default: 'path',
    description: 'Where the parameter is.',
  }),
  equals: string({
    len_max: NAME_MAX,
    description: 'Identity attribute: subject, issuer, consumer.id, consumer.username, credential.id or claims.<name>.',
  }),
  member_of: string({ len_max: NAME_MAX, description: 'Identity list attribute: groups, scopes or claims.<name>.' }),
});

const rule = record({
  name: string({
    required: true,
    len_max: 64,
    description: 'Rule name (unique), used in logs and errors.',
    check: (v: string) =>
      RULE_NAME.test(v) ? undefined : 'expected 1-64 letters, digits, _ . : - (starting with a letter or digit)',
  }),
  effect: string({
    one_of: ['allow', 'deny'],
    default: 'allow',
    description: 'allow, or deny (deny rules are evaluated before allow rules).',
  }),
  methods: array(string({ one_of: HTTP_METHODS }), {
    len_max: 8,
    default: [],
    description: 'HTTP methods of the operation; empty: every method. Not with operation_id.',
  }),
  path: string({
    len_max: 1024,
    description:
      'Path template of the operation, with {params} (OpenAPI syntax), matched against the request path. Exclusive with operation_id.',
  }),
  operation_id: string({
    len_max: NAME_MAX,
    description:
      'operationId in the configured OpenAPI document (its method and path, below each server base path). Exclusive with path.',
  }),
  caller: string({
    one_of: ['authenticated', 'anonymous', 'any'],
    description: 'Who the rule applies to. Unset: authenticated for allow rules, any for deny rules.',
  }),
  scopes_all: tokens('Scopes the caller must all have.'),
  scopes_any: tokens('Scopes of which the caller must have at least one.'),
  groups_all: tokens('Groups or roles the caller must all have.'),
  groups_any: tokens('Groups or roles of which the caller must have at least one.'),
  consumers: tokens('Kong consumers (id or username), one of which the caller must be.', 256),
  claims: array(claimCondition, {
    len_max: 16,
    default: [],
    description:
      'Claim conditions (all must hold): exactly one of equals, values, matches (RE2, whole value) per entry.',
  }),
  objects: array(objectCondition, {
    len_max: 8,
    default: [],
    description:
      'Object-level (BOLA) conditions: a request parameter must equal an identity attribute (equals) or be one of its values (member_of). A parameter given more than once, or in a second place, is refused.',
  }),
  expression: string({
    len_max: 2048,
    description:
      'CEL expression over identity and request (type-checked at load; no nested comprehensions, no matches()).',
  }),
  authzen: boolean({
    default: false,
    description: 'When the conditions hold, ask the AuthZEN decision point (authzen.url) too.',
  }),
});

export const ConfigFields = configFields({
  rules: array(rule, {
    required: true,
    len_min: 1,
    len_max: MAX_RULES,
    description:
      'The authorization rules. A request that no allow rule covers is refused (default deny); deny rules come first.',
  }),
  mode: string({
    one_of: ['enforce', 'monitor'],
    default: 'enforce',
    description: 'monitor: log would-be denials, refuse nothing (shadow rollout).',
  }),
  deny_status: integer({
    one_of: [403, 404],
    default: 403,
    description: 'Status of a refusal: 403, or 404 so that unknown or forbidden operations are not revealed.',
  }),
  openapi: record(
    {
      spec: string({
        len_max: MAX_SPEC_BYTES,
        description: 'The OpenAPI document, JSON or YAML text. Exclusive with spec_file.',
      }),
      spec_file: string({
        len_max: 4096,
        description: 'Path of the OpenAPI document on the machine running the plugin server.',
      }),
    },
    {
      required: true,
      description: 'An OpenAPI document whose operationIds rules may name (loaded as bulwark-validator loads it).',
      entity_checks: [{ mutually_exclusive: ['spec', 'spec_file'] }],
    },
  ),
  authzen: record(
    {
      url: string({
        len_max: 2048,
        match: '^[Hh][Tt][Tt][Pp][Ss]?://[^%s]+$',
        description: 'The evaluation endpoint (e.g. https://pdp.example.com/access/v1/evaluation).',
      }),
      allow_http: boolean({
        default: false,
        description: 'Allow a plain http:// URL (a sidecar on loopback). Off: https only.',
      }),
      timeout_ms: outboundTimeoutMs({
        default: 1000,
        min: 50,
        description: 'Milliseconds to wait for a decision; then the request is refused (503).',
      }),
      cache_ttl: integer({
        default: 30,
        between: [0, 3600],
        description: 'Seconds a decision is reused for the same question; 0: no cache.',
      }),
      cache_max_entries: integer({
        default: 10000,
        between: [0, 1000000],
        description: 'Most decisions cached per plugin instance.',
      }),
      ca_certificates: array(pemCertificate({ len_max: 65536 }), {
        len_max: 16,
        default: [],
        description: 'Extra PEM CA certificates trusted for the decision point (a private PKI).',
      }),
      subject_type: string({ default: 'user', len_max: 64, description: 'AuthZEN subject.type sent.' }),
      resource_type: string({ default: 'route', len_max: 64, description: 'AuthZEN resource.type sent.' }),
    },
    {
      required: true,
      description: 'OpenID AuthZEN 1.0 Access Evaluation endpoint asked by rules with authzen: true. Fails closed.',
    },
  ),
});

/** One rule's declaration, shared with bulwark-docs' `filter: authz` (the same rules, read and checked alike). */
export const RuleField = rule;

/** The `Schema` export the plugin server dumps. */
export const Schema = kongSchema(ConfigFields);
