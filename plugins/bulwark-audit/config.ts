// bulwark-audit's config: the declared fields (schema.ts), with the trusted proxies parsed and the redaction names
// merged with the built-in credential locations once per instance.
import { readConfig } from '../lib/fields';
import { CidrList } from '../lib/ip';
import type { ClientIpSettings, ForwardedHeaderKind } from '../lib/client-ip';
import type { Decision } from '../lib/security-event';
import { compileRedaction, type CompiledRedaction } from './redaction';
import { abuseSettings, type ParsedAbuse } from './abuse/config';
import { ConfigFields } from './schema';
import type { EventFormat } from './mappings';
import type { ElasticsearchConfig, SplunkConfig } from './sinks/http';
import type { OtlpSinkConfig } from './sinks/otlp';
import type { SyslogConfig, SyslogProtocol } from './sinks/syslog';
import type { OtlpMetricsConfig } from '../lib/metrics-otlp';
import type { OtlpConnection } from '../lib/otlp';
import { ConfigError } from '../lib/config';

export interface FileSinkConfig {
  path: string;
  format: EventFormat;
}

export interface SinksConfig {
  file?: FileSinkConfig;
  splunk?: SplunkConfig;
  elasticsearch?: ElasticsearchConfig;
  syslog?: SyslogConfig;
  otlp?: OtlpSinkConfig;
}

export interface RedactionNames {
  /** lower-case */
  headers: string[];
  query: string[];
  cookies: string[];
}

export interface AuditConfig {
  decisions: ReadonlySet<Decision>;
  clientIp: ClientIpSettings;
  /** Operator-added names only; redaction.ts adds the built-in ones. */
  redact: RedactionNames;
  /** Built-in and operator names, compiled once per instance. */
  redaction: CompiledRedaction;
  sinks: SinksConfig;
  /** OTel metrics export of this process's registry; undefined: off. */
  metricsOtlp?: OtlpMetricsConfig;
  abuse: ParsedAbuse;
}

interface OtlpConnectionFields {
  endpoint: string;
  headers: Readonly<Record<string, string>>;
  timeout_ms: number;
  service_name: string;
  resource_attributes: Readonly<Record<string, string>>;
  tls_verify: boolean;
  ca_certificate?: string | undefined;
}

function otlpConnection(f: OtlpConnectionFields): OtlpConnection {
  return {
    endpoint: f.endpoint,
    headers: { ...f.headers },
    timeoutMs: f.timeout_ms,
    tlsVerify: f.tls_verify,
    serviceName: f.service_name,
    resourceAttributes: { ...f.resource_attributes },
    ...(f.ca_certificate ? { caCertificate: f.ca_certificate } : {}),
  };
}

export function parseAuditConfig(raw: unknown): AuditConfig {
  const conf = readConfig(ConfigFields, raw);
  const sinks: SinksConfig = {};
  const { file, splunk, elasticsearch: es, syslog, otlp } = conf.sinks;
  if (file) sinks.file = { path: file.path, format: file.format as EventFormat };
  if (splunk) {
    sinks.splunk = {
      url: splunk.url,
      token: splunk.token,
      sourcetype: splunk.sourcetype,
      source: splunk.source,
      tlsVerify: splunk.tls_verify,
      format: splunk.format as EventFormat,
      ...(splunk.index ? { index: splunk.index } : {}),
    };
  }
  if (es) {
    if (es.username !== undefined && es.username !== null && (es.password === undefined || es.password === null))
      throw new Error('sinks.elasticsearch.password: required with username');
    sinks.elasticsearch = {
      url: es.url,
      indexPrefix: es.index_prefix,
      tlsVerify: es.tls_verify,
      ...(es.username ? { username: es.username } : {}),
      ...(es.password ? { password: es.password } : {}),
      ...(es.api_key ? { apiKey: es.api_key } : {}),
    };
  }
  if (syslog) {
    sinks.syslog = {
      host: syslog.host,
      port: syslog.port,
      protocol: syslog.protocol as SyslogProtocol,
      facility: syslog.facility,
      appName: syslog.app_name,
      tlsVerify: syslog.tls_verify,
      format: syslog.format as EventFormat,
      ...(syslog.ca_certificate ? { caCertificate: syslog.ca_certificate } : {}),
    };
  }
  if (otlp) {
    if (otlp.batch_size > otlp.max_queue_events)
      throw new ConfigError('sinks.otlp.batch_size', 'must not exceed sinks.otlp.max_queue_events');
    sinks.otlp = {
      ...otlpConnection(otlp),
      maxQueueEvents: otlp.max_queue_events,
      batchSize: otlp.batch_size,
      flushIntervalMs: otlp.flush_interval_ms,
      maxAgeMs: otlp.max_age_seconds * 1000,
    };
  }
  const metricsOtlp = conf.metrics.otlp;
  const redact: RedactionNames = {
    headers: [...new Set(conf.redact.headers.map((n) => n.toLowerCase()))],
    query: [...new Set(conf.redact.query)],
    cookies: [...new Set(conf.redact.cookies)],
  };
  return {
    decisions: new Set(conf.decisions),
    clientIp: {
      trustedProxies: CidrList.parse(conf.trusted_proxies, 'trusted_proxies'),
      forwardedHeader: conf.forwarded_header as ForwardedHeaderKind,
    },
    redact,
    redaction: compileRedaction(redact),
    sinks,
    ...(metricsOtlp ? { metricsOtlp: { ...otlpConnection(metricsOtlp), intervalMs: metricsOtlp.interval_ms } } : {}),
    abuse: abuseSettings(conf.abuse),
  };
}
