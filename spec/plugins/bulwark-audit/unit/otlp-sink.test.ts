// The OTLP/HTTP log sink (the OpenTelemetry JS SDK's exporter under Bulwark's BatchQueue) and the metric
// producer that reads Bulwark's Prometheus registry, against a local receiver that decodes the OTLP/JSON the SDK
// sends (no mock of the SDK; no real OpenTelemetry Collector runs in CI).
import { BatchQueue, DEFAULT_QUEUE_OPTIONS } from '../../../../plugins/bulwark-audit/sinks/queue';
import { otlpTransport, type OtlpSinkConfig } from '../../../../plugins/bulwark-audit/sinks/otlp';
import { countDecision, observePhase } from '../../../../plugins/lib/metrics';
import {
  ensureOtlpMetrics,
  flushOtlpMetrics,
  runningOtlpMetrics,
  toMetricData,
} from '../../../../plugins/lib/metrics-otlp';
import type { SecurityEvent } from '../../../../plugins/lib/security-event';
import {
  logRecords,
  metricsByName,
  pointValue,
  startOtlpReceiver,
  type OtlpReceiver,
} from '../../../helpers/otlp-receiver';

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.close());
beforeEach(() => {
  receiver.requests.length = 0;
  receiver.answer = () => 200;
});

const event = (reason: string): SecurityEvent => ({
  timestamp: '2026-01-02T03:04:05.678Z',
  request_id: `req-${reason}`,
  plugin: 'bulwark-jwt',
  decision: 'deny',
  reason,
  status: 401,
  mode: 'enforce',
  route: { name: 'orders' },
  client_ip: '203.0.113.7',
  http: { method: 'GET', host: 'api.example.com', path: '/orders' },
});

const sinkConfig = (over: Partial<OtlpSinkConfig> = {}): OtlpSinkConfig => ({
  endpoint: `${receiver.endpoint}/`,
  headers: { 'x-api-key': 'otlp-secret-1' },
  timeoutMs: 2000,
  tlsVerify: true,
  serviceName: 'bulwark-test',
  resourceAttributes: { 'deployment.environment.name': 'ci' },
  maxQueueEvents: 100,
  batchSize: 10,
  flushIntervalMs: 5,
  maxAgeMs: 60_000,
  ...over,
});

const fast = { ...DEFAULT_QUEUE_OPTIONS, flushIntervalMs: 5, backoffBaseMs: 5, backoffMaxMs: 20 };

test('POST /v1/logs, application/json, the configured header; resource, scope and one HTTP-semconv log record per event', async () => {
  const q = new BatchQueue('otlp-unit-1', otlpTransport(sinkConfig()), fast);
  q.push(event('token_expired'));
  q.push(event('token_missing'));
  await q.idle();
  expect(receiver.requests).toHaveLength(1);
  const r = receiver.requests[0]!;
  expect([r.method, r.path, r.headers['content-type'], r.headers['x-api-key']]).toEqual([
    'POST',
    '/v1/logs',
    'application/json',
    'otlp-secret-1',
  ]);
  const records = logRecords(receiver.requests);
  expect(records).toHaveLength(2);
  expect(records[0]!.resource).toMatchObject({
    'service.name': 'bulwark-test',
    'deployment.environment.name': 'ci',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'opentelemetry',
    'process.pid': process.pid,
  });
  expect(records[0]!.scope).toMatchObject({ name: 'bulwark-audit' });
  expect(records[0]!.record).toMatchObject({
    timeUnixNano: String(Date.parse('2026-01-02T03:04:05.678Z') * 1e6),
    severityNumber: 13,
    severityText: 'WARN',
    eventName: 'bulwark.decision',
    body: { stringValue: 'bulwark-jwt deny: token_expired' },
  });
  expect(records[0]!.attributes).toMatchObject({
    'http.request.method': 'GET',
    'url.path': '/orders',
    'server.address': 'api.example.com',
    'http.response.status_code': 401,
    'client.address': '203.0.113.7',
    'bulwark.plugin': 'bulwark-jwt',
    'bulwark.decision': 'deny',
    'bulwark.reason': 'token_expired',
    'bulwark.route': 'orders',
    'bulwark.request_id': 'req-token_expired',
  });
  expect(q.stats).toMatchObject({ sent: 2, send_failures: 0 });
});

test('a 400 drops the batch as rejected (retrying cannot help); a 500 is retried by the queue until it passes', async () => {
  receiver.answer = () => 400;
  const refused = new BatchQueue('otlp-unit-2', otlpTransport(sinkConfig()), fast);
  refused.push(event('a'));
  await refused.idle();
  expect(refused.stats).toMatchObject({ sent: 0, dropped_rejected: 1, queue_depth: 0 });

  let calls = 0;
  receiver.answer = () => (++calls <= 1 ? 500 : 200);
  const retried = new BatchQueue('otlp-unit-3', otlpTransport(sinkConfig()), fast);
  retried.push(event('b'));
  await retried.idle();
  expect(retried.stats).toMatchObject({ sent: 1, send_failures: 1, dropped_rejected: 0 });
  expect(logRecords(receiver.requests).map((r) => r.attributes['bulwark.reason'])).toEqual(['a', 'b', 'b']);
});

