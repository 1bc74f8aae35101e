// bulwark-audit's Schema against Kong's rules (the emulator's implementation of Kong 3.9's metaschema and config
// processing), then the plugin's own config parsing (StartInstance).
import type { FieldEntry } from '../../../kong/schema/types';
import * as audit from '../../../plugins/bulwark-audit';
import { parseAuditConfig } from '../../../plugins/bulwark-audit/config';
import { configFor, describePluginInfo, violationFor } from '../../helpers/plugin-info';

const fields = audit.Schema as unknown as FieldEntry[];
const configOf = (input: unknown) => configFor(fields, input);
const violation = (input: unknown) => violationFor(fields, input);

describePluginInfo(audit, 'after bulwark-transport 2600 and response-headers 2590, before bot-detection 2500');

describe('config', () => {
  it('defaults: deny, monitor-deny and error events; no extra redaction names; no sink', () => {
    const conf = parseAuditConfig(configOf({}));
    expect([...conf.decisions]).toEqual(['deny', 'monitor-deny', 'error']);
    expect(conf.redact).toEqual({ headers: [], query: [], cookies: [] });
    expect(conf.sinks).toEqual({});
    expect(audit.Priority).toBe(2550);
  });

  it('Kong refuses an unknown decision, a relative file path and a query name with a dot, naming the field', () => {
    expect(violation({ decisions: ['maybe'] })).toEqual({ config: { decisions: [expect.any(String)] } });
    expect(violation({ sinks: { file: { path: 'rel/x.log' } } })).toEqual({
      config: { sinks: { file: { path: expect.any(String) } } },
    });
    expect(violation({ sinks: { syslog: { host: 'h', port: 514, format: 'cef' } } })).toEqual({
      config: { sinks: { syslog: { format: expect.any(String) } } },
    });
    expect(parseAuditConfig(configOf({ sinks: { file: { path: '/x.jsonl', format: 'ocsf' } } })).sinks.file).toEqual({
      path: '/x.jsonl',
      format: 'ocsf',
    });
    expect(parseAuditConfig(configOf({ sinks: { file: { path: '/x.jsonl' } } })).sinks.file?.format).toBe('bulwark');
    expect(violation({ redact: { query: ['a.b'] } })).toEqual({ config: { redact: { query: [expect.any(String)] } } });
  });

  it('lower-cases redacted header names once', () => {
    expect(parseAuditConfig(configOf({ redact: { headers: ['X-Secret', 'x-secret'] } })).redact.headers).toEqual([
      'x-secret',
    ]);
  });
});

describe('OTLP sink and OTLP metrics config', () => {
  const otlp = { endpoint: 'https://collector.example.com:4318', headers: { 'x-api-key': 'k-1' } };

  it('defaults: queue 10,000, batches of 100, 1 s flush, 5 min max age, 10 s timeout, service.name bulwark', () => {
    const conf = parseAuditConfig(configOf({ sinks: { otlp }, metrics: { otlp } }));
    expect(conf.sinks.otlp).toEqual({
      endpoint: 'https://collector.example.com:4318',
      headers: { 'x-api-key': 'k-1' },
      timeoutMs: 10000,
      tlsVerify: true,
      serviceName: 'bulwark',
      resourceAttributes: {},
      maxQueueEvents: 10000,
      batchSize: 100,
      flushIntervalMs: 1000,
      maxAgeMs: 300000,
    });
    expect(conf.metricsOtlp).toMatchObject({ endpoint: otlp.endpoint, intervalMs: 60000, timeoutMs: 10000 });
    expect(parseAuditConfig(configOf({})).metricsOtlp).toBeUndefined();
  });

  it('Kong refuses a missing or non-HTTP endpoint, a bad header name, out-of-range sizes and timeouts, naming the field', () => {
    expect(violation({ sinks: { otlp: { headers: {} } } })).toEqual({
      config: { sinks: { otlp: { endpoint: expect.any(String) } } },
    });
    expect(violation({ sinks: { otlp: { endpoint: 'grpc://c:4317' } } })).toEqual({
      config: { sinks: { otlp: { endpoint: expect.any(String) } } },
    });
    expect(violation({ sinks: { otlp: { ...otlp, batch_size: 0 } } })).toEqual({
      config: { sinks: { otlp: { batch_size: expect.any(String) } } },
    });
    expect(violation({ sinks: { otlp: { ...otlp, max_queue_events: 2000000 } } })).toEqual({
      config: { sinks: { otlp: { max_queue_events: expect.any(String) } } },
    });
    expect(violation({ metrics: { otlp: { ...otlp, interval_ms: 10 } } })).toEqual({
      config: { metrics: { otlp: { interval_ms: expect.any(String) } } },
    });
    expect(violation({ metrics: { otlp: { ...otlp, timeout_ms: 0 } } })).toEqual({
      config: { metrics: { otlp: { timeout_ms: expect.any(String) } } },
    });
    expect(violation({ sinks: { otlp: { ...otlp, headers: { 'bad header': 'v' } } } })).toMatchObject({
      config: { sinks: { otlp: { headers: expect.anything() } } },
    });
  });

  it('the plugin refuses what Kong cannot check, naming the field: batch larger than the queue, an exporter header, an unresolved secret', () => {
    expect(() =>
      parseAuditConfig(configOf({ sinks: { otlp: { ...otlp, batch_size: 500, max_queue_events: 100 } } })),
    ).toThrow(/^sinks\.otlp\.batch_size: must not exceed sinks\.otlp\.max_queue_events/);
    expect(() =>
      parseAuditConfig(configOf({ sinks: { otlp: { ...otlp, headers: { 'Content-Type': 'text/plain' } } } })),
    ).toThrow(/^sinks\.otlp\.headers: header Content-Type is set by the exporter/);
    // "" is what Kong leaves of a vault reference it cannot resolve (after its own validation).
    const resolved = configOf({ metrics: { otlp: { ...otlp, headers: { authorization: '{vault://env/x}' } } } });
    (resolved.metrics as { otlp: { headers: Record<string, string> } }).otlp.headers.authorization = '';
    expect(() => parseAuditConfig(resolved)).toThrow(/^metrics\.otlp\.headers\.authorization/);
  });
});
