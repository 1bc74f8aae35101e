// What the OTLP/HTTP exporters of the OpenTelemetry JS SDK share in Bulwark: the connection settings (endpoint,
// headers, timeout, TLS) and the resource every record and metric point carries. The SDK packages
// (@opentelemetry/exporter-*-otlp-http) do the OTLP encoding (OTLP/JSON) and the HTTP transport; nothing here
// writes OTLP by hand.
import * as os from 'node:os';
import type { AgentOptions } from 'node:https';
import type { Resource } from '@opentelemetry/resources';
import { version as PACKAGE_VERSION } from '../../package.json';
import { otelSdk } from './otel-sdk';

export interface OtlpConnection {
  /** Base URL (OTEL_EXPORTER_OTLP_ENDPOINT semantics): the signal path (/v1/logs, /v1/metrics) is appended. */
  endpoint: string;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  tlsVerify: boolean;
  caCertificate?: string;
  serviceName: string;
  resourceAttributes: Readonly<Record<string, string>>;
}

/** `<endpoint>/v1/logs` or `<endpoint>/v1/metrics` (the OTLP/HTTP default paths). */
export function signalUrl(endpoint: string, signal: 'logs' | 'metrics'): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/${signal}`;
}

/** The SDK's default resource (telemetry.sdk.*), then Bulwark's (service.*, host.name, process.pid), then the operator's. */
export function otlpResource(conn: OtlpConnection): Resource {
  const { defaultResource, resourceFromAttributes } = otelSdk().resources;
  return defaultResource().merge(
    resourceFromAttributes({
      'service.name': conn.serviceName,
      'service.version': PACKAGE_VERSION,
      'host.name': os.hostname(),
      'process.pid': process.pid,
      ...conn.resourceAttributes,
    }),
  );
}

/** The exporter options both signals take (the SDK's OTLPExporterNodeConfigBase). */
export function exporterOptions(conn: OtlpConnection, signal: 'logs' | 'metrics') {
  const url = signalUrl(conn.endpoint, signal);
  const agent: AgentOptions = { keepAlive: true };
  if (url.startsWith('https:')) {
    agent.rejectUnauthorized = conn.tlsVerify;
    if (conn.caCertificate !== undefined) agent.ca = conn.caCertificate;
  }
  return {
    url,
    headers: { ...conn.headers },
    timeoutMillis: conn.timeoutMs,
    // One export at a time per exporter: the queue in front never has more than one batch in flight.
    concurrencyLimit: 2,
    httpAgentOptions: agent,
  };
}

/** Headers the exporter sets itself (content type, framing); an operator's value for them is refused. */
export const RESERVED_OTLP_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'host',
  'connection',
]);
