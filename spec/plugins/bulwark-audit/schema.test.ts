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
    expect(violation({ redact: { query: ['a.b'] } })).toEqual({ config: { redact: { query: [expect.any(String)] } } });
  });

  it('lower-cases redacted header names once', () => {
    expect(parseAuditConfig(configOf({ redact: { headers: ['X-Secret', 'x-secret'] } })).redact.headers).toEqual([
      'x-secret',
    ]);
  });
});
