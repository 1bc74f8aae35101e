// The Kong schema of bulwark-authz's config (the `Schema` export kong-pdk dumps; Kong validates it with its
// metaschema). What the schema language cannot say (exactly one of path/operation_id, templates, identity
// attributes, RE2 and CEL compilation, OpenAPI operations, unreachable rules) is checked at instance start in
// config.ts, with the rule and the field named, and before deployment by scripts/validate-config.ts.
import { MAX_SPEC_BYTES } from '../bulwark-validator/spec-source';

const NAME_MAX = 256;
const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', len_max: NAME_MAX, description, ...extra });
const strings = (description: string, lenMax = 64) => ({ type: 'array', len_max: lenMax, elements: { type: 'string', len_max: NAME_MAX }, default: [], description });

const ruleFields = [
  { name: str('Rule name (unique), used in logs and errors.', { required: true, len_max: 64 }) },
  { effect: { type: 'string', one_of: ['allow', 'deny'], default: 'allow', description: 'allow, or deny (deny rules are evaluated before allow rules).' } },
  {
    methods: {
      type: 'array',
      len_max: 8,
      elements: { type: 'string', one_of: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] },
      default: [],
      description: 'HTTP methods of the operation; empty: every method. Not with operation_id.',
    },
  },
  { path: str('Path template of the operation, with {params} (OpenAPI syntax), matched against the request path. Exclusive with operation_id.', { len_max: 1024 }) },
  { operation_id: str('operationId in the configured OpenAPI document (its method and path, below each server base path). Exclusive with path.') },
  {
    caller: {
      type: 'string',
      one_of: ['authenticated', 'anonymous', 'any'],
      description: 'Who the rule applies to. Unset: authenticated for allow rules, any for deny rules.',
    },
  },
  { scopes_all: strings('Scopes the caller must all have.') },
  { scopes_any: strings('Scopes of which the caller must have at least one.') },
  { groups_all: strings('Groups or roles the caller must all have.') },
  { groups_any: strings('Groups or roles of which the caller must have at least one.') },
  { consumers: strings('Kong consumers (id or username), one of which the caller must be.', 256) },
  {
    claims: {
      type: 'array',
      len_max: 16,
      default: [],
      description: 'Claim conditions (all must hold): exactly one of equals, values, matches (RE2, whole value) per entry.',
      elements: {
        type: 'record',
        fields: [
          { claim: str('Claim name or dotted path in the caller identity claims (sub and iss fall back to subject and issuer).', { required: true }) },
          { equals: str('The claim (or one of its entries) equals this value.', { len_max: 1024 }) },
          { values: strings('The claim (or one of its entries) is one of these values.', 256) },
          { matches: str('RE2 regular expression the whole claim value (or one of its entries) matches.', { len_max: 1024 }) },
        ],
      },
    },
  },
  {
    objects: {
      type: 'array',
      len_max: 8,
      default: [],
      description:
        'Object-level (BOLA) conditions: a request parameter must equal an identity attribute (equals) or be one of its values (member_of). A parameter given more than once, or in a second place, is refused.',
      elements: {
        type: 'record',
        fields: [
          { param: str('Parameter name (a {param} of the path template, a query argument or a header).', { required: true, len_max: 64 }) },
          { location: { type: 'string', one_of: ['path', 'query', 'header'], default: 'path', description: 'Where the parameter is.' } },
          { equals: str('Identity attribute: subject, issuer, consumer.id, consumer.username, credential.id or claims.<name>.') },
          { member_of: str('Identity list attribute: groups, scopes or claims.<name>.') },
        ],
      },
    },
  },
  { expression: str('CEL expression over identity and request (type-checked at load; no nested comprehensions, no matches()).', { len_max: 2048 }) },
  { authzen: { type: 'boolean', default: false, description: 'When the conditions hold, ask the AuthZEN decision point (authzen.url) too.' } },
];

export const Schema = [
  {
    rules: {
      type: 'array',
      required: true,
      len_min: 1,
      len_max: 1000,
      elements: { type: 'record', fields: ruleFields },
      description: 'The authorization rules. A request that no allow rule covers is refused (default deny); deny rules come first.',
    },
  },
  { mode: { type: 'string', one_of: ['enforce', 'monitor'], default: 'enforce', description: 'monitor: log would-be denials, refuse nothing (shadow rollout).' } },
  { deny_status: { type: 'integer', one_of: [403, 404], default: 403, description: 'Status of a refusal: 403, or 404 so that unknown or forbidden operations are not revealed.' } },
  {
    openapi: {
      type: 'record',
      required: true,
      description: 'An OpenAPI document whose operationIds rules may name (loaded as bulwark-validator loads it).',
      fields: [
        { spec: { type: 'string', len_max: MAX_SPEC_BYTES, description: 'The OpenAPI document, JSON or YAML text. Exclusive with spec_file.' } },
        { spec_file: { type: 'string', len_max: 4096, description: 'Path of the OpenAPI document on the machine running the plugin server.' } },
      ],
      entity_checks: [{ mutually_exclusive: ['spec', 'spec_file'] }],
    },
  },
  {
    authzen: {
      type: 'record',
      required: true,
      description: 'OpenID AuthZEN 1.0 Access Evaluation endpoint asked by rules with authzen: true. Fails closed.',
      fields: [
        { url: { type: 'string', len_max: 2048, match: '^[Hh][Tt][Tt][Pp][Ss]?://[^%s]+$', description: 'The evaluation endpoint (e.g. https://pdp.example.com/access/v1/evaluation).' } },
        { allow_http: { type: 'boolean', default: false, description: 'Allow a plain http:// URL (a sidecar on loopback). Off: https only.' } },
        { timeout_ms: { type: 'integer', default: 1000, between: [50, 10000], description: 'Milliseconds to wait for a decision; then the request is refused (503).' } },
        { cache_ttl: { type: 'integer', default: 30, between: [0, 3600], description: 'Seconds a decision is reused for the same question; 0: no cache.' } },
        { cache_max_entries: { type: 'integer', default: 10000, between: [0, 1000000], description: 'Most decisions cached per plugin instance.' } },
        {
          ca_certificates: {
            type: 'array',
            len_max: 16,
            default: [],
            elements: { type: 'string', len_max: 65536, match: '%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-' },
            description: 'Extra PEM CA certificates trusted for the decision point (a private PKI).',
          },
        },
        { subject_type: { type: 'string', default: 'user', len_max: 64, description: 'AuthZEN subject.type sent.' } },
        { resource_type: { type: 'string', default: 'route', len_max: 64, description: 'AuthZEN resource.type sent.' } },
      ],
    },
  },
];
