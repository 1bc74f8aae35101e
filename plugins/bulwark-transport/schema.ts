// The Kong schema of bulwark-transport's config (the `Schema` export kong-pdk dumps; Kong validates it
// with its metaschema, ../../docs/kong-protocol.md §1.12). Records are `required` so that Kong fills in their nested
// defaults when the operator leaves them out. Kong refuses at the Admin API (and decK) what this schema says:
// syntax, PEM shape, bounds on every string and array, and the rules inside one record (entity_checks: HSTS
// preload, mTLS needs a CA). What it cannot say (CIDR host bits, host patterns, certificates that must parse,
// header names that cannot be overridden) is checked when the instance starts (config.ts) and before
// deployment by scripts/validate-config.ts.

import { array, boolean, configFields, integer, kongSchema, map, record, refine, set, string } from '../lib/fields';
import { forwardedHeader, headerName, pemCertificate, port, trustedProxies } from '../lib/typedefs';

/** hstspreload.org requires max-age >= 1 year and includeSubDomains for a preload submission. */
export const HSTS_PRELOAD_MIN_MAX_AGE = 31536000;
export const MTLS_MAX_CHAIN_DEPTH_LIMIT = 8;
export const REDIRECT_STATUSES = [301, 302, 307, 308] as const;
export const REJECT_STATUSES = [426, 403] as const;

// Printable, no controls: a subject value or consumer name with a line break is a mistake or an attack.
const PRINTABLE_VALUE = /^[^\x00-\x1f\x7f]{1,1024}$/;
// Printable ASCII and tab only: no CR/LF (header injection), no other controls, no bytes Kong would mangle.
const HEADER_VALUE = /^[\x20-\x7e\t]{0,4096}$/;

