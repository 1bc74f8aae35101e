// bulwark-audit's OTLP/HTTP log sink and OTLP metrics (OpenTelemetry JS SDK) end to end: the Kong emulator with
// the real plugin server (both servers), bulwark-rate-limit deciding, and local OTLP receivers started by the test
// that decode what the SDK sent (no real OpenTelemetry Collector runs in CI; no mock of the SDK): the wire format
// (paths, content type, OTLP/JSON body, resource), the log record of a denied request, the metric points of the
// test requests; then a receiver that is down and one that never answers: drops counted, queue bounded, requests
// answered as before.
import {
  afterAllNoFailOpen,
  startGateway,
  waitFor,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  type Gateway,
} from '../../helpers/emulator';
import {
  logRecords,
  metricsByName,
  pointValue,
  startOtlpReceiver,
  type OtlpReceiver,
  type OtlpRequest,
} from '../../helpers/otlp-receiver';
import { freePort } from '../../../scripts/free-port';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const TOKEN = 'otlp-token-from-vault-7';
let gw: Gateway | undefined;
let receiver: OtlpReceiver;
let slow: OtlpReceiver;
let downEndpoint = '';

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  slow = await startOtlpReceiver();
  slow.answer = () => 'hold';
  downEndpoint = `http://127.0.0.1:${await freePort()}`;
  process.env.BULWARK_OTLP_TEST_TOKEN = TOKEN; // Kong's env vault: {vault://env/bulwark-otlp-test-token}
  gw = await startGateway({ plugins: ['bulwark-audit', 'bulwark-rate-limit'] });
  const metrics = `metrics: { otlp: { endpoint: "${receiver.endpoint}", interval_ms: 1000, headers: { authorization: "{vault://env/bulwark-otlp-test-token}" } } }`;
  const bounded = `max_queue_events: 5, batch_size: 5, flush_interval_ms: 10`;
  gw.configure(`
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - { name: limited, paths: ["/limited"] }
      - { name: down, paths: ["/down"] }
      - { name: slow, paths: ["/slow"] }
plugins:
  - name: bulwark-audit
    config:
      sinks:
        otlp:
          endpoint: "${receiver.endpoint}/"
          headers: { authorization: "{vault://env/bulwark-otlp-test-token}" }
          flush_interval_ms: 50
          service_name: bulwark-gateway-test
          resource_attributes: { deployment.environment.name: ci }
      ${metrics}
  - name: bulwark-audit
    route: down
    config:
      sinks: { otlp: { endpoint: "${downEndpoint}", timeout_ms: 200, ${bounded} } }
      ${metrics}
  - name: bulwark-audit
    route: slow
    config:
      sinks: { otlp: { endpoint: "${slow.endpoint}", timeout_ms: 60000, ${bounded} } }
      ${metrics}
  - name: bulwark-rate-limit
    config:
      limit_by: [ip]
      limits: [{ name: minute, limit: 1, window_seconds: 60 }]
`);
}, 60_000);

afterAllNoFailOpen(() => [gw]);
afterAll(async () => {
  await receiver?.close();
  await slow?.close();
});

/** The newest /v1/metrics export that satisfies `ok`, waiting for the next exports (every second). */
async function metricsExport(ok: (r: OtlpRequest) => boolean, timeoutMs = 20_000): Promise<OtlpRequest> {
  let found: OtlpRequest | undefined;
  await waitFor(() => {
    found = [...receiver.requests].reverse().find((r) => r.path === '/v1/metrics' && ok(r));
    return found !== undefined;
  }, timeoutMs);
  return found!;
}

test('a denied request becomes one OTLP log record: POST /v1/logs, application/json, the vault-resolved header, resource and HTTP semconv attributes', async () => {
  expect((await gw!.send({ path: '/limited/a?apikey=SECRET-IN-QUERY' })).status).toBe(200);
  expect((await gw!.send({ path: '/limited/b?apikey=SECRET-IN-QUERY' })).status).toBe(429);
  await waitFor(() => logRecords(receiver.requests).some((r) => r.attributes['url.path'] === '/limited/b'), 15_000);
  const request = receiver.requests.find((r) => r.path === '/v1/logs')!;
  expect([request.method, request.headers['content-type'], request.headers.authorization]).toEqual([
    'POST',
    'application/json',
    TOKEN,
  ]);
  const records = logRecords(receiver.requests);
  // Only the deny is shipped (decisions defaults to deny, monitor-deny, error); the allow is counted in metrics.
  expect(records.map((r) => r.attributes['url.path'])).toEqual(['/limited/b']);
  const { resource, scope, record, attributes } = records[0]!;
  expect(resource).toMatchObject({
    'service.name': 'bulwark-gateway-test',
    'deployment.environment.name': 'ci',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'opentelemetry',
  });
  expect(typeof resource['process.pid']).toBe('number');
  expect(scope.name).toBe('bulwark-audit');
  expect(record).toMatchObject({
    severityNumber: 13,
    severityText: 'WARN',
    eventName: 'bulwark.decision',
    body: { stringValue: 'bulwark-rate-limit deny: rate_limited' },
  });
  expect(Number(record.timeUnixNano) / 1e6).toBeGreaterThan(Date.now() - 60_000);
  expect(attributes).toMatchObject({
    'http.request.method': 'GET',
    'url.path': '/limited/b',
    'http.response.status_code': 429,
    'client.address': '127.0.0.1',
    'bulwark.plugin': 'bulwark-rate-limit',
    'bulwark.decision': 'deny',
    'bulwark.reason': 'rate_limited',
    'bulwark.mode': 'enforce',
    'bulwark.route': 'limited',
    'bulwark.service': 'api',
  });
  expect(attributes['bulwark.request_id']).toMatch(/^[0-9a-f]+$/);
  expect(JSON.stringify(receiver.requests)).not.toContain('SECRET-IN-QUERY');
}, 30_000);

