// bulwark-docs' config fields, declared once (lib/fields.ts): the Kong schema the plugin server dumps (`Schema`,
// ../../docs/kong-protocol.md §1.12), the parsed type and its reader, and the README table all come from here.
import { array, boolean, configFields, kongSchema, record, refine, set, string } from '../lib/fields';
import { MAX_SPEC_BYTES } from '../lib/openapi-source';
import { MAX_PREFIX_LENGTH } from '../bulwark-api-key/key-format';
import { MAX_RULES, RuleField } from '../bulwark-authz/schema';

export const FILTER_MODES = ['none', 'scopes', 'authz'] as const;
export const CONDITIONAL_MODES = ['list', 'hide'] as const;
export const MAX_REMOVED_EXTENSIONS = 64;

export const ConfigFields = configFields({
  openapi: record(
    {
      spec: string({
        len_max: MAX_SPEC_BYTES,
        description:
          'The OpenAPI document, as JSON (up to 16 MiB) or YAML text (up to 1 MiB), read exactly as bulwark-validator reads it. Exclusive with spec_file.',
      }),
      spec_file: string({
        len_max: 4096,
        description: 'Path of the OpenAPI document (JSON or YAML) on the machine running the plugin server.',
      }),
    },
    {
      required: true,
      description: "The document to publish (give the same one as the route's bulwark-validator).",
      entity_checks: [{ mutually_exclusive: ['spec', 'spec_file'] }],
    },
  ),
  path: refine(
    string({
      default: '/docs',
      len_max: 256,
      match: '^/[%w%-%._~/]*$',
      description:
        'Where the docs are answered, as the client sends the path: <path> (the page), <path>/openapi.json (the document), <path>/assets/* (the UI). Other requests pass on.',
    }),
    (p) =>
      /^\/[\w\-.~/]*$/.test(p) && !p.endsWith('/') && !p.includes('//')
        ? undefined
        : "expected a path starting with '/', of letters, digits, '-', '.', '_', '~' and '/', not ending with '/'",
  ),
  public_base_url: refine(
    string({
      len_max: 2048,
      match: '^https?://',
      description:
        'Replaces the internal servers of the document (x-internal, or hosts such as localhost, private addresses, *.internal, *.svc). Unset: they are removed.',
    }),
    (u) => {
      try {
        const url = new URL(u);
        return url.protocol === 'https:' || url.protocol === 'http:' ? undefined : 'expected an http(s) URL';
      } catch {
        return 'expected an absolute http(s) URL';
      }
    },
  ),
  filter: string({
    one_of: FILTER_MODES,
    default: 'scopes',
    description:
      "scopes: each caller sees only the operations whose security requirements its identity's scopes meet (and public ones). authz: only the operations authz.rules (bulwark-authz's rules) allow the caller's identity; no identity: 403. none: everybody allowed on the route sees the whole redacted document.",
  }),
  authz: record(
    {
      rules: array(RuleField, {
        len_max: MAX_RULES,
        default: [],
        description:
          "filter authz: the route's bulwark-authz rules, the same list (in kong.yml / decK, one YAML anchor for both plugins), read and checked exactly as bulwark-authz reads them; operation_id names an operation of openapi.",
      }),
      conditional: string({
        one_of: CONDITIONAL_MODES,
        default: 'list',
        description:
          'filter authz: an operation the rules allow this caller only for some requests (object-level condition, CEL expression, AuthZEN, an overlapping deny rule): list it, or hide it.',
      }),
    },
    { required: true, description: 'The authorization rules the authz filter lists operations by.' },
  ),
  remove_extensions: set(string({ len_max: 128, match: '^x%-' }), {
    len_max: MAX_REMOVED_EXTENSIONS,
    default: [],
    description:
      'Specification extensions removed wherever they appear (x-internal is always removed), e.g. x-amazon-apigateway-integration.',
  }),
  api_key_prefixes: set(string({ len_min: 2, len_max: MAX_PREFIX_LENGTH, match: '^%l[%l%d_]*[%l%d]$' }), {
    len_max: 8,
    default: ['bwk_live', 'bwk_test'],
    description:
      "Prefixes of bulwark-api-key keys scrubbed from the document (bulwark-api-key's published key pattern).",
  }),
  try_it: boolean({
    default: false,
    description:
      "Swagger UI's Try it out. The calls go to the document's servers, and the page's Content-Security-Policy (connect-src 'self') lets the browser reach only this gateway.",
  }),
});

export const Schema = kongSchema(ConfigFields);
