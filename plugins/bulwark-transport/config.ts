// bulwark-transport's config: from Kong's (schema-validated, defaulted) config object to a typed,
// precomputed form. Everything the schema cannot check (CIDRs, host patterns, header names and values,
// HSTS preload rules) is checked here; a failure throws a ConfigError naming the field, which makes the
// plugin instance fail to start, and Kong answers 500 instead of running a half-understood policy.
import { ConfigError, ConfigReader } from '../lib/config';
import { CidrList } from '../lib/ip';
import { HostAllowList } from '../lib/host';
import type { ForwardedHeaderKind } from '../lib/client-ip';
import type { HeaderValues } from '../lib/pdk';
import { parseSinglePem, SubjectAllowList, type ConsumerSource, type MtlsTrust } from './mtls';
import {
  HSTS_HEADER,
  responseHeaderSets,
  securityHeaders,
  type HstsSettings,
  type ResponseHeaderSets,
  type SecurityHeaderPreset,
} from './security-headers';

export type RedirectStatus = 301 | 302 | 307 | 308;
export type RejectStatus = 426 | 403;

export const REDIRECT_STATUSES: readonly RedirectStatus[] = [301, 302, 307, 308];
export const REJECT_STATUSES: readonly RejectStatus[] = [426, 403];

/** hstspreload.org requires max-age >= 1 year and includeSubDomains for a preload submission. */
export const HSTS_PRELOAD_MIN_MAX_AGE = 31536000;

export interface HttpsPolicy {
  enforce: boolean;
  mode: 'redirect' | 'reject';
  /** undefined = 301 for GET/HEAD, 308 otherwise (keeps method and body). */
  redirectStatus: RedirectStatus | undefined;
  rejectStatus: RejectStatus;
  /** undefined = the default HTTPS port (no port in Location). */
  redirectPort: number | undefined;
}

/** Client-certificate authentication (config.mtls). */
export interface MtlsPolicy {
  enabled: boolean;
  trust: MtlsTrust;
  /** No (or no acceptable) certificate: true → 401; false → continue unauthenticated (or as `anonymous`). */
  required: boolean;
  allowedSubjects: SubjectAllowList;
  consumerBy: ConsumerSource[];
  /** Consumer id or username for requests without an accepted certificate (and certificates without a consumer). */
  anonymous: string | undefined;
}

export const MTLS_MAX_CHAIN_DEPTH_LIMIT = 8;
const CONSUMER_SOURCES: readonly ConsumerSource[] = ['san', 'cn'];
// Printable, no controls: a subject value or consumer name with a line break is a mistake or an attack.
const PRINTABLE_VALUE = /^[^\x00-\x1f\x7f]{1,1024}$/;

export interface TransportConfig {
  trustedProxies: CidrList;
  forwardedHeader: ForwardedHeaderKind;
  trustForwardedHost: boolean;
  https: HttpsPolicy;
  allowedHosts: HostAllowList;
  preset: SecurityHeaderPreset;
  hsts: HstsSettings;
  /** Precomputed security headers for HTTPS and plain-HTTP responses (set in access). */
  headers: ResponseHeaderSets;
  mtls: MtlsPolicy;
}

// Response headers an override may not touch: framing headers would corrupt the response, and HSTS has
// its own settings (an override would bypass the "HTTPS only" rule).
const FORBIDDEN_OVERRIDES = new Set(['content-length', 'transfer-encoding', 'connection', 'content-type', HSTS_HEADER.toLowerCase()]);
const HEADER_NAME = /^[A-Za-z0-9-]{1,128}$/;
// Printable ASCII and tab only: no CR/LF (header injection), no other controls, no bytes Kong would mangle.
const HEADER_VALUE = /^[\x20-\x7e\t]{0,4096}$/;

function parseOverrides(reader: ConfigReader, key: string): Record<string, string> {
  const overrides = reader.stringMap(key);
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(overrides)) {
    const field = `${reader.field(key)}.${name}`;
    if (!HEADER_NAME.test(name)) throw new ConfigError(field, 'invalid header name');
    const lower = name.toLowerCase();
    if (FORBIDDEN_OVERRIDES.has(lower)) {
      throw new ConfigError(field, lower === 'strict-transport-security' ? 'set HSTS with the hsts.* fields' : 'this header cannot be overridden');
    }
    if (seen.has(lower)) throw new ConfigError(field, 'header given twice (names are case-insensitive)');
    seen.add(lower);
    if (!HEADER_VALUE.test(value)) throw new ConfigError(field, 'value must be printable ASCII without line breaks');
  }
  return overrides;
}