test('POST /v1/metrics every interval: the decision counts of those two requests, bulwark-audit’s phase histogram, the sink’s sent count', async () => {
  const sinkLabel = `otlp:${receiver.endpoint}`;
  const r = await metricsExport((q) => {
    const m = metricsByName(q);
    return (pointValue(m.get('bulwark_audit_sink_sent'), { sink: sinkLabel }) ?? 0) >= 1;
  });
  expect([r.method, r.headers['content-type'], r.headers.authorization]).toEqual(['POST', 'application/json', TOKEN]);
  const m = metricsByName(r);
  const decisions = m.get('bulwark_decisions');
  expect(decisions?.sum).toMatchObject({ isMonotonic: true, aggregationTemporality: 2 }); // cumulative
  const rl = { plugin: 'bulwark-rate-limit', route: 'limited' };
  expect(pointValue(decisions, { ...rl, decision: 'allow', reason: 'allowed' })).toBe(1);
  expect(pointValue(decisions, { ...rl, decision: 'deny', reason: 'rate_limited' })).toBe(1);
  const phase = m.get('bulwark_phase_duration_seconds');
  expect(phase?.unit).toBe('s');
  const log = (phase?.histogram?.dataPoints as Record<string, unknown>[]).find((p) =>
    JSON.stringify(p.attributes).includes('"stringValue":"log"'),
  ) as { count: string | number; bucketCounts: (string | number)[]; explicitBounds: number[] } | undefined;
  expect(Number(log?.count)).toBeGreaterThanOrEqual(2);
  expect(log!.bucketCounts).toHaveLength(log!.explicitBounds.length + 1);
  expect(pointValue(m.get('bulwark_audit_sink_queue_depth'), { sink: sinkLabel })).toBeGreaterThanOrEqual(0);
  const resource = (r.body.resourceMetrics as { resource: { attributes: { key: string }[] } }[])[0]!.resource;
  expect(resource.attributes.map((a) => a.key)).toEqual(
    expect.arrayContaining(['service.name', 'telemetry.sdk.language', 'process.pid']),
  );
}, 30_000);

const SENT = 20;

/** bulwark_decisions{plugin="bulwark-rate-limit", decision="deny", route} in one export. */
const deniedOn = (q: OtlpRequest, route: string) =>
  pointValue(metricsByName(q).get('bulwark_decisions'), {
    plugin: 'bulwark-rate-limit',
    decision: 'deny',
    reason: 'rate_limited',
    route,
  });

test('receiver down: every request still answered; the sink keeps at most its bounds and counts the rest as dropped', async () => {
  for (let i = 0; i < SENT; i++) expect((await gw!.send({ path: `/down/${i}` })).status).toBe(429);
  const sinkLabel = `otlp:${downEndpoint}`;
  // An export taken after the 20 log phases (all counted), so every event is accounted for in it.
  const r = await metricsExport((q) => deniedOn(q, 'down') === SENT);
  const m = metricsByName(r);
  const dropped = (why: string) => pointValue(m.get('bulwark_audit_sink_dropped'), { sink: sinkLabel, why }) ?? 0;
  const depth = pointValue(m.get('bulwark_audit_sink_queue_depth'), { sink: sinkLabel })!;
  const sent = pointValue(m.get('bulwark_audit_sink_sent'), { sink: sinkLabel });
  expect(sent).toBe(0);
  expect(dropped('queue_full') + dropped('expired') + dropped('rejected') + depth).toBe(SENT);
  // At most 5 queued + one batch of 5 in flight; the rest refused and counted.
  expect(depth).toBeLessThanOrEqual(10);
  expect(dropped('queue_full')).toBeGreaterThanOrEqual(SENT - 10);
  // The working sink kept shipping meanwhile.
  expect((await gw!.send({ path: '/limited/after-down' })).status).toBe(429);
  await waitFor(
    () => logRecords(receiver.requests).some((x) => x.attributes['url.path'] === '/limited/after-down'),
    15_000,
  );
}, 60_000);

test('receiver that never answers: one batch held in flight, the queue stays bounded, the rest dropped and counted', async () => {
  for (let i = 0; i < SENT; i++) expect((await gw!.send({ path: `/slow/${i}` })).status).toBe(429);
  const sinkLabel = `otlp:${slow.endpoint}`;
  const r = await metricsExport((q) => deniedOn(q, 'slow') === SENT);
  const m = metricsByName(r);
  const dropped = pointValue(m.get('bulwark_audit_sink_dropped'), { sink: sinkLabel, why: 'queue_full' })!;
  const depth = pointValue(m.get('bulwark_audit_sink_queue_depth'), { sink: sinkLabel })!;
  expect(pointValue(m.get('bulwark_audit_sink_sent'), { sink: sinkLabel })).toBe(0);
  expect(dropped + depth).toBe(SENT);
  expect(depth).toBeLessThanOrEqual(10);
  expect(slow.requests.filter((q) => q.path === '/v1/logs')).toHaveLength(1); // held: no second batch meanwhile
}, 60_000);
