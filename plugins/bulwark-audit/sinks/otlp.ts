// OTLP/HTTP log sink through the OpenTelemetry JS SDK. The SDK builds the log records (@opentelemetry/sdk-logs
// LoggerProvider: resource, instrumentation scope, attribute limits) and encodes and sends them
// (@opentelemetry/exporter-logs-otlp-http: OTLP/JSON, POST <endpoint>/v1/logs). The SDK's own
// BatchLogRecordProcessor is NOT used: its queue drops silently when full, has no maximum age and no retry of its
// own, which is not the sink contract. The exporter sits under the same BatchQueue as every other sink (bounded
// queue, batching, retry with backoff and full jitter, maximum age, counted drops): the queue holds
// SecurityEvents, and each batch it delivers is turned into SDK log records and handed to the exporter in one
// export call. The records are built off the request path, in the queue's delivery.
//
// One export call = one queue attempt. Inside it the SDK exporter retries 429/502/503/504 and connection errors
// itself (1 s, ×1.5, ±20 % jitter, 5 times at most) but never past timeout_ms; when it gives up, the queue retries
// the batch with its own backoff. A 4xx other than 408/429 drops the batch (counted as rejected).
import type { ExportResult } from '@opentelemetry/core';
import type { LogRecordProcessor, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { otelSdk } from '../../lib/otel-sdk';
import type { SecurityEvent } from '../../lib/security-event';
import { exporterOptions, otlpResource, type OtlpConnection } from '../../lib/otlp';
import { version as PACKAGE_VERSION } from '../../../package.json';
import { toOtelLogRecord } from '../mappings';
import { PermanentSinkError, type Transport } from './queue';

export interface OtlpSinkConfig extends OtlpConnection {
  maxQueueEvents: number;
  batchSize: number;
  flushIntervalMs: number;
  maxAgeMs: number;
}

/** Hands each record the Logger emits to whoever is building a batch (synchronous: Logger.emit calls onEmit). */
class HandOff implements LogRecordProcessor {
  target: ReadableLogRecord[] | undefined;
  onEmit(record: ReadableLogRecord): void {
    this.target?.push(record);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Retry unless the receiver refused the batch for good (a 4xx other than 408 and 429). */
function failure(result: ExportResult): Error {
  const err = result.error;
  const code = (err as { code?: unknown } | undefined)?.code;
  const detail = `otlp: ${err?.message ?? 'export failed'}${typeof code === 'number' ? ` (HTTP ${code})` : ''}`;
  if (typeof code === 'number' && code >= 400 && code < 500 && code !== 408 && code !== 429)
    return new PermanentSinkError(detail);
  return new Error(detail);
}

export function otlpTransport(conf: OtlpSinkConfig): Transport<SecurityEvent> {
  const { sdkLogs, logsExporter, core } = otelSdk();
  const { LoggerProvider } = sdkLogs;
  const { OTLPLogExporter } = logsExporter;
  const SUCCESS = core.ExportResultCode.SUCCESS;
  const handOff = new HandOff();
  const provider = new LoggerProvider({ resource: otlpResource(conf), processors: [handOff] });
  const logger = provider.getLogger('bulwark-audit', PACKAGE_VERSION);
  const exporter = new OTLPLogExporter(exporterOptions(conf, 'logs'));
  return {
    send(batch) {
      const records: ReadableLogRecord[] = [];
      handOff.target = records;
      try {
        for (const e of batch) {
          const r = toOtelLogRecord(e);
          logger.emit({
            eventName: 'bulwark.decision',
            timestamp: r.timestamp,
            severityNumber: r.severityNumber,
            severityText: r.severityText,
            body: r.body,
            attributes: r.attributes,
          });
        }
      } finally {
        handOff.target = undefined;
      }
      return new Promise<void>((resolve, reject) =>
        exporter.export(records, (result) => (result.code === SUCCESS ? resolve() : reject(failure(result)))),
      );
    },
    async close() {
      await exporter.shutdown();
      await provider.shutdown();
    },
  };
}
