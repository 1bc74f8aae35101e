// bulwark-response-headers' Schema against Kong's rules (the emulator's implementation of Kong 3.9's metaschema and
// config processing), then the plugin's own config parsing (StartInstance) and its one phase handler.
import type { FieldEntry } from '../../../kong/schema/types';
import * as responseHeaders from '../../../plugins/bulwark-response-headers';
import { parseResponseHeadersConfig } from '../../../plugins/bulwark-response-headers/config';
import { configFor, describePluginInfo, violationFor } from '../../helpers/plugin-info';
import { fakeKong } from '../../lib/fake-kong';

const fields = responseHeaders.Schema as unknown as FieldEntry[];
const configOf = (input: unknown) => configFor(fields, input);
const violation = (input: unknown) => violationFor(fields, input);

describePluginInfo(responseHeaders, 'next to bulwark-transport 2600');

describe('config', () => {
  it('defaults to the headers that name the upstream software', () => {
    expect(configOf({})).toEqual({ remove: ['Server', 'X-Powered-By', 'Via'] });
    expect(parseResponseHeadersConfig(configOf({})).remove).toEqual(['server', 'x-powered-by', 'via']);
  });

  it('Kong refuses a bad header name, an empty list and more than 20 names, naming the field', () => {
    expect(violation({ remove: ['Bad Header'] })).toEqual({ config: { remove: [expect.any(String)] } });
    expect(violation({ remove: [] })).toEqual({ config: { remove: expect.any(String) } });
    expect(violation({ remove: Array.from({ length: 21 }, (_, i) => `X-H${i}`) })).toEqual({
      config: { remove: expect.any(String) },
    });
  });

  it('the instance refuses framing headers (removing them would corrupt the response) and folds case duplicates', () => {
    expect(() => parseResponseHeadersConfig({ remove: ['Server', 'Content-Length'] })).toThrow(
      'remove[1]: Content-Length frames the response',
    );
    expect(parseResponseHeadersConfig({ remove: ['Server', 'server', 'X-AspNet-Version'] }).remove).toEqual([
      'server',
      'x-aspnet-version',
    ]);
  });
});

describe('phases', () => {
  it('response only: this plugin is the opt-in that makes Kong buffer, so it must not run anything in access', () => {
    expect(Object.getOwnPropertyNames(responseHeaders.Plugin.prototype).filter((n) => n !== 'constructor')).toEqual([
      'response',
    ]);
  });

  it('response: one clearHeader per configured name, nothing read first', async () => {
    const fake = fakeKong({});
    const plugin = new responseHeaders.Plugin(configOf({ remove: ['Server', 'X-Powered-By'] })) as unknown as {
      response(k: unknown): Promise<void>;
    };
    await plugin.response(fake.kong);
    expect(fake.calls).toEqual([
      ['response.clearHeader', ['server']],
      ['response.clearHeader', ['x-powered-by']],
    ]);
  });
});
