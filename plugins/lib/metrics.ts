// Bulwark's Prometheus metrics: ONE registry per process, shared by every plugin and by the plugin server that
// exposes it (kong/pluginserver/metrics-listener.ts, opt-in). Keeping every metric here is deliberate: when the
// plugin server runs plugins in several worker threads, aggregation across workers is added in this one module.
//
// Library: npm prom-client (the Prometheus client most Node services use; text exposition format 0.0.4,
// counters/gauges/histograms with label sets, collect callbacks). The registry is a private `Registry`, not
// prom-client's global default, so a plugin's other dependencies cannot register into Bulwark's output; it is kept
// on globalThis under a Symbol.for key so that two copies of this module in one process (two install paths)
// still share it.
//
// Cardinality is bounded: plugin and decision are small closed sets, reason codes are each plugin's documented
// enum, and route names are operator config, but a misbehaving plugin or thousands of routes must not grow the
// exposition without bound: `bulwark_decisions_total` keeps at most MAX_DECISION_SERIES label sets; further ones
// are counted under reason="_overflow", route="_overflow" (plugin and decision kept), and
// `bulwark_metrics_overflow_total` says how often. Label values are cut to MAX_LABEL_LENGTH characters.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sharedRedisRegistry } from './redis';

export const MAX_DECISION_SERIES = 1000;
export const MAX_LABEL_LENGTH = 128;
export const OVERFLOW = '_overflow';

/** Seconds: Bulwark's own work per phase is mostly RPC round trips to Kong (≈ 0.1 ms each) and crypto. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export interface BulwarkMetrics {
  readonly registry: Registry;
  readonly decisions: Counter<'plugin' | 'decision' | 'reason' | 'route'>;
  readonly overflow: Counter<'metric'>;
  readonly phaseSeconds: Histogram<'plugin' | 'phase'>;
  readonly sinkQueueDepth: Gauge<'sink'>;
  readonly sinkDropped: Counter<'sink' | 'why'>;
  readonly sinkSent: Counter<'sink'>;
  readonly redisUp: Gauge<'target'>;
  readonly jwksRefreshes: Counter<'result'>;
  readonly abuseTrips: Counter<'detector' | 'action'>;
  readonly abuseBans: Counter<'detector'>;
  readonly abuseBlocked: Counter<'detector'>;
  /** Label sets of `decisions` seen so far (the cardinality cap). */
  readonly decisionSeries: Set<string>;
}

const GLOBAL_KEY = Symbol.for('bulwark.metrics.v1');

/** What a bulwark-audit sink reports (plugins/bulwark-audit/sinks/stats.ts SinkStats, plain numbers). */
export interface SinkCounters {
  sink: string;
  sent: number;
  dropped_queue_full: number;
  dropped_expired: number;
  dropped_rejected: number;
  queue_depth: number;
}

let sinkSource: () => readonly SinkCounters[] = () => [];

/** bulwark-audit hands over its sink counters; they are read at each scrape (collect). */
export function setSinkCountersSource(source: () => readonly SinkCounters[]): void {
  sinkSource = source;
}

