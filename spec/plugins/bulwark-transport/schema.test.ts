// bulwark-transport's Schema against Kong's rules, through the emulator's implementation of them
// (kong/schema: Kong 3.9 metaschema and plugin-config processing), then through the plugin's own
// config parsing (what happens at StartInstance).
import type { FieldEntry } from '../../../kong/schema/types';
import * as transport from '../../../plugins/bulwark-transport';
import { configFor, describePluginInfo, fieldError, violationFor } from '../../helpers/plugin-info';
import { parseTransportConfig } from '../../../plugins/bulwark-transport/config';
import { createTestPki, type TestPki } from '../../fixtures/pki/pki';

const fields = transport.Schema as unknown as FieldEntry[];

const configOf = (input: unknown) => configFor(fields, input);

const violation = (input: unknown) => violationFor(fields, input);

/** Kong's config → the plugin instance (what StartInstance does). */
function startInstance(input: unknown) {
  return new transport.Plugin(configOf(input));
}

describePluginInfo(transport, 'before bot-detection 2500, cors and every authentication plugin');

describe('defaults', () => {
  it('an empty config gets every default, nested records included', () => {
    expect(configOf({})).toEqual({
      trusted_proxies: [],
      forwarded_header: 'x-forwarded-for',
      trust_forwarded_host: false,
      https: { enforce: true, mode: 'redirect', reject_status: 426 },
      allowed_hosts: [],
      security_headers: { preset: 'api', overrides: {} },
      hsts: { enabled: true, max_age: 31536000, include_subdomains: true, preload: false },
      mtls: {
        enabled: false,
        ca_certificates: [],
        required: true,
        allowed_subjects: [],
        consumer_by: [],
        max_chain_depth: 3,
        check_validity: true,
      },
    });
  });

  it('the defaulted config starts an instance with the secure defaults', () => {
    const conf = startInstance({}).conf;
    expect(conf.https).toEqual({
      enforce: true,
      mode: 'redirect',
      redirectStatus: undefined,
      rejectStatus: 426,
      redirectPort: undefined,
    });
    expect(conf.trustedProxies.isEmpty).toBe(true);
    expect(conf.allowedHosts.isEmpty).toBe(true);
    expect(conf.headers.https['Strict-Transport-Security']).toBe('max-age=31536000; includeSubDomains');
    expect(conf.headers.http['Strict-Transport-Security']).toBeUndefined();
    expect(conf.headers.https['X-Content-Type-Options']).toBe('nosniff');
  });

  it('a partial nested record keeps the other nested defaults', () => {
    expect(configOf({ https: { mode: 'reject' } }).https).toEqual({
      enforce: true,
      mode: 'reject',
      reject_status: 426,
    });
  });
});

describe('values Kong accepts', () => {
  it('a full operator config round-trips into the instance', () => {
    const conf = startInstance({
      trusted_proxies: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'],
      forwarded_header: 'forwarded',
      trust_forwarded_host: true,
      https: { enforce: false, mode: 'reject', redirect_status: 307, reject_status: 403, redirect_port: 8443 },
      allowed_hosts: ['api.example.com', '*.example.net', '[::1]'],
      security_headers: { preset: 'browser', overrides: { 'X-Frame-Options': '', 'X-Extra': 'yes' } },
      hsts: { enabled: true, max_age: 63072000, include_subdomains: true, preload: true },
    }).conf;
    expect(conf.forwardedHeader).toBe('forwarded');
    expect(conf.https).toEqual({
      enforce: false,
      mode: 'reject',
      redirectStatus: 307,
      rejectStatus: 403,
      redirectPort: 8443,
    });
    expect(conf.headers.https['X-Frame-Options']).toBeUndefined();
    expect(conf.headers.https['X-Extra']).toBe('yes');
    expect(conf.headers.https['Strict-Transport-Security']).toBe('max-age=63072000; includeSubDomains; preload');
  });

  it('an empty override value is allowed by the schema (it removes a preset header)', () => {
    expect(configOf({ security_headers: { overrides: { 'Cache-Control': '' } } }).security_headers).toEqual({
      preset: 'api',
      overrides: { 'Cache-Control': '' },
    });
  });
});

