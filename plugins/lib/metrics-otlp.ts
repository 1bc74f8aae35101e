// Bulwark's metrics over OTLP/HTTP through the OpenTelemetry JS SDK. One place records (the prom-client registry
// of lib/metrics.ts: countDecision, observePhase, the sink and Redis collect callbacks); two exporters read it:
// the Prometheus text endpoint (--metrics-listen) and this one. Nothing is counted twice: a MetricProducer (the
// SDK's extension point for bridging another metrics source) turns the registry's current values into SDK metric
// data at each collection, and the SDK's PeriodicExportingMetricReader + OTLPMetricExporter
// (@opentelemetry/exporter-metrics-otlp-http: OTLP/JSON, POST <endpoint>/v1/metrics) export them.
//
// Mapping: a Prometheus counter is a cumulative monotonic Sum named without `_total` (OTel's convention; a
// Prometheus exporter adds it back), a gauge a Gauge, a histogram a cumulative explicit-bucket Histogram (the same
// bounds); labels become attributes. Every point's start time is the process start: prom-client's values are
// totals since then. An export that fails is not retried by the reader: the next one carries the totals.
//
// Started by the first bulwark-audit log phase whose config has `metrics.otlp` (one exporter per distinct
// config, shared by every instance with it); an exporter whose config no log phase has used for IDLE_STOP_MS
// exports once more and stops, so a config removed from Kong stops exporting.
import type { Attributes } from '@opentelemetry/api';
import type { CollectionResult, MeterProvider, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { version as PACKAGE_VERSION } from '../../package.json';
import { bulwarkMetrics } from './metrics';
import { otelSdk } from './otel-sdk';
import { exporterOptions, otlpResource, type OtlpConnection } from './otlp';

export interface OtlpMetricsConfig extends OtlpConnection {
  intervalMs: number;
}

const IDLE_STOP_MS = 15 * 60_000;
const PROCESS_START_MS = performance.timeOrigin;

/** One entry of prom-client's `registry.getMetricsAsJSON()`. */
export interface PromMetric {
  name: string;
  help: string;
  type: unknown;
  values: { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[];
}

const attributesOf = (labels: Record<string, string | number | undefined>, skip?: string): Attributes => {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(labels)) if (k !== skip && v !== undefined) out[k] = String(v);
  return out;
};

/** One prom-client metric (getMetricsAsJSON) as SDK metric data; undefined for a type Bulwark does not use. */
export function toMetricData(m: PromMetric, nowMs: number): MetricData | undefined {
  const { core, api, sdkMetrics } = otelSdk();
  const { millisToHrTime } = core;
  const { ValueType } = api;
  const { AggregationTemporality, DataPointType } = sdkMetrics;
  const startTime = millisToHrTime(PROCESS_START_MS);
  const endTime = millisToHrTime(nowMs);
  const unit = m.name.endsWith('_seconds') ? 's' : '1';
  // prom-client's d.ts types `type` as a numeric enum; at run time it is the string ('counter', ...).
  const type = String(m.type);
  const descriptor = (name: string) => ({ name, description: m.help, unit, valueType: ValueType.DOUBLE });
  if (type === 'counter') {
    return {
      descriptor: descriptor(m.name.replace(/_total$/, '')),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: m.values.map((v) => ({ startTime, endTime, attributes: attributesOf(v.labels), value: v.value })),
    };
  }
  if (type === 'gauge') {
    return {
      descriptor: descriptor(m.name),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: m.values.map((v) => ({ startTime, endTime, attributes: attributesOf(v.labels), value: v.value })),
    };
  }
  if (type === 'histogram') {
    // prom-client lists, per label set, cumulative `_bucket` counts (le), then `_sum` and `_count`.
    const series = new Map<string, { attributes: Attributes; le: [number, number][]; sum: number; count: number }>();
    for (const v of m.values) {
      const attributes = attributesOf(v.labels, 'le');
      const key = JSON.stringify(attributes);
      let s = series.get(key);
      if (!s) series.set(key, (s = { attributes, le: [], sum: 0, count: 0 }));
      if (v.metricName?.endsWith('_bucket')) {
        const le = v.labels.le;
        s.le.push([le === '+Inf' ? Infinity : Number(le), v.value]);
      } else if (v.metricName?.endsWith('_sum')) s.sum = v.value;
      else if (v.metricName?.endsWith('_count')) s.count = v.value;
    }
    return {
      descriptor: descriptor(m.name),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [...series.values()].map((s) => {
        s.le.sort((a, b) => a[0] - b[0]);
        const boundaries = s.le.filter(([le]) => le !== Infinity).map(([le]) => le);
        const counts: number[] = [];
        let previous = 0;
        for (const [le, cumulative] of s.le) {
          counts.push(cumulative - previous);
          previous = cumulative;
          if (le === Infinity) break;
        }
        if (counts.length === boundaries.length) counts.push(s.count - previous); // no +Inf bucket listed
        return {
          startTime,
          endTime,
          attributes: s.attributes,
          value: { buckets: { boundaries, counts }, sum: s.sum, count: s.count },
        };
      }),
    };
  }
  return undefined;
}

/** The SDK MetricProducer that reads Bulwark's registry (its collect callbacks run, as for a scrape). */
export const registryProducer: MetricProducer = {
  async collect(): Promise<CollectionResult> {
    const metrics = (await bulwarkMetrics().registry.getMetricsAsJSON()) as unknown as PromMetric[];
    const now = Date.now();
    const data = metrics.map((m) => toMetricData(m, now)).filter((d): d is MetricData => d !== undefined);
    return {
      // The reader takes the resource of its MeterProvider; this one is not used.
      resourceMetrics: {
        resource: otelSdk().resources.emptyResource(),
        scopeMetrics: [{ scope: { name: 'bulwark', version: PACKAGE_VERSION }, metrics: data }],
      },
      errors: [],
    };
  },
};

interface Running {
  provider: MeterProvider;
  lastUsed: number;
  idleTimer: NodeJS.Timeout;
}

const running = new Map<string, Running>();
/** Each parsed config's key, computed once: the config object lives as long as its plugin instance, and this runs
 * in every log phase. Instances with equal configs share one exporter through the key. */
const keyOfConfig = new WeakMap<OtlpMetricsConfig, string>();

/** Starts (once per distinct config) or keeps alive the OTLP export of Bulwark's metrics. Cheap: two Map lookups. */
export function ensureOtlpMetrics(conf: OtlpMetricsConfig, now = Date.now()): void {
  let key = keyOfConfig.get(conf);
  if (key === undefined) {
    key = JSON.stringify(conf);
    keyOfConfig.set(conf, key);
  }
  const current = running.get(key);
  if (current) {
    current.lastUsed = now;
    return;
  }
  const { sdkMetrics, metricsExporter } = otelSdk();
  const { MeterProvider, PeriodicExportingMetricReader } = sdkMetrics;
  const { OTLPMetricExporter } = metricsExporter;
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter(exporterOptions(conf, 'metrics')),
    exportIntervalMillis: conf.intervalMs,
    exportTimeoutMillis: Math.min(conf.timeoutMs, conf.intervalMs),
    metricProducers: [registryProducer],
  });
  const provider = new MeterProvider({ resource: otlpResource(conf), readers: [reader] });
  const idleTimer = setInterval(() => {
    const entry = running.get(key);
    if (entry && Date.now() - entry.lastUsed > IDLE_STOP_MS) {
      running.delete(key);
      clearInterval(entry.idleTimer);
      void entry.provider.shutdown().catch(() => undefined);
    }
  }, 60_000);
  idleTimer.unref();
  running.set(key, { provider, lastUsed: now, idleTimer });
}

/** How many OTLP metrics exporters run in this process (tests). */
export function runningOtlpMetrics(): number {
  return running.size;
}

/** Exports now on every running OTLP metrics exporter (tests, shutdown). */
export async function flushOtlpMetrics(): Promise<void> {
  await Promise.all([...running.values()].map((r) => r.provider.forceFlush()));
}
