// bulwark-threat-protection's config fields, declared once (lib/fields.ts): the Kong schema the plugin server dumps
// (`Schema`, ../../docs/kong-protocol.md §1.12) and the typed reader. What a field declaration cannot say (a CRS
// directory that must load, exclusion targets that must parse, headers that must not be credentials) is checked
// in config.ts when the instance starts.
import { array, configFields, integer, kongSchema, record, set, string } from '../lib/fields';
import { DEFAULT_RULE_FAMILIES } from './crs/compile';

export const DEFAULT_CRS_PATH = '/usr/share/modsecurity-crs/rules';
export const MAX_EXCLUSIONS = 200;
export const MAX_BODY_SIZE_LIMIT = 64 * 1024 * 1024;

export const DEFAULT_LIMITS = {
  max_body_size: 1048576,
  max_value_bytes: 65536,
  max_request_bytes: 1048576,
  max_values: 2000,
} as const;

const RULE_FAMILY = /^9\d\d$/;
// underscores_in_headers is on in Kong: a scanned header name may contain '_'.
const SCANNED_HEADER = /^[A-Za-z0-9_-]+$/;

export const ConfigFields = configFields({
  mode: string({
    one_of: ['enforce', 'monitor'],
    default: 'enforce',
    description:
      'enforce: answer 403 when the anomaly score reaches the threshold. monitor: log score, rule ids and locations (never values) and let the request through.',
  }),
  crs_path: string({
    len_min: 1,
    len_max: 4096,
    default: DEFAULT_CRS_PATH,
    description:
      "The `rules/` directory of an OWASP Core Rule Set release (3.3 or 4.x) on the plugin server's machine. Default: Debian/Ubuntu's modsecurity-crs package.",
  }),
  rule_families: set(
    string({
      match: '^9%d%d$',
      len_min: 3,
      len_max: 3,
      check: (v: string) => (RULE_FAMILY.test(v) ? undefined : 'expected a rule file number 9xx'),
    }),
    {
      len_min: 1,
      len_max: 30,
      default: [...DEFAULT_RULE_FAMILIES],
      description:
        'Which REQUEST-9xx rule files to load, by number (930 LFI, 931 RFI, 932 RCE, 933 PHP, 934 generic/NoSQL, 941 XSS, 942 SQLi, 943 session fixation, 944 Java).',
    },
  ),
  paranoia_level: integer({
    between: [1, 4],
    default: 1,
    description:
      'CRS paranoia level: rules tagged paranoia-level/N run when N is at most this. Above 1 expect false positives without exclusions.',
  }),
  anomaly_threshold: integer({
    between: [1, 10000],
    default: 5,
    description: "Block when the sum of matched rules' scores (critical 5, error 4, warning 3, notice 2) reaches this.",
  }),
  exclusions: array(
    record({
      rule_ids: array(integer({ between: [1, 999999999] }), {
        len_max: 1000,
        description: 'The rules this exclusion applies to (unset: every rule).',
      }),
      targets: array(string({ len_min: 1, len_max: 512 }), {
        len_max: 100,
        description:
          'Variables the rules skip, ModSecurity-style: ARGS:q, ARGS:json.items.array_0.name, ARGS_NAMES:x, REQUEST_COOKIES:session, REQUEST_HEADERS:Referer, REQUEST_FILENAME, a key regex as ARGS:/^json\\.notes/. Unset: the rules are removed.',
      }),
    }),
    {
      len_max: MAX_EXCLUSIONS,
      default: [],
      description:
        'Like CRS ctl:ruleRemoveById / ctl:ruleRemoveTargetById, per route or service (where the plugin is configured).',
    },
  ),
  headers: set(
    string({
      match: '^[%w%-_]+$',
      len_max: 128,
      check: (v: string) => (SCANNED_HEADER.test(v) ? undefined : 'expected a header name'),
    }),
    {
      len_max: 20,
      default: ['User-Agent', 'Referer'],
      description:
        'Request headers scanned (REQUEST_HEADERS). Cookie is always scanned as REQUEST_COOKIES; Authorization and Proxy-Authorization never are.',
    },
  ),
  limits: record(
    {
      max_body_size: integer({
        default: DEFAULT_LIMITS.max_body_size,
        between: [0, MAX_BODY_SIZE_LIMIT],
        description: 'Largest request body read (bytes); a larger one is the on_limit case.',
      }),
      max_value_bytes: integer({
        default: DEFAULT_LIMITS.max_value_bytes,
        between: [16, MAX_BODY_SIZE_LIMIT],
        description: 'Largest single value scanned (bytes): an argument, a JSON string, a cookie, the raw body.',
      }),
      max_request_bytes: integer({
        default: DEFAULT_LIMITS.max_request_bytes,
        between: [16, 4 * MAX_BODY_SIZE_LIMIT],
        description: 'Most bytes scanned per request, all values together.',
      }),
      max_values: integer({
        default: DEFAULT_LIMITS.max_values,
        between: [1, 100000],
        description: 'Most values (arguments, JSON leaves, names, cookies) per request.',
      }),
    },
    {
      required: true,
      description: 'Caps on what one request may make the plugin read and scan; beyond them on_limit applies.',
    },
  ),
  on_limit: string({
    one_of: ['refuse', 'scan_prefix'],
    default: 'refuse',
    description:
      'Beyond a limit: refuse (413 for sizes, with a log line) or scan_prefix (scan the first max_value_bytes of each value and the values that fit max_request_bytes, log the rest as unscanned).',
  }),
  on_rules_not_ready: string({
    one_of: ['refuse', 'allow'],
    default: 'refuse',
    description:
      'What requests get while the rule set compiles in the background after instance start (seconds for CRS 4; the plugin server stays responsive): refuse (503 with a log line) or allow (let them through unscanned, with a warning log line: fail-open, by choice).',
  }),
});

export const Schema = kongSchema(ConfigFields);
