// bulwark-transport's config: the fields declared in schema.ts, read by lib/fields.ts, → a typed, precomputed
// form (CIDR list, host allow-list, parsed CA certificates, the security header sets). Rules across fields
// (HSTS preload, mTLS needs a CA) are checked here; a failure throws a ConfigError naming the field, which makes
// the plugin instance fail to start, and Kong answers 500 instead of running a half-understood policy.
import { ConfigError } from '../lib/config';
import { readConfig, type Infer } from '../lib/fields';
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

import { ConfigFields, HSTS_PRELOAD_MIN_MAX_AGE, REDIRECT_STATUSES, REJECT_STATUSES } from './schema';

export { HSTS_PRELOAD_MIN_MAX_AGE, MTLS_MAX_CHAIN_DEPTH_LIMIT, REDIRECT_STATUSES, REJECT_STATUSES } from './schema';
export type RedirectStatus = (typeof REDIRECT_STATUSES)[number];
export type RejectStatus = (typeof REJECT_STATUSES)[number];

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
const FORBIDDEN_OVERRIDES = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'content-type',
  HSTS_HEADER.toLowerCase(),
]);
type RawConfig = Infer<typeof ConfigFields>;

function parseOverrides(overrides: Record<string, string>): Record<string, string> {
  const seen = new Set<string>();
  for (const name of Object.keys(overrides)) {
    const field = `security_headers.overrides.${name}`;
    const lower = name.toLowerCase();
    if (FORBIDDEN_OVERRIDES.has(lower)) {
      throw new ConfigError(
        field,
        lower === 'strict-transport-security' ? 'set HSTS with the hsts.* fields' : 'this header cannot be overridden',
      );
    }
    if (seen.has(lower)) throw new ConfigError(field, 'header given twice (names are case-insensitive)');
    seen.add(lower);
  }
  return overrides;
}

function parseMtls(m: RawConfig['mtls']): MtlsPolicy {
  // Validated even when mTLS is off: a bad PEM is a mistake whether or not it is in use yet.
  const anchors = m.ca_certificates.map((pem, i) => {
    const field = `mtls.ca_certificates[${i}]`;
    const parsed = parseSinglePem(pem);
    if ('error' in parsed) throw new ConfigError(field, parsed.error);
    if (!parsed.cert.ca) throw new ConfigError(field, 'not a CA certificate (basicConstraints CA:TRUE is required)');
    return parsed.cert;
  });
  if (m.enabled && anchors.length === 0) {
    throw new ConfigError('mtls.ca_certificates', 'at least one CA certificate is required when mtls.enabled is true');
  }
  const consumerBy: ConsumerSource[] = [...new Set(m.consumer_by)];
  return {
    enabled: m.enabled,
    trust: { anchors, maxDepth: m.max_chain_depth, checkValidity: m.check_validity },
    required: m.required,
    allowedSubjects: new SubjectAllowList(m.allowed_subjects),
    consumerBy,
    anonymous: m.anonymous,
  };
}

export function parseTransportConfig(raw: unknown): TransportConfig {
  const conf = readConfig(ConfigFields, raw);
  const trustedProxies = CidrList.parse(conf.trusted_proxies, 'trusted_proxies');
  const allowedHosts = HostAllowList.parse(conf.allowed_hosts, 'allowed_hosts');
  const h = conf.https;
  const https: HttpsPolicy = {
    enforce: h.enforce,
    mode: h.mode,
    redirectStatus: h.redirect_status,
    rejectStatus: h.reject_status,
    redirectPort: h.redirect_port,
  };

  const preset: SecurityHeaderPreset = conf.security_headers.preset;
  const overrides = parseOverrides(conf.security_headers.overrides);

  const hr = conf.hsts;
  const hsts: HstsSettings = {
    enabled: hr.enabled,
    maxAge: hr.max_age,
    includeSubdomains: hr.include_subdomains,
    preload: hr.preload,
  };
  if (hsts.enabled && hsts.preload) {
    if (!hsts.includeSubdomains) throw new ConfigError('hsts.preload', 'preload requires include_subdomains = true');
    if (hsts.maxAge < HSTS_PRELOAD_MIN_MAX_AGE) {
      throw new ConfigError('hsts.preload', `preload requires max_age >= ${HSTS_PRELOAD_MIN_MAX_AGE}`);
    }
  }

  const base: HeaderValues = securityHeaders(preset, overrides);
  const headers = responseHeaderSets(base, hsts);
  return {
    trustedProxies,
    forwardedHeader: conf.forwarded_header,
    trustForwardedHost: conf.trust_forwarded_host,
    https,
    allowedHosts,
    preset,
    hsts,
    headers,
    mtls: parseMtls(conf.mtls),
  };
}
