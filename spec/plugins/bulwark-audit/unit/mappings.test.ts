// ECS, OCSF and OpenTelemetry mappings against the published field names.
import { toEcs, toOcsf, toOtelLogRecord } from '../../../../plugins/bulwark-audit/mappings';
import type { SecurityEvent } from '../../../../plugins/lib/security-event';

const base: SecurityEvent = {
  timestamp: '2026-01-02T03:04:05.678Z',
  request_id: 'abc123',
  plugin: 'bulwark-api-key',
  decision: 'deny',
  reason: 'key_unknown',
  status: 401,
  mode: 'enforce',
  route: { id: 'r-1', name: 'orders' },
  client_ip: '203.0.113.7',
  http: { method: 'POST', host: 'api.example.com', path: '/orders' },
  identity: { consumer: 'acme', credential_kind: 'api-key', credential_id: 'k1', subject: 'acme-app' },
};

test('ECS: allow/deny in event.type and event.action; outcome is Bulwark’s own success; http, url, source, user', () => {
  expect(toEcs(base)).toEqual({
    '@timestamp': '2026-01-02T03:04:05.678Z',
    ecs: { version: '8.11.0' },
    event: {
      kind: 'event',
      category: ['web', 'authentication'],
      type: ['access', 'denied'],
      action: 'deny',
      outcome: 'success',
      reason: 'key_unknown',
      module: 'bulwark',
      dataset: 'bulwark.security',
      provider: 'bulwark-api-key',
    },
    http: { request: { id: 'abc123', method: 'POST' }, response: { status_code: 401 } },
    url: { domain: 'api.example.com', path: '/orders' },
    source: { ip: '203.0.113.7', address: '203.0.113.7' },
    user: { name: 'acme', id: 'acme-app' },
    observer: { vendor: 'Bulwark', product: 'Kong', type: 'proxy' },
    labels: {
      bulwark_mode: 'enforce',
      kong_route: 'orders',
      credential_kind: 'api-key',
      credential_id: 'k1',
    },
  });
  const allow = toEcs({ ...base, decision: 'allow', reason: 'allowed' }) as { event: Record<string, unknown> };
  expect(allow.event.type).toEqual(['access', 'allowed']);
  expect((toEcs({ ...base, decision: 'error' }) as { event: Record<string, unknown> }).event.outcome).toBe('failure');
});

test('OCSF: Authentication 3002 for auth plugins, Authorization 3003, API Activity 6003 with an operation, HTTP Activity 4002 otherwise', () => {
  const auth = toOcsf(base);
  expect(auth).toMatchObject({
    class_uid: 3002,
    category_uid: 3,
    activity_id: 1,
    type_uid: 300201,
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    status_id: 2,
    status_detail: 'key_unknown',
    src_endpoint: { ip: '203.0.113.7' },
    http_request: { http_method: 'POST', url: { hostname: 'api.example.com', path: '/orders' }, uid: 'abc123' },
    http_response: { code: 401 },
    user: { name: 'acme', uid: 'acme-app' },
    metadata: { version: '1.1.0', product: { name: 'Bulwark' } },
  });
  expect(toOcsf({ ...base, plugin: 'bulwark-authz' })).toMatchObject({ class_uid: 3003, type_uid: 300301 });
  expect(
    toOcsf({ ...base, plugin: 'bulwark-validator', operation: { id: 'createOrder', path_template: '/orders' } }),
  ).toMatchObject({
    class_uid: 6003,
    category_uid: 6,
    activity_id: 1,
    type_uid: 600301,
    api: { operation: 'createOrder' },
  });
  expect(toOcsf({ ...base, plugin: 'bulwark-rate-limit', http: { ...base.http, method: 'GET' } })).toMatchObject({
    class_uid: 4002,
    category_uid: 4,
    activity_id: 3,
    type_uid: 400203,
  });
});

test('OTel: HTTP semantic-convention attributes, severity by decision', () => {
  const r = toOtelLogRecord(base);
  expect(r.severityNumber).toBe(13);
  expect(r.attributes).toMatchObject({
    'http.request.method': 'POST',
    'url.path': '/orders',
    'server.address': 'api.example.com',
    'client.address': '203.0.113.7',
    'http.response.status_code': 401,
    'bulwark.plugin': 'bulwark-api-key',
    'bulwark.decision': 'deny',
    'bulwark.reason': 'key_unknown',
    'user.id': 'acme-app',
  });
  expect(toOtelLogRecord({ ...base, decision: 'allow' }).severityText).toBe('INFO');
});

describe('credential_fingerprint in each mapping', () => {
  const hex = 'ab'.repeat(32);
  const mtls: SecurityEvent = { ...base, plugin: 'bulwark-transport', credential_fingerprint: `mtls:${hex}` };
  const key: SecurityEvent = { ...base, credential_fingerprint: 'bwk_live:Xy3_abcdEFGH' };

  test("ECS: labels.credential_fingerprint; a certificate's also in tls.client.hash.sha256 (upper-case hex)", () => {
    expect(toEcs(mtls)).toMatchObject({
      labels: { credential_fingerprint: `mtls:${hex}` },
      tls: { client: { hash: { sha256: hex.toUpperCase() } } },
    });
    expect(toEcs(key)).toMatchObject({ labels: { credential_fingerprint: 'bwk_live:Xy3_abcdEFGH' } });
    expect(toEcs(key).tls).toBeUndefined();
  });

  test("OCSF: unmapped.credential_fingerprint; a certificate's also as a SHA-256 fingerprint object", () => {
    expect(toOcsf(mtls)).toMatchObject({
      tls: { certificate: { fingerprints: [{ algorithm_id: 3, algorithm: 'SHA-256', value: hex }] } },
      unmapped: { credential_fingerprint: `mtls:${hex}` },
    });
    expect(toOcsf(key)).toMatchObject({ unmapped: { credential_fingerprint: 'bwk_live:Xy3_abcdEFGH' } });
    expect(toOcsf(key).tls).toBeUndefined();
  });

  test('OTel: bulwark.credential.fingerprint', () => {
    expect(toOtelLogRecord(key).attributes['bulwark.credential.fingerprint']).toBe('bwk_live:Xy3_abcdEFGH');
  });
});