function create(): BulwarkMetrics {
  const registry = new Registry();
  const redisUp = new Gauge({
    name: 'bulwark_redis_up',
    help: 'Whether each Redis connection Bulwark plugins hold is ready (1) or down/reconnecting (0); target: mode and addresses, never a secret.',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of sharedRedisRegistry.connections()) this.set({ target: c.target }, c.ready ? 1 : 0);
    },
  });
  return {
    registry,
    decisions: new Counter({
      name: 'bulwark_decisions_total',
      help: 'Decisions of Bulwark plugins (from bulwark-audit security events): plugin, decision (allow, deny, monitor-deny, error), reason code, route name.',
      labelNames: ['plugin', 'decision', 'reason', 'route'],
      registers: [registry],
    }),
    overflow: new Counter({
      name: 'bulwark_metrics_overflow_total',
      help: 'Samples counted under the "_overflow" label set because a metric reached its cap of distinct label sets.',
      labelNames: ['metric'],
      registers: [registry],
    }),
    phaseSeconds: new Histogram({
      name: 'bulwark_phase_duration_seconds',
      help: "Wall time of each Bulwark plugin's phase handler (its own work and its PDK round trips to Kong), per plugin and phase.",
      labelNames: ['plugin', 'phase'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    sinkQueueDepth: new Gauge({
      name: 'bulwark_audit_sink_queue_depth',
      help: 'Security events waiting in each bulwark-audit sink queue.',
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sinkSource()) this.set({ sink: s.sink }, s.queue_depth);
      },
    }),
    // The sinks keep monotonic totals themselves: each scrape copies them (reset + inc by the total).
    sinkDropped: new Counter({
      name: 'bulwark_audit_sink_dropped_total',
      help: 'Security events a bulwark-audit sink dropped: why = queue_full, expired (older than the maximum age), rejected (refused for good by the receiver).',
      labelNames: ['sink', 'why'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sinkSource()) {
          this.inc({ sink: s.sink, why: 'queue_full' }, s.dropped_queue_full);
          this.inc({ sink: s.sink, why: 'expired' }, s.dropped_expired);
          this.inc({ sink: s.sink, why: 'rejected' }, s.dropped_rejected);
        }
      },
    }),
    sinkSent: new Counter({
      name: 'bulwark_audit_sink_sent_total',
      help: 'Security events a bulwark-audit sink delivered.',
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sinkSource()) this.inc({ sink: s.sink }, s.sent);
      },
    }),
    redisUp,
    jwksRefreshes: new Counter({
      name: 'bulwark_jwks_refreshes_total',
      help: 'JWKS fetches by bulwark-jwt (discovery included), by result (ok, error).',
      labelNames: ['result'],
      registers: [registry],
    }),
    abuseTrips: new Counter({
      name: 'bulwark_abuse_trips_total',
      help: 'bulwark-audit abuse detector trips, per detector and action (monitor, block).',
      labelNames: ['detector', 'action'],
      registers: [registry],
    }),
    abuseBans: new Counter({
      name: 'bulwark_abuse_bans_total',
      help: 'Client IPs banned by bulwark-audit abuse detection, per detector.',
      labelNames: ['detector'],
      registers: [registry],
    }),
    abuseBlocked: new Counter({
      name: 'bulwark_abuse_blocked_requests_total',
      help: 'Requests refused by bulwark-audit because their client IP is banned, per detector that banned it.',
      labelNames: ['detector'],
      registers: [registry],
    }),
    decisionSeries: new Set(),
  };
}

/** The process's metrics (created on first use). */
export function bulwarkMetrics(): BulwarkMetrics {
  const holder = globalThis as unknown as Record<symbol, BulwarkMetrics | undefined>;
  return (holder[GLOBAL_KEY] ??= create());
}

const label = (value: string | undefined): string => {
  const v = value ?? '';
  return v.length > MAX_LABEL_LENGTH ? v.slice(0, MAX_LABEL_LENGTH) : v;
};

/** Counts one decision; past MAX_DECISION_SERIES label sets, under the overflow set. */
export function countDecision(d: { plugin: string; decision: string; reason: string; route?: string }): void {
  const m = bulwarkMetrics();
  const labels = {
    plugin: label(d.plugin),
    decision: label(d.decision),
    reason: label(d.reason),
    route: label(d.route),
  };
  const key = `${labels.plugin}\u0000${labels.decision}\u0000${labels.reason}\u0000${labels.route}`;
  if (!m.decisionSeries.has(key)) {
    if (m.decisionSeries.size >= MAX_DECISION_SERIES) {
      m.overflow.inc({ metric: 'bulwark_decisions_total' });
      m.decisions.inc({ plugin: labels.plugin, decision: labels.decision, reason: OVERFLOW, route: OVERFLOW });
      return;
    }
    m.decisionSeries.add(key);
  }
  m.decisions.inc(labels);
}

/** Observes one phase handler's wall time. */
export function observePhase(plugin: string, phase: string, seconds: number): void {
  bulwarkMetrics().phaseSeconds.observe({ plugin, phase }, seconds);
}

export function countJwksRefresh(result: 'ok' | 'error'): void {
  bulwarkMetrics().jwksRefreshes.inc({ result });
}

/** The exposition text and its content type (Prometheus text format 0.0.4). */
export async function metricsExposition(): Promise<{ contentType: string; body: string }> {
  const { registry } = bulwarkMetrics();
  return { contentType: registry.contentType, body: await registry.metrics() };
}
