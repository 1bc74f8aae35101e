// bulwark-threat-protection's Schema against Kong's rules (the emulator's metaschema and config processing), then
// the plugin's own config parsing (StartInstance) and the request model it scans.
import { join } from 'node:path';
import type { FieldEntry } from '../../../kong/schema/types';
import * as threatProtection from '../../../plugins/bulwark-threat-protection';
import { defaultScanLimits, parseThreatProtectionConfig } from '../../../plugins/bulwark-threat-protection/config';
import { buildRequestModel } from '../../../plugins/bulwark-threat-protection/request-model';
import { DEFAULT_JSON_LIMITS } from '../../../plugins/lib/json-guard';
import { configFor, describePluginInfo, violationFor } from '../../helpers/plugin-info';

const fields = threatProtection.Schema as unknown as FieldEntry[];
const configOf = (input: unknown) => configFor(fields, input);
const violation = (input: unknown) => violationFor(fields, input);
const CRS4 = join(__dirname, '../../fixtures/crs4/rules');

describePluginInfo(
  threatProtection,
  'after rate limiting (915) and bulwark-validator (890): floods are limited and schema-invalid requests refused before CPU-heavier scanning',
);

describe('config', () => {
  it('defaults: enforce, Debian CRS path, PL1, threshold 5, User-Agent and Referer, refuse beyond limits', () => {
    expect(configOf({})).toMatchObject({
      mode: 'enforce',
      crs_path: '/usr/share/modsecurity-crs/rules',
      paranoia_level: 1,
      anomaly_threshold: 5,
      headers: ['User-Agent', 'Referer'],
      on_limit: 'refuse',
      limits: { max_body_size: 1048576, max_value_bytes: 65536, max_request_bytes: 1048576, max_values: 2000 },
    });
    // What benches, tests and the verdict scripts scan with: the same defaults.
    expect(defaultScanLimits()).toEqual({
      maxBodySize: 1048576,
      maxValueBytes: 65536,
      maxRequestBytes: 1048576,
      maxValues: 2000,
      json: DEFAULT_JSON_LIMITS,
    });
  });

  it('Kong refuses a paranoia level outside 1-4, an unknown mode and a bad rule family, naming the field', () => {
    expect(violation({ paranoia_level: 5 })).toEqual({ config: { paranoia_level: expect.any(String) } });
    expect(violation({ mode: 'block' })).toEqual({ config: { mode: expect.any(String) } });
    expect(violation({ rule_families: ['942x'] })).toEqual({ config: { rule_families: [expect.any(String)] } });
  });

  it('the instance refuses a missing CRS directory, credential headers and unknown exclusion variables, naming the field', () => {
    expect(() => parseThreatProtectionConfig(configOf({ crs_path: '/nonexistent' }))).toThrow(
      /^crs_path: cannot load the rules/,
    );
    expect(() => parseThreatProtectionConfig(configOf({ crs_path: CRS4, headers: ['Authorization'] }))).toThrow(
      'headers[0]: authorization: credentials are never scanned or logged',
    );
    expect(() =>
      parseThreatProtectionConfig(configOf({ crs_path: CRS4, exclusions: [{ targets: ['NOPE:x'] }] })),
    ).toThrow('exclusions[0].targets[0]: unknown variable NOPE');
    expect(() => parseThreatProtectionConfig(configOf({ crs_path: CRS4, exclusions: [{}] }))).toThrow(
      'exclusions[0]: needs rule_ids, targets or both',
    );
  });
});

describe('request model', () => {
  const limits = { ...defaultScanLimits(), maxValues: 100 };
  const model = (pathWithQuery: string, headers: Record<string, string[]> = {}, body?: string) => {
    const r = buildRequestModel(
      { method: 'POST', pathWithQuery, headers, body: body === undefined ? undefined : Buffer.from(body) },
      ['user-agent'],
      limits,
      'refuse',
    );
    if (!r.ok) throw new Error(r.detail);
    return r.values.map((v) => `${v.collection}:${v.name}=${v.value}`);
  };

  it('query arguments decode once to bytes (%A0 stays the byte 0xA0; an invalid escape stays); names are ARGS_NAMES', () => {
    const v = model('/p/a?x=%A0%27&bad=%zz&n%61me=1');
    expect(v).toEqual(
      expect.arrayContaining([
        "ARGS_GET:x=\xa0'",
        'ARGS_GET:bad=%zz',
        'ARGS_GET_NAMES:=name',
        'REQUEST_FILENAME:=/p/a',
        'REQUEST_BASENAME:=a',
      ]),
    );
  });

  it('JSON leaves get ModSecurity-style names; cookies and the chosen headers are scanned, Authorization never', () => {
    const v = model(
      '/p',
      {
        'content-type': ['application/json'],
        cookie: ['a=1; b=x y'],
        authorization: ['Bearer secret'],
        'user-agent': ['curl'],
      },
      JSON.stringify({ items: [{ name: 'n', qty: 2 }], ok: true }),
    );
    expect(v).toEqual(
      expect.arrayContaining([
        'ARGS_POST:json.items.array_0.name=n',
        'ARGS_POST:json.items.array_0.qty=2',
        'ARGS_POST:json.ok=true',
        'ARGS_POST_NAMES:=json.items.array_0.name',
        'REQUEST_COOKIES:b=x y',
        'REQUEST_COOKIES_NAMES:=a',
        'REQUEST_HEADERS:user-agent=curl',
      ]),
    );
    expect(v.join('\n')).not.toContain('secret');
  });

  it('a value over max_value_bytes or too many values: 413 with refuse', () => {
    const r = buildRequestModel(
      { method: 'GET', pathWithQuery: `/?q=${'a'.repeat(70000)}`, headers: {} },
      [],
      limits,
      'refuse',
    );
    expect(r).toMatchObject({ ok: false, status: 413 });
    const many = Array.from({ length: 60 }, (_, i) => `a${i}=1`).join('&');
    expect(
      buildRequestModel({ method: 'GET', pathWithQuery: `/?${many}`, headers: {} }, [], limits, 'refuse'),
    ).toMatchObject({ ok: false, status: 413 });
  });
});