export const ConfigFields = configFields({
  trusted_proxies: trustedProxies(
    'CIDRs (IPv4 or IPv6) of the proxies in front of Kong whose forwarding headers are believed. Empty: only the connection itself counts.',
  ),
  forwarded_header: forwardedHeader(
    'Which header trusted proxies use to pass the client address, scheme and host: X-Forwarded-For (with X-Forwarded-Proto/-Host) or RFC 7239 Forwarded.',
  ),
  trust_forwarded_host: boolean({
    default: false,
    description:
      'Use the host reported by a trusted proxy (X-Forwarded-Host or Forwarded host=) instead of the Host header for allowed_hosts and redirects.',
  }),
  https: record(
    {
      enforce: boolean({
        default: true,
        description: 'Refuse plain-HTTP requests (redirect or reject them, as set by mode).',
      }),
      mode: string({
        one_of: ['redirect', 'reject'],
        default: 'redirect',
        description: 'What to do with a plain-HTTP request when enforce is on: redirect it to https:// or reject it.',
      }),
      redirect_status: integer({
        one_of: REDIRECT_STATUSES,
        description:
          'Status of the HTTPS redirect. Unset: 301 for GET/HEAD and 308 for other methods, so method and body are kept.',
      }),
      reject_status: integer({
        one_of: REJECT_STATUSES,
        default: 426,
        description: 'Status of the rejection in reject mode: 426 Upgrade Required (as Kong does) or 403.',
      }),
      redirect_port: port({
        description: 'HTTPS port to put in the redirect Location. Unset: the default port 443 (no port in the URL).',
      }),
    },
    {
      required: true,
      description: 'HTTPS enforcement: whether plain-HTTP requests are refused, and how (redirect or rejection).',
    },
  ),
  allowed_hosts: array(string({ len_max: 261, match: '^[%w%.%-_%*:%[%]]+$' }), {
    len_max: 256,
    default: [],
    description:
      'Host names the route may be reached by (exact, or *.example.com for any subdomain); others get 421 Misdirected Request. Ports are ignored. Empty: any well-formed host.',
  }),
  security_headers: record(
    {
      preset: string({
        one_of: ['api', 'browser', 'none'],
        default: 'api',
        description:
          'Set of security response headers to add: api (no-store, nosniff, deny-all CSP, no framing), browser (same-origin web app policy) or none.',
      }),
      overrides: map(
        headerName(),
        refine(string({ len_min: 0, len_max: 4096 }), (v) =>
          HEADER_VALUE.test(v) ? undefined : 'value must be printable ASCII without line breaks',
        ),
        {
          len_max: 32,
          default: {},
          description:
            'Header name to value, replacing or adding to the preset. An empty value removes that preset header.',
        },
      ),
    },
    {
      required: true,
      description: 'Security headers added to proxied responses and to the responses this plugin produces itself.',
    },
  ),
  hsts: record(
    {
      enabled: boolean({ default: true, description: 'Send Strict-Transport-Security on HTTPS responses.' }),
      max_age: integer({
        default: 31536000,
        between: [0, 2147483647],
        description: 'HSTS max-age in seconds (0 tells browsers to forget the policy).',
      }),
      include_subdomains: boolean({ default: true, description: 'Add includeSubDomains to the HSTS header.' }),
      preload: boolean({
        default: false,
        description: 'Add preload to the HSTS header (requires include_subdomains and a max_age of at least one year).',
      }),
    },
    {
      required: true,
      description: 'HTTP Strict Transport Security, sent on responses to HTTPS requests only.',
      entity_checks: [
        {
          conditional: {
            if_field: 'preload',
            if_match: { eq: true },
            then_field: 'include_subdomains',
            then_match: { eq: true },
            then_err: 'preload requires include_subdomains = true',
          },
        },
        {
          conditional: {
            if_field: 'preload',
            if_match: { eq: true },
            then_field: 'max_age',
            then_match: { between: [HSTS_PRELOAD_MIN_MAX_AGE, 2147483647] },
            then_err: `preload requires max_age >= ${HSTS_PRELOAD_MIN_MAX_AGE}`,
          },
        },
      ],
    },
  ),
  mtls: record(
    {
      enabled: boolean({
        default: false,
        description: 'Authenticate clients by their TLS client certificate, verified against ca_certificates.',
      }),
      ca_certificates: array(pemCertificate({ len_max: 65536 }), {
        len_max: 16,
        default: [],
        description:
          'PEM CA certificates (one per element, CA:TRUE) a client chain must end at. PEM text, not ids of Kong ca_certificates entities: a JS plugin cannot read those.',
      }),
      required: boolean({
        default: true,
        description:
          'true: a request without an acceptable client certificate gets 401. false: it continues unauthenticated (as the anonymous consumer when set).',
      }),
      allowed_subjects: array(
        refine(string({ len_max: 1024 }), (v) =>
          PRINTABLE_VALUE.test(v) ? undefined : 'must be 1-1024 printable characters',
        ),
        {
          len_max: 64,
          default: [],
          description:
            'Exact subject CNs or SAN DNS names, emails or URIs a certificate must carry (one match is enough). Empty: any certificate that chains to a configured CA.',
        },
      ),
      consumer_by: set(string({ one_of: ['san', 'cn'] }), {
        len_max: 2,
        default: [],
        description:
          'Map the certificate to the Kong consumer whose username equals a SAN value (san) or the subject CN (cn), tried in this order. Empty: no consumer mapping.',
      }),
      anonymous: refine(
        string({
          len_max: 256,
          description:
            'Consumer id or username to authenticate as when no acceptable certificate is presented and required is false, or when no consumer matches the certificate.',
        }),
        (v) => (PRINTABLE_VALUE.test(v) ? undefined : 'must be a consumer id or username'),
      ),
      max_chain_depth: integer({
        default: 3,
        between: [1, MTLS_MAX_CHAIN_DEPTH_LIMIT],
        description:
          'Most issuing certificates from the client certificate to the trusted CA, the CA included: 1 = issued directly by a configured CA.',
      }),
      check_validity: boolean({
        default: true,
        description: 'Reject certificates on the path (trusted CA included) that are expired or not yet valid.',
      }),
    },
    {
      required: true,
      description:
        'Client-certificate (mutual TLS) authentication. Kong requests the certificate only for a GLOBAL bulwark-transport config with mtls.enabled (certificate phase); route/service configs without one reject.',
      entity_checks: [
        {
          conditional: {
            if_field: 'enabled',
            if_match: { eq: true },
            then_field: 'ca_certificates',
            then_match: { len_min: 1 },
            then_err: 'at least one CA certificate is required when mtls.enabled is true',
          },
        },
      ],
    },
  ),
});

/** The `Schema` export the plugin server dumps. */
export const Schema = kongSchema(ConfigFields);
