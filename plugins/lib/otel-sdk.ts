// The OpenTelemetry JS SDK packages Bulwark uses, loaded on first use (a process without an OTLP sink or OTLP
// metrics never loads them) and through Node's own module system.
//
// Why Node's own `require` (as lib/jose.ts does): the OTLP exporters load `http`/`https` with a dynamic
// `import()` (@opentelemetry/otlp-exporter-base http-exporter-transport.js). In the plugin server that is plain
// Node and works; under jest, modules run in jest's registry, where a dynamic import() fails without
// --experimental-vm-modules, and every export would fail. `process.getBuiltinModule('node:module')` (Node >= 20.16)
// gives Node's real require, outside jest's registry, so tests run the same SDK code as production.
import type * as Api from '@opentelemetry/api';
import type * as Core from '@opentelemetry/core';
import type * as LogsExporter from '@opentelemetry/exporter-logs-otlp-http';
import type * as MetricsExporter from '@opentelemetry/exporter-metrics-otlp-http';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkLogs from '@opentelemetry/sdk-logs';
import type * as SdkMetrics from '@opentelemetry/sdk-metrics';

export interface OtelSdk {
  api: typeof Api;
  core: typeof Core;
  resources: typeof Resources;
  sdkLogs: typeof SdkLogs;
  sdkMetrics: typeof SdkMetrics;
  logsExporter: typeof LogsExporter;
  metricsExporter: typeof MetricsExporter;
}

let loaded: OtelSdk | undefined;

export function otelSdk(): OtelSdk {
  if (loaded !== undefined) return loaded;
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const nodeRequire =
    typeof getBuiltin === 'function'
      ? (getBuiltin('node:module') as typeof import('node:module')).createRequire(__filename)
      : require;
  loaded = {
    api: nodeRequire('@opentelemetry/api') as typeof Api,
    core: nodeRequire('@opentelemetry/core') as typeof Core,
    resources: nodeRequire('@opentelemetry/resources') as typeof Resources,
    sdkLogs: nodeRequire('@opentelemetry/sdk-logs') as typeof SdkLogs,
    sdkMetrics: nodeRequire('@opentelemetry/sdk-metrics') as typeof SdkMetrics,
    logsExporter: nodeRequire('@opentelemetry/exporter-logs-otlp-http') as typeof LogsExporter,
    metricsExporter: nodeRequire('@opentelemetry/exporter-metrics-otlp-http') as typeof MetricsExporter,
  };
  return loaded;
}
