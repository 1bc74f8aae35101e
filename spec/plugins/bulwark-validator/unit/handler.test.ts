// The access handler's RPC use and actions, against the recording fake kong.
import { access } from '../../../../plugins/bulwark-validator/handler';
import { Name } from '../../../../plugins/bulwark-validator';
import { phaseContext } from '../../../../plugins/lib/plugin';
import { parseValidatorConfig } from '../../../../plugins/bulwark-validator/config';
import { fakeKong } from '../../../lib/fake-kong';

const SPEC = JSON.stringify({
  openapi: '3.1.0',
  paths: {
    '/things': {
      post: {
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } },
          },
        },
      },
      get: {},
    },
  },
});
const conf = (extra: Record<string, unknown> = {}) => parseValidatorConfig({ openapi: { spec: SPEC }, ...extra });

function request(method: string, path: string, headers: Record<string, string[]>, body?: string) {
  return fakeKong({
    'request.getMethod': () => method,
    'request.getPathWithQuery': () => path,
    'request.getHeaders': () => headers,
    'request.getRawBody': () => (body === undefined ? undefined : new Uint8Array(Buffer.from(body))),
  });
}

describe('access', () => {
  test('a valid GET without Content-Length: the body decides whether there is one (HTTP/2 may omit the header)', async () => {
    const f = request('GET', '/things', {});
    await access(phaseContext(Name, f.kong, conf()));
    expect(f.names()).toEqual([
      'request.getMethod',
      'request.getPathWithQuery',
      'request.getHeaders',
      'request.getRawBody',
    ]);
    expect(f.calls[2]![1]).toEqual([1000]);
    expect(f.calls[3]![1]).toEqual([1048576 * 4]);
    expect(f.exit).toBeUndefined();
  });

  test('a GET with Content-Length: 0: three reads, nothing else', async () => {
    const f = request('GET', '/things', { 'content-length': ['0'] });
    await access(phaseContext(Name, f.kong, conf()));
    expect(f.names()).toEqual(['request.getMethod', 'request.getPathWithQuery', 'request.getHeaders']);
  });

  test('a body without Content-Length nor Transfer-Encoding on a GET that defines none: 400', async () => {
    const f = request('GET', '/things', {}, '{"n":1}');
    await access(phaseContext(Name, f.kong, conf()));
    expect(f.exit?.status).toBe(400);
  });

  test('a valid POST reads the body once, with the limit', async () => {
    const f = request('POST', '/things', { 'content-type': ['application/json'], 'content-length': ['7'] }, '{"n":1}');
    await access(phaseContext(Name, f.kong, conf({ limits: { max_body_size: 4096 } })));
    expect(f.names()).toEqual([
      'request.getMethod',
      'request.getPathWithQuery',
      'request.getHeaders',
      'request.getRawBody',
    ]);
    expect(f.calls[3]![1]).toEqual([4096]);
    expect(f.exit).toBeUndefined();
  });

  test('an invalid POST: one log line, then exit 400 with the located violations', async () => {
    const f = request(
      'POST',
      '/things',
      { 'content-type': ['application/json'], 'content-length': ['9'] },
      '{"n":"x"}',
    );
    await access(phaseContext(Name, f.kong, conf()));
    expect(f.names().slice(4)).toEqual(['log.info', 'log.setSerializeValue', 'response.exit']);
    expect(JSON.parse(f.calls[4]![1][0] as string)).toMatchObject({
      plugin: 'bulwark-validator',
      event: 'request_rejected',
      status: 400,
      path: '/things',
    });
    expect(f.exit).toEqual({
      status: 400,
      body: {
        message: 'Request validation failed',
        errors: [{ location: 'body/n', rule: 'type', detail: 'must be integer' }],
      },
      headers: undefined,
    });
  });

  test('monitor mode logs and never exits', async () => {
    const f = request('POST', '/things', { 'content-type': ['application/json'], 'content-length': ['2'] }, '{}');
    await access(phaseContext(Name, f.kong, conf({ mode: 'monitor' })));
    expect(f.exit).toBeUndefined();
    expect(f.names().at(-1)).toBe('log.notice');
  });

  test('1000 header lines (a possibly truncated header table) are refused with 431 before validation, also in monitor mode', async () => {
    for (const mode of ['enforce', 'monitor'] as const) {
      const f = request('GET', '/things', { 'x-a': Array.from({ length: 1000 }, () => 'v') });
      await access(phaseContext(Name, f.kong, conf({ mode })));
      expect(f.exit).toEqual({ status: 431, body: { message: 'Request header fields too large' }, headers: undefined });
      expect(f.names()).toEqual([
        'request.getMethod',
        'request.getPathWithQuery',
        'request.getHeaders',
        'log.warn',
        'log.setSerializeValue',
        'response.exit',
      ]);
      expect(f.calls[2]![1]).toEqual([1000]);
    }
  });

  test('a compiled document is shared between instances with the same config', () => {
    const a = conf();
    const b = conf({ openapi: { spec: SPEC, unknown_operations: 'allow' } });
    expect(a.policy.kind === 'openapi' && b.policy.kind === 'openapi' && a.policy.api === b.policy.api).toBe(true);
    expect(b.policy.kind === 'openapi' && b.policy.unknownOperations).toBe('allow');
  });
});