describe('values Kong refuses (Admin API / decK time)', () => {
  it.each([
    [{ forwarded_header: 'x-real-ip' }, { forwarded_header: 'expected one of: x-forwarded-for, forwarded' }],
    [{ https: { mode: 'allow' } }, { https: { mode: 'expected one of: redirect, reject' } }],
    [{ https: { redirect_status: 303 } }, { https: { redirect_status: 'expected one of: 301, 302, 307, 308' } }],
    [{ https: { reject_status: 400 } }, { https: { reject_status: 'expected one of: 426, 403' } }],
    [{ https: { redirect_port: 0 } }, { https: { redirect_port: 'value should be between 1 and 65535' } }],
    [{ https: { enforce: 'yes' } }, { https: { enforce: 'expected a boolean' } }],
    [
      { security_headers: { preset: 'strict' } },
      { security_headers: { preset: 'expected one of: api, browser, none' } },
    ],
    [{ hsts: { max_age: -1 } }, { hsts: { max_age: 'value should be between 0 and 2147483647' } }],
    [{ hsts: { max_age: 1.5 } }, { hsts: { max_age: 'expected an integer' } }],
    [{ trusted_proxies: '10.0.0.0/8' }, { trusted_proxies: 'expected an array' }],
  ])('%j', (input, fieldsError) => {
    expect(violation(input)).toEqual({ config: fieldsError });
  });

  it('refuses strings that cannot be a CIDR, a host or a header name by pattern', () => {
    expect(violation({ trusted_proxies: ['10.0.0.0/8', 'ten/8'] })).toEqual({
      config: { trusted_proxies: [null, expect.any(String)] },
    });
    expect(violation({ allowed_hosts: ['evil.com/x'] })).toEqual({ config: { allowed_hosts: [expect.any(String)] } });
    expect(violation({ security_headers: { overrides: { 'Bad Name': 'x' } } })).toEqual({
      config: { security_headers: { overrides: expect.any(String) } },
    });
  });

  it('remove_response_headers moved to bulwark-response-headers: a config still carrying it is refused, naming the field', () => {
    expect(violation({ remove_response_headers: ['Server'] })).toEqual({
      config: { remove_response_headers: 'unknown field' },
    });
  });

  it('refuses an empty string where a value is expected (strings default to len_min 1)', () => {
    expect(violation({ allowed_hosts: [''] })).toEqual({ config: { allowed_hosts: [expect.any(String)] } });
  });
});

// Issue #12: each of these passed Kong's Admin API before (the schema did not say it) and made every request of
// the route answer 500 once the instance refused to start. Kong now refuses them itself, naming the field.
describe('Kong refuses at the Admin API, naming the field (the dumped schema says it)', () => {
  it.each([
    [
      'HSTS preload without includeSubDomains',
      { hsts: { preload: true, include_subdomains: false } },
      'hsts.include_subdomains',
      'value must be true',
    ],
    [
      'HSTS preload with a short max_age',
      { hsts: { preload: true, max_age: 86400 } },
      'hsts.max_age',
      'value should be between 31536000 and 2147483647',
    ],
    ['mTLS enabled without a CA', { mtls: { enabled: true } }, 'mtls.ca_certificates', 'length must be at least 1'],
    [
      'a CA that is not PEM',
      { mtls: { ca_certificates: ['hello'] } },
      'mtls.ca_certificates.0',
      'expected a PEM certificate (-----BEGIN CERTIFICATE-----)',
    ],
    [
      'a private key given as CA',
      { mtls: { ca_certificates: ['-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'] } },
      'mtls.ca_certificates.0',
      'expected a PEM certificate (-----BEGIN CERTIFICATE-----)',
    ],
    [
      'a 64 KiB override value',
      { security_headers: { overrides: { 'X-A': 'x'.repeat(1 << 16) } } },
      'security_headers.overrides',
      'length must be at most 4096',
    ],
    [
      '257 allowed hosts',
      { allowed_hosts: Array(257).fill('example.com') },
      'allowed_hosts',
      'length must be at most 256',
    ],
  ])('%s', (_name, input, path, error) => {
    expect(fieldError(fields, input, path)).toEqual(error);
  });

  it('the HSTS entity checks name their rule', () => {
    expect(fieldError(fields, { hsts: { preload: true, include_subdomains: false } }, 'hsts.@entity')).toEqual([
      'preload requires include_subdomains = true',
    ]);
  });
});

describe('values that pass the schema but fail the instance start (fail closed: Kong answers 500)', () => {
  it.each([
    [
      { trusted_proxies: ['10.0.0.0/8', '10.0.0/8'] },
      'trusted_proxies[1]: invalid CIDR "10.0.0/8" (not an IP address)',
    ],
    [
      { trusted_proxies: ['10.1.0.0/8'] },
      'trusted_proxies[0]: invalid CIDR "10.1.0.0/8" (host bits set (did you mean 10.0.0.0/8?))',
    ],
    [{ trusted_proxies: ['10.0.0.0/33'] }, 'trusted_proxies[0]: invalid CIDR "10.0.0.0/33" (prefix length above 32)'],
    [{ allowed_hosts: ['a.*.example.com'] }, 'allowed_hosts[0]: invalid host "a.*.example.com"'],
    [{ allowed_hosts: ['example.com:443'] }, 'allowed_hosts[0]: invalid host "example.com:443"'],
    [
      { security_headers: { overrides: { 'Strict-Transport-Security': 'max-age=1' } } },
      'security_headers.overrides.Strict-Transport-Security: set HSTS with the hsts.* fields',
    ],
    [
      { security_headers: { overrides: { 'Content-Length': '0' } } },
      'security_headers.overrides.Content-Length: this header cannot be overridden',
    ],
    [
      { security_headers: { overrides: { 'X-A': 'a\u0007b' } } },
      'security_headers.overrides.X-A: value must be printable ASCII without line breaks',
    ],
    [
      { security_headers: { overrides: { 'x-a': '1', 'X-A': '2' } } },
      'security_headers.overrides.X-A: header given twice (names are case-insensitive)',
    ],
  ])('%j', (input, message) => {
    expect(() => startInstance(input)).toThrow(`bulwark-transport: invalid configuration: ${message}`);
  });

  it('parseTransportConfig refuses an unexpected shape even without the schema layer', () => {
    expect(() => parseTransportConfig({ https: { redirect_status: 303 } })).toThrow(
      'https.redirect_status: expected one of: 301, 302, 307, 308',
    );
    expect(() => parseTransportConfig({ trusted_proxies: [1] })).toThrow('trusted_proxies[0]: expected a string');
  });
});

