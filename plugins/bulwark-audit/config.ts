// bulwark-audit's config: the declared fields (schema.ts), with the trusted proxies parsed and the redaction names
// merged with the built-in credential locations once per instance.
import { readConfig } from '../lib/fields';
import { CidrList } from '../lib/ip';
import type { ClientIpSettings, ForwardedHeaderKind } from '../lib/client-ip';
import type { Decision } from '../lib/security-event';
import { compileRedaction, type CompiledRedaction } from './redaction';
import { abuseSettings, type ParsedAbuse } from './abuse/config';
import { ConfigFields } from './schema';
import type { ElasticsearchConfig, SplunkConfig } from './sinks/http';
import type { SyslogConfig, SyslogProtocol } from './sinks/syslog';

export interface FileSinkConfig {
  path: string;
}

export interface SinksConfig {
  file?: FileSinkConfig;
  splunk?: SplunkConfig;
  elasticsearch?: ElasticsearchConfig;
  syslog?: SyslogConfig;
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
  abuse: ParsedAbuse;
}

export function parseAuditConfig(raw: unknown): AuditConfig {
  const conf = readConfig(ConfigFields, raw);
  const sinks: SinksConfig = {};
  const { file, splunk, elasticsearch: es, syslog } = conf.sinks;
  if (file) sinks.file = { path: file.path };
  if (splunk) {
    sinks.splunk = {
      url: splunk.url,
      token: splunk.token,
      sourcetype: splunk.sourcetype,
      source: splunk.source,
      tlsVerify: splunk.tls_verify,
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
      ...(syslog.ca_certificate ? { caCertificate: syslog.ca_certificate } : {}),
    };
  }
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
    abuse: abuseSettings(conf.abuse),
  };
}
