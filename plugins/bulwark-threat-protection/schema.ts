// The Kong schema of bulwark-threat-protection's config (the `Schema` export kong-pdk dumps). What the schema
// language cannot say (a CRS directory that must load, exclusion targets that must parse, headers that must not be
// credentials) is checked when the instance starts (config.ts).
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

export const Schema = [
  {
    mode: {
      type: 'string',
      one_of: ['enforce', 'monitor'],
      default: 'enforce',
      description: 'enforce: answer 403 when the anomaly score reaches the threshold. monitor: log score, rule ids and locations (never values) and let the request through.',
    },
  },
  {
    crs_path: {
      type: 'string',
      len_min: 1,
      len_max: 4096,
      default: DEFAULT_CRS_PATH,
      description: "The `rules/` directory of an OWASP Core Rule Set release (3.3 or 4.x) on the plugin server's machine. Default: Debian/Ubuntu's modsecurity-crs package.",
    },
  },
  {
    rule_families: {
      type: 'set',
      elements: { type: 'string', match: '^9%d%d$', len_eq: 3 },
      len_min: 1,
      len_max: 30,
      default: [...DEFAULT_RULE_FAMILIES],
      description: 'Which REQUEST-9xx rule files to load, by number (930 LFI, 931 RFI, 932 RCE, 933 PHP, 934 generic/NoSQL, 941 XSS, 942 SQLi, 943 session fixation, 944 Java).',
    },
  },
  {
    paranoia_level: {
      type: 'integer',
      between: [1, 4],
      default: 1,
      description: 'CRS paranoia level: rules tagged paranoia-level/N run when N is at most this. Above 1 expect false positives without exclusions.',
    },
  },
  {
    anomaly_threshold: {
      type: 'integer',
      between: [1, 10000],
      default: 5,
      description: 'Block when the sum of matched rules\' scores (critical 5, error 4, warning 3, notice 2) reaches this.',
    },
  },
  {
    exclusions: {
      type: 'array',
      len_max: MAX_EXCLUSIONS,
      default: [],
      elements: {
        type: 'record',
        fields: [
          {
            rule_ids: {
              type: 'array',
              len_max: 1000,
              elements: { type: 'integer', between: [1, 999999999] },
              description: 'The rules this exclusion applies to (unset: every rule).',
            },
          },
          {
            targets: {
              type: 'array',
              len_max: 100,
              elements: { type: 'string', len_min: 1, len_max: 512 },
              description: 'Variables the rules skip, ModSecurity-style: ARGS:q, ARGS:json.items.array_0.name, ARGS_NAMES:x, REQUEST_COOKIES:session, REQUEST_HEADERS:Referer, REQUEST_FILENAME, a key regex as ARGS:/^json\\.notes/. Unset: the rules are removed.',
            },
          },
        ],
      },
      description: 'Like CRS ctl:ruleRemoveById / ctl:ruleRemoveTargetById, per route or service (where the plugin is configured).',
    },
  },
  {
    headers: {
      type: 'set',
      elements: { type: 'string', match: '^[%w%-_]+$', len_max: 128 },
      len_max: 20,
      default: ['User-Agent', 'Referer'],
      description: 'Request headers scanned (REQUEST_HEADERS). Cookie is always scanned as REQUEST_COOKIES; Authorization and Proxy-Authorization never are.',
    },
  },
  {
    limits: {
      type: 'record',
      required: true,
      description: 'Caps on what one request may make the plugin read and scan; beyond them on_limit applies.',
      fields: [
        { max_body_size: { type: 'integer', default: DEFAULT_LIMITS.max_body_size, between: [0, MAX_BODY_SIZE_LIMIT], description: 'Largest request body read (bytes); a larger one is the on_limit case.' } },
        { max_value_bytes: { type: 'integer', default: DEFAULT_LIMITS.max_value_bytes, between: [16, MAX_BODY_SIZE_LIMIT], description: 'Largest single value scanned (bytes): an argument, a JSON string, a cookie, the raw body.' } },
        { max_request_bytes: { type: 'integer', default: DEFAULT_LIMITS.max_request_bytes, between: [16, 4 * MAX_BODY_SIZE_LIMIT], description: 'Most bytes scanned per request, all values together.' } },
        { max_values: { type: 'integer', default: DEFAULT_LIMITS.max_values, between: [1, 100000], description: 'Most values (arguments, JSON leaves, names, cookies) per request.' } },
      ],
    },
  },
  {
    on_limit: {
      type: 'string',
      one_of: ['refuse', 'scan_prefix'],
      default: 'refuse',
      description: 'Beyond a limit: refuse (413 for sizes, with a log line) or scan_prefix (scan the first max_value_bytes of each value and the values that fit max_request_bytes, log the rest as unscanned).',
    },
  },
];