describe('mtls', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = createTestPki();
  });
  afterAll(() => pki?.remove());

  it('is off by default: the instance starts without CA certificates and requires a certificate once enabled', () => {
    const conf = startInstance({}).conf;
    expect(conf.mtls.enabled).toBe(false);
    expect(conf.mtls.required).toBe(true);
    expect(conf.mtls.trust).toEqual({ anchors: [], maxDepth: 3, checkValidity: true });
  });

  it('a full mtls config round-trips into the instance', () => {
    const conf = startInstance({
      mtls: {
        enabled: true,
        ca_certificates: [pki.root.cert, pki.intermediate.cert],
        required: false,
        allowed_subjects: ['client-1', 'spiffe://example.com/ns/prod/sa/client-1'],
        consumer_by: ['cn', 'san', 'cn'],
        anonymous: 'guest',
        max_chain_depth: 2,
        check_validity: false,
      },
    }).conf;
    expect(conf.mtls.trust.anchors.map((a) => a.subject)).toEqual([
      'O=Bulwark Test\nCN=Bulwark Test Root CA',
      'O=Bulwark Test\nCN=Bulwark Test Intermediate CA',
    ]);
    expect(conf.mtls).toMatchObject({ enabled: true, required: false, consumerBy: ['cn', 'san'], anonymous: 'guest' });
    expect(conf.mtls.trust).toMatchObject({ maxDepth: 2, checkValidity: false });
    expect(conf.mtls.allowedSubjects.entries).toEqual(['client-1', 'spiffe://example.com/ns/prod/sa/client-1']);
  });

  it.each([
    [{ mtls: { enabled: 'yes' } }, { mtls: { enabled: 'expected a boolean' } }],
    [{ mtls: { consumer_by: ['username'] } }, { mtls: { consumer_by: ['expected one of: san, cn'] } }],
    [{ mtls: { max_chain_depth: 0 } }, { mtls: { max_chain_depth: 'value should be between 1 and 8' } }],
    [{ mtls: { max_chain_depth: 9 } }, { mtls: { max_chain_depth: 'value should be between 1 and 8' } }],
    [{ mtls: { ca_certificates: 'PEM' } }, { mtls: { ca_certificates: 'expected an array' } }],
    [{ mtls: { required: null, check_validity: 1 } }, { mtls: { check_validity: 'expected a boolean' } }],
  ])('Kong refuses %j', (input, fieldsError) => {
    expect(violation(input)).toEqual({ config: fieldsError });
  });

  it('Kong refuses empty strings in the lists and an empty anonymous', () => {
    expect(violation({ mtls: { allowed_subjects: [''] } })).toEqual({
      config: { mtls: { allowed_subjects: [expect.any(String)] } },
    });
    expect(violation({ mtls: { ca_certificates: [''] } })).toEqual({
      config: { mtls: { ca_certificates: [expect.any(String)] } },
    });
    expect(violation({ mtls: { anonymous: '' } })).toEqual({ config: { mtls: { anonymous: expect.any(String) } } });
  });

  const BROKEN_BASE64 = (pem: string) => pem.replace(/\n[A-Za-z0-9+/]{64}\n/, '\n' + 'A'.repeat(64) + '\n');
  it.each([
    [
      'mtls.ca_certificates[0]: not a PEM certificate',
      () => ({ mtls: { ca_certificates: [BROKEN_BASE64(pki.root.cert)] } }),
    ],
    [
      'mtls.ca_certificates[0]: expected one certificate, found 2 (give each CA its own element)',
      () => ({ mtls: { ca_certificates: [pki.root.cert + pki.intermediate.cert] } }),
    ],
    [
      'mtls.ca_certificates[0]: not a CA certificate (basicConstraints CA:TRUE is required)',
      () => ({ mtls: { ca_certificates: [pki.alice.cert] } }),
    ],
    [
      'mtls.allowed_subjects[1]: must be 1-1024 printable characters',
      () => ({ mtls: { allowed_subjects: ['ok', 'line\nbreak'] } }),
    ],
  ])('the instance refuses: %s', (message, input) => {
    expect(() => startInstance(input())).toThrow(`bulwark-transport: invalid configuration: ${message}`);
  });

  it('a CA certificate is checked even while mtls is disabled', () => {
    expect(() => startInstance({ mtls: { enabled: false, ca_certificates: [pki.client.cert] } })).toThrow(
      /mtls.ca_certificates\[0\]: not a CA/,
    );
  });
});
