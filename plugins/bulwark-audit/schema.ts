// bulwark-audit's config fields, declared once (lib/fields.ts): the Kong schema the plugin server dumps, the parsed
// type and its reader, and the README table all come from here. Each concern declares its fields in its own block
// (events, redaction, sinks; bans and metrics add theirs the same way) so that they can change independently.
import { boolean, configFields, integer, kongSchema, map, record, set, string } from '../lib/fields';
import { RESERVED_OTLP_HEADERS } from '../lib/otlp';
import { forwardedHeader, headerName, pemCertificate, port, secret, trustedProxies } from '../lib/typedefs';
import { DECISIONS } from '../lib/security-event';
import { AbuseField } from './abuse/schema';
import { EVENT_FORMATS } from './mappings';

/** Which events are shipped, and how the client address is resolved for them. */
export const EventFields = {
  decisions: set(string({ one_of: DECISIONS }), {
    len_min: 1,
    default: ['deny', 'monitor-deny', 'error'],
    description:
      'Decisions shipped as events. `allow` adds one event per passing Bulwark plugin and request: size your sinks for it.',
  }),
  trusted_proxies: trustedProxies(
    'Proxies in front of Kong whose forwarding header gives the client address reported in events (`client_ip`).',
  ),
  forwarded_header: forwardedHeader('The header those proxies write the client address to.'),
} as const;

/** Names redacted in Bulwark's events and in what Kong's own log plugins serialize, beyond the built-in list. */
export const RedactionFields = {
  redact: record(
    {
      headers: set(headerName(), {
        len_max: 64,
        default: [],
        description: 'More request headers whose value is a credential (case-insensitive).',
      }),
      query: set(string({ len_max: 128, match: '^[^.]+$' }), {
        len_max: 64,
        default: [],
        description: 'More query-string parameters whose value is a credential (no `.`: Kong splits keys on it).',
      }),
      cookies: set(string({ len_max: 128, match: '^[^.]+$' }), {
        len_max: 64,
        default: [],
        description: 'More cookies whose value is a credential (the cookie is kept, its value replaced).',
      }),
    },
    {
      required: true,
      description: 'Credential locations to redact beyond the built-in ones (see the README: Redaction).',
    },
  ),
} as const;

/** An OTLP/HTTP receiver (an OpenTelemetry Collector's port 4318, or a vendor's OTLP endpoint): logs and metrics alike. */
const otlpConnectionFields = (signal: 'logs' | 'metrics') =>
  ({
    endpoint: string({
      len_max: 1024,
      match: '^https?://',
      required: true,
      description: `OTLP/HTTP base URL (as OTEL_EXPORTER_OTLP_ENDPOINT, e.g. \`http://collector:4318\`); ${signal} go to \`<endpoint>/v1/${signal}\` as OTLP/JSON.`,
    }),
    headers: map(
      headerName(),
      secret({ len_max: 4096, description: 'Header value. Referenceable (`{vault://env/...}`).' }),
      {
        len_max: 32,
        default: {},
        description:
          'Headers sent with every export (e.g. an API key); values are referenceable (`{vault://env/...}`).',
        check: (h: Readonly<Record<string, string>>) => {
          const reserved = Object.keys(h).find((k) => RESERVED_OTLP_HEADERS.has(k.toLowerCase()));
          return reserved === undefined ? undefined : `header ${reserved} is set by the exporter`;
        },
      },
    ),
    timeout_ms: integer({
      between: [100, 60000],
      default: 10000,
      description:
        'Longest time one export may take, the SDK exporter’s own retries of 429/502/503/504 and connection errors included.',
    }),
    service_name: string({ len_max: 256, default: 'bulwark', description: 'Resource attribute `service.name`.' }),
    resource_attributes: map(string({ len_max: 256, match: '^[%w_%.%-]+$' }), string({ len_max: 1024 }), {
      len_max: 32,
      default: {},
      description: 'More resource attributes (e.g. `deployment.environment.name`).',
    }),
    tls_verify: boolean({ default: true, description: 'Verify the receiver’s certificate (HTTPS).' }),
    ca_certificate: pemCertificate({
      len_max: 65536,
      description: 'PEM CA certificate(s) the receiver’s certificate must chain to (default: system store).',
    }),
  }) as const;

