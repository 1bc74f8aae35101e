// The sinks of this process. A sink is created once per distinct sink config and shared by every plugin instance
// (route, service, global) that configures it, so N instances with the same Splunk config share one queue and one
// connection pool. Queues live for the life of the process (bounded in number by the distinct configs).
import type { SecurityEvent } from '../../lib/security-event';
import type { SinksConfig } from '../config';
import { fileTransport } from './file';
import { elasticsearchTransport, splunkTransport } from './http';
import { otlpTransport } from './otlp';
import { syslogTransport } from './syslog';
import { BatchQueue, DEFAULT_QUEUE_OPTIONS, type QueueOptions, type Transport } from './queue';
import { droppedTotal, sinkStats } from './stats';

interface Sink {
  queue: BatchQueue<SecurityEvent>;
}

const sinks = new Map<string, Sink>();

function sinkFor(
  key: string,
  label: string,
  make: () => Transport<SecurityEvent>,
  options: QueueOptions = DEFAULT_QUEUE_OPTIONS,
): Sink {
  let sink = sinks.get(key);
  if (!sink) {
    sink = { queue: new BatchQueue(label, make(), options) };
    sinks.set(key, sink);
    startReporter();
  }
  return sink;
}

/** The sinks a config names (created on first use, then shared). */
export function sinksOf(config: SinksConfig): Sink[] {
  const out: Sink[] = [];
  if (config.file) {
    const { path, format } = config.file;
    out.push(sinkFor(`file:${path}:${format}`, `file:${path}`, () => fileTransport(path, format)));
  }
  // The key is the whole sink config (credentials included: two tokens are two sinks); the label never has them.
  const { splunk, elasticsearch, syslog, otlp } = config;
  if (splunk) {
    out.push(sinkFor(`splunk:${JSON.stringify(splunk)}`, `splunk:${splunk.url}`, () => splunkTransport(splunk)));
  }
  if (elasticsearch) {
    const label = `elasticsearch:${elasticsearch.url}`;
    out.push(sinkFor(`es:${JSON.stringify(elasticsearch)}`, label, () => elasticsearchTransport(elasticsearch)));
  }
  if (syslog) {
    const label = `syslog:${syslog.protocol}://${syslog.host}:${syslog.port}`;
    out.push(sinkFor(`syslog:${JSON.stringify(syslog)}`, label, () => syslogTransport(syslog)));
  }
  if (otlp) {
    const options: QueueOptions = {
      ...DEFAULT_QUEUE_OPTIONS,
      maxEvents: otlp.maxQueueEvents,
      batchSize: otlp.batchSize,
      flushIntervalMs: otlp.flushIntervalMs,
      maxAgeMs: otlp.maxAgeMs,
    };
    const url = new URL(otlp.endpoint);
    url.username = '';
    url.password = '';
    const label = `otlp:${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    out.push(sinkFor(`otlp:${JSON.stringify(otlp)}`, label, () => otlpTransport(otlp), options));
  }
  return out;
}

/** Queue the events on every configured sink; returns at once (delivery is in the background). */
export function shipEvents(config: SinksConfig, events: readonly SecurityEvent[]): void {
  for (const sink of sinksOf(config)) for (const e of events) sink.queue.push(e);
}

/** Wait until every sink has delivered or dropped what it holds (tests, benchmarks). */
export async function drainSinks(): Promise<void> {
  await Promise.all([...sinks.values()].map((s) => s.queue.idle()));
}

// ---- the periodic report: one log line per minute while any sink dropped events since the last line ----

const REPORT_INTERVAL_MS = 60_000;
let reporter: NodeJS.Timeout | undefined;
let lastDropped = new Map<string, number>();

/** The report line, or undefined when no sink dropped anything since the previous call. */
export function dropReport(): string | undefined {
  const now = new Map<string, number>();
  let changed = false;
  for (const s of sinkStats()) {
    const total = droppedTotal(s);
    now.set(s.sink, total);
    if (total !== (lastDropped.get(s.sink) ?? 0)) changed = true;
  }
  lastDropped = now;
  if (!changed) return undefined;
  return JSON.stringify({ plugin: 'bulwark-audit', event: 'sink_drops', sinks: sinkStats() });
}

function startReporter(): void {
  if (reporter) return;
  reporter = setInterval(() => {
    const line = dropReport();
    // The plugin server's stderr goes to Kong's error log (kong/pluginserver/log.ts).
    if (line !== undefined) process.stderr.write(`${line}\n`);
  }, REPORT_INTERVAL_MS);
  reporter.unref();
}