test('receiver down: the queue stays bounded, refuses the rest (counted), and expired events are counted', async () => {
  const down = sinkConfig({ endpoint: 'http://127.0.0.1:1', timeoutMs: 200 });
  const q = new BatchQueue('otlp-unit-4', otlpTransport(down), { ...fast, maxEvents: 5, batchSize: 5, maxAgeMs: 50 });
  for (let i = 0; i < 20; i++) q.push(event(`e${i}`));
  expect(q.depth).toBe(5);
  expect(q.stats.dropped_queue_full).toBe(15);
  await q.idle();
  expect(q.stats).toMatchObject({ sent: 0, dropped_expired: 5, queue_depth: 0 });
  expect(q.stats.send_failures).toBeGreaterThanOrEqual(1);
});

test('the metric producer turns the registry into OTel data: counter → monotonic Sum without _total, histogram buckets de-cumulated', () => {
  const counter = toMetricData(
    {
      name: 'x_total',
      help: 'h',
      type: 'counter',
      values: [{ value: 3, labels: { plugin: 'p' } }],
    },
    Date.now(),
  );
  expect(counter).toMatchObject({ descriptor: { name: 'x' }, isMonotonic: true, dataPoints: [{ value: 3 }] });
  const histogram = toMetricData(
    {
      name: 'd_seconds',
      help: 'h',
      type: 'histogram',
      values: [
        { metricName: 'd_seconds_bucket', value: 1, labels: { le: 0.1, plugin: 'p' } },
        { metricName: 'd_seconds_bucket', value: 3, labels: { le: 1, plugin: 'p' } },
        { metricName: 'd_seconds_bucket', value: 4, labels: { le: '+Inf', plugin: 'p' } },
        { metricName: 'd_seconds_sum', value: 2.5, labels: { plugin: 'p' } },
        { metricName: 'd_seconds_count', value: 4, labels: { plugin: 'p' } },
      ],
    },
    Date.now(),
  );
  expect(histogram).toMatchObject({
    descriptor: { name: 'd_seconds', unit: 's' },
    dataPoints: [
      {
        attributes: { plugin: 'p' },
        value: { buckets: { boundaries: [0.1, 1], counts: [1, 2, 1] }, sum: 2.5, count: 4 },
      },
    ],
  });
});

test('POST /v1/metrics: the registry’s decision counter and phase histogram as OTLP points, resource attributes', async () => {
  countDecision({ plugin: 'bulwark-otlp-unit', decision: 'deny', reason: 'token_expired', route: 'orders' });
  countDecision({ plugin: 'bulwark-otlp-unit', decision: 'deny', reason: 'token_expired', route: 'orders' });
  observePhase('bulwark-otlp-unit', 'access', 0.002);
  ensureOtlpMetrics({
    endpoint: receiver.endpoint,
    headers: { authorization: 'Bearer m-1' },
    timeoutMs: 2000,
    tlsVerify: true,
    serviceName: 'bulwark-test',
    resourceAttributes: {},
    intervalMs: 3_600_000,
  });
  await flushOtlpMetrics();
  const r = receiver.requests.find((q) => q.path === '/v1/metrics')!;
  expect([r.method, r.headers['content-type'], r.headers.authorization]).toEqual([
    'POST',
    'application/json',
    'Bearer m-1',
  ]);
  const metrics = metricsByName(r);
  const decisions = metrics.get('bulwark_decisions');
  expect(decisions?.sum).toMatchObject({ isMonotonic: true, aggregationTemporality: 2 });
  expect(
    pointValue(decisions, { plugin: 'bulwark-otlp-unit', decision: 'deny', reason: 'token_expired', route: 'orders' }),
  ).toBe(2);
  const phase = metrics.get('bulwark_phase_duration_seconds');
  expect(phase?.unit).toBe('s');
  const point = (phase?.histogram?.dataPoints as Record<string, unknown>[]).find((p) =>
    JSON.stringify(p.attributes).includes('bulwark-otlp-unit'),
  );
  expect(point).toMatchObject({ count: 1, sum: 0.002 });
  const resource = (r.body.resourceMetrics as { resource: { attributes: { key: string }[] } }[])[0]!.resource;
  expect(resource.attributes.map((a) => a.key)).toEqual(
    expect.arrayContaining(['service.name', 'telemetry.sdk.language']),
  );
});

test('one exporter per distinct metrics.otlp config; one that no log phase used for 15 minutes exports once more and stops', async () => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  try {
    const conf = {
      endpoint: receiver.endpoint,
      headers: {},
      timeoutMs: 2000,
      tlsVerify: true,
      serviceName: 'bulwark-idle-test',
      resourceAttributes: {},
      intervalMs: 3_600_000,
    };
    const before = runningOtlpMetrics();
    ensureOtlpMetrics(conf);
    ensureOtlpMetrics({ ...conf }); // equal config: the same exporter
    expect(runningOtlpMetrics()).toBe(before + 1);
    jest.advanceTimersByTime(10 * 60_000);
    ensureOtlpMetrics(conf); // used again: the 15 minutes start over
    jest.advanceTimersByTime(10 * 60_000);
    expect(runningOtlpMetrics()).toBe(before + 1);
    receiver.requests.length = 0;
    jest.advanceTimersByTime(6 * 60_000);
    expect(runningOtlpMetrics()).toBe(before);
  } finally {
    jest.useRealTimers();
  }
  // The shutdown's last export (the SDK's timers are Node's own: its modules load outside jest's registry).
  await waitForRequest(() => receiver.requests.some((r) => r.path === '/v1/metrics'));
});

async function waitForRequest(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}