/** Where events go; each sink is optional and several may be on at once. */
export const SinkFields = {
  sinks: record(
    {
      file: record(
        {
          path: string({
            len_max: 1024,
            match: '^/',
            required: true,
            description: 'Absolute path of a JSON-lines file (one event per line), appended to.',
          }),
          format: string({
            one_of: EVENT_FORMATS,
            default: 'bulwark',
            description:
              'What is written per event: `bulwark` (the event as in the event reference), `ecs` or `ocsf` (its ECS / OCSF form).',
          }),
        },
        { required: false, description: 'JSON-lines file sink (the events as in the event reference).' },
      ),
      splunk: record(
        {
          url: string({
            len_max: 1024,
            match: '^https?://',
            required: true,
            description: 'Base URL of the HTTP Event Collector; events go to `<url>/services/collector/event`.',
          }),
          token: secret({
            len_max: 256,
            required: true,
            encrypted: true,
            description: 'HEC token, sent as `Authorization: Splunk <token>`. Referenceable (`{vault://env/...}`).',
          }),
          index: string({ len_max: 128, description: 'Splunk index (default: the token’s default index).' }),
          sourcetype: string({ len_max: 128, default: 'bulwark:security', description: 'Splunk sourcetype.' }),
          source: string({ len_max: 128, default: 'bulwark-audit', description: 'Splunk source.' }),
          tls_verify: boolean({ default: true, description: 'Verify the HEC server certificate (HTTPS).' }),
          format: string({
            one_of: EVENT_FORMATS,
            default: 'bulwark',
            description:
              'What is written per event: `bulwark` (the event as in the event reference), `ecs` or `ocsf` (its ECS / OCSF form).',
          }),
        },
        { required: false, description: 'Splunk HTTP Event Collector sink (batched JSON events).' },
      ),
      elasticsearch: record(
        {
          url: string({
            len_max: 1024,
            match: '^https?://',
            required: true,
            description: 'Elasticsearch base URL; batches go to `<url>/_bulk` as ECS documents.',
          }),
          index_prefix: string({
            len_max: 200,
            match: '^[a-z0-9][a-z0-9._-]*$',
            default: 'bulwark-security',
            description: 'Index name prefix; the event date is appended (`bulwark-security-2026.01.31`).',
          }),
          username: string({ len_max: 256, description: 'Basic-auth user (with `password`).' }),
          password: secret({ len_max: 256, encrypted: true, description: 'Basic-auth password. Referenceable.' }),
          api_key: secret({
            len_max: 512,
            encrypted: true,
            description: 'Elasticsearch API key (base64 `id:key`), sent as `Authorization: ApiKey`. Referenceable.',
          }),
          tls_verify: boolean({ default: true, description: 'Verify the Elasticsearch server certificate (HTTPS).' }),
        },
        { required: false, description: 'Elasticsearch `_bulk` sink (ECS documents, one index per day).' },
      ),
      syslog: record(
        {
          host: string({ len_max: 255, required: true, description: 'Syslog server host name or IP address.' }),
          port: port({ description: 'Syslog server port (514 UDP/TCP, 6514 TLS).', required: true }),
          protocol: string({
            one_of: ['udp', 'tcp', 'tls'],
            default: 'tcp',
            description: 'UDP (RFC 5426), TCP (RFC 6587 octet counting) or TLS (RFC 5425).',
          }),
          facility: integer({ between: [0, 23], default: 13, description: 'RFC 5424 facility (13: log audit).' }),
          app_name: string({ len_max: 48, default: 'bulwark', description: 'RFC 5424 APP-NAME.' }),
          ca_certificate: pemCertificate({
            len_max: 65536,
            description: 'PEM CA certificate(s) the TLS server certificate must chain to (default: system store).',
          }),
          tls_verify: boolean({ default: true, description: 'Verify the TLS server certificate and host name.' }),
          format: string({
            one_of: EVENT_FORMATS,
            default: 'bulwark',
            description:
              'What is written per event: `bulwark` (the event as in the event reference), `ecs` or `ocsf` (its ECS / OCSF form).',
          }),
        },
        { required: false, description: 'Syslog sink (RFC 5424; the event as JSON in MSG, in its `format`).' },
      ),
      otlp: record(
        {
          ...otlpConnectionFields('logs'),
          max_queue_events: integer({
            between: [1, 1000000],
            default: 10000,
            description: 'Events held while the receiver is slow or down; further ones are dropped (counted).',
          }),
          batch_size: integer({
            between: [1, 10000],
            default: 100,
            description: 'Log records per export (at most max_queue_events).',
          }),
          flush_interval_ms: integer({
            between: [10, 60000],
            default: 1000,
            description: 'A partial batch is exported after this long.',
          }),
          max_age_seconds: integer({
            between: [1, 86400],
            default: 300,
            description: 'Events queued longer than this are dropped (counted).',
          }),
        },
        {
          required: false,
          description:
            'OTLP/HTTP log sink through the OpenTelemetry JS SDK (OpenTelemetry log records with the HTTP semantic conventions).',
        },
      ),
    },
    { required: true, description: 'Where events are shipped; each sink is optional, several may be set.' },
  ),
} as const;

/** Bulwark's metrics (lib/metrics.ts, the Prometheus registry) exported to an OTLP receiver through the OTel SDK. */
export const MetricsFields = {
  metrics: record(
    {
      otlp: record(
        {
          ...otlpConnectionFields('metrics'),
          interval_ms: integer({
            between: [1000, 3600000],
            default: 60000,
            description: 'Time between two exports of every metric (cumulative sums, gauges, histograms).',
          }),
        },
        {
          required: false,
          description:
            'Export the metrics of this plugin-server process (the same figures as `--metrics-listen`) over OTLP/HTTP.',
        },
      ),
    },
    { required: true, description: 'Bulwark’s metrics over OpenTelemetry (off by default).' },
  ),
} as const;

/** Abuse detection with temporary bans (abuse/README.md). */
export const AbuseFields = { abuse: AbuseField } as const;

export const ConfigFields = configFields({
  ...EventFields,
  ...RedactionFields,
  ...SinkFields,
  ...MetricsFields,
  ...AbuseFields,
});

export const Schema = kongSchema(ConfigFields);