function parseMtls(root: ConfigReader): MtlsPolicy {
  const m = root.record('mtls');
  const enabled = m.boolean('enabled', false);

  // Validated even when mTLS is off: a bad PEM is a mistake whether or not it is in use yet.
  const anchors = m.stringArray('ca_certificates').map((pem, i) => {
    const field = `${m.field('ca_certificates')}[${i}]`;
    const parsed = parseSinglePem(pem);
    if ('error' in parsed) throw new ConfigError(field, parsed.error);
    if (!parsed.cert.ca) throw new ConfigError(field, 'not a CA certificate (basicConstraints CA:TRUE is required)');
    return parsed.cert;
  });
  if (enabled && anchors.length === 0) {
    throw new ConfigError(m.field('ca_certificates'), 'at least one CA certificate is required when mtls.enabled is true');
  }

  const allowed = m.stringArray('allowed_subjects');
  allowed.forEach((value, i) => {
    if (!PRINTABLE_VALUE.test(value)) throw new ConfigError(`${m.field('allowed_subjects')}[${i}]`, 'must be 1-1024 printable characters');
  });

  const consumerBy: ConsumerSource[] = [];
  m.stringArray('consumer_by').forEach((value, i) => {
    if (!(CONSUMER_SOURCES as readonly string[]).includes(value)) {
      throw new ConfigError(`${m.field('consumer_by')}[${i}]`, `expected one of: ${CONSUMER_SOURCES.join(', ')}`);
    }
    if (!consumerBy.includes(value as ConsumerSource)) consumerBy.push(value as ConsumerSource);
  });

  const anonymous = m.optionalString('anonymous');
  if (anonymous !== undefined && !PRINTABLE_VALUE.test(anonymous)) {
    throw new ConfigError(m.field('anonymous'), 'must be a consumer id or username');
  }

  return {
    enabled,
    trust: {
      anchors,
      maxDepth: m.integer('max_chain_depth', 3, 1, MTLS_MAX_CHAIN_DEPTH_LIMIT),
      checkValidity: m.boolean('check_validity', true),
    },
    required: m.boolean('required', true),
    allowedSubjects: new SubjectAllowList(allowed),
    consumerBy,
    anonymous,
  };
}

export function parseTransportConfig(raw: unknown): TransportConfig {
  const root = new ConfigReader(raw);

  const trustedProxies = CidrList.parse(root.stringArray('trusted_proxies'), root.field('trusted_proxies'));
  const forwardedHeader = root.oneOf<ForwardedHeaderKind>('forwarded_header', ['x-forwarded-for', 'forwarded'], 'x-forwarded-for');
  const trustForwardedHost = root.boolean('trust_forwarded_host', false);

  const h = root.record('https');
  const redirectStatus = h.optionalInteger('redirect_status');
  if (redirectStatus !== undefined && !(REDIRECT_STATUSES as readonly number[]).includes(redirectStatus)) {
    throw new ConfigError(h.field('redirect_status'), `expected one of: ${REDIRECT_STATUSES.join(', ')}`);
  }
  const rejectStatus = h.integer('reject_status', 426);
  if (!(REJECT_STATUSES as readonly number[]).includes(rejectStatus)) {
    throw new ConfigError(h.field('reject_status'), `expected one of: ${REJECT_STATUSES.join(', ')}`);
  }
  const https: HttpsPolicy = {
    enforce: h.boolean('enforce', true),
    mode: h.oneOf('mode', ['redirect', 'reject'], 'redirect'),
    redirectStatus: redirectStatus as RedirectStatus | undefined,
    rejectStatus: rejectStatus as RejectStatus,
    redirectPort: h.optionalInteger('redirect_port', 1, 65535),
  };

  const allowedHosts = HostAllowList.parse(root.stringArray('allowed_hosts'), root.field('allowed_hosts'));

  const sh = root.record('security_headers');
  const preset = sh.oneOf<SecurityHeaderPreset>('preset', ['api', 'browser', 'none'], 'api');
  const overrides = parseOverrides(sh, 'overrides');

  const hr = root.record('hsts');
  const hsts: HstsSettings = {
    enabled: hr.boolean('enabled', true),
    maxAge: hr.integer('max_age', 31536000, 0, 2 ** 31 - 1),
    includeSubdomains: hr.boolean('include_subdomains', true),
    preload: hr.boolean('preload', false),
  };
  if (hsts.enabled && hsts.preload) {
    if (!hsts.includeSubdomains) throw new ConfigError(hr.field('preload'), 'preload requires include_subdomains = true');
    if (hsts.maxAge < HSTS_PRELOAD_MIN_MAX_AGE) {
      throw new ConfigError(hr.field('preload'), `preload requires max_age >= ${HSTS_PRELOAD_MIN_MAX_AGE}`);
    }
  }

  const base: HeaderValues = securityHeaders(preset, overrides);
  const headers = responseHeaderSets(base, hsts);
  return {
    trustedProxies,
    forwardedHeader,
    trustForwardedHost,
    https,
    allowedHosts,
    preset,
    hsts,
    headers,
    mtls: parseMtls(root),
  };
}
