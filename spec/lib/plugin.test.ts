import { BULWARK_VERSION, definePlugin, describeError, logger, phaseContext, runPhase } from '../../plugins/lib/plugin';
import {
  DEFAULT_ERROR_MESSAGES,
  defaultErrorMessage,
  errorBody,
  exitWithError,
  RawBody,
} from '../../plugins/lib/errors';
import { version as packageVersion } from '../../package.json';
import { ConfigError, ConfigReader } from '../../plugins/lib/config';
import { asKong, bodyText, firstHeader, headerValues, joinedHeader } from '../../plugins/lib/pdk';
import { fakeKong } from './fake-kong';

describe('definePlugin', () => {
  const mod = definePlugin<{ limit: number }>({
    name: 'bulwark-test',
    priority: 1234,
    schema: [],
    parseConfig: (raw) => ({ limit: new ConfigReader(raw).integer('limit', 5, 1, 10) }),
    phases: {
      access: async ({ kong, conf, reject }) => {
        const h = await kong.request.getHeader('x-boom');
        if (h === 'throw') throw new Error(`boom at ${conf.limit}`);
        if (h === 'reject') return reject(403, undefined, undefined, { reason: 'test_refused', rule_id: 'r1' });
      },
      log: async () => {
        throw new Error('log failed');
      },
    },
  });
  const Plugin = mod.Plugin;

  it('is the module kong-pdk loads: name and priority as declared, the version of package.json', () => {
    expect({ Name: mod.Name, Version: mod.Version, Priority: mod.Priority, Schema: mod.Schema }).toEqual({
      Name: 'bulwark-test',
      Version: packageVersion,
      Priority: 1234,
      Schema: [],
    });
    expect(BULWARK_VERSION).toBe(packageVersion);
    expect(() => definePlugin({ name: 'x', priority: 1.5, schema: [], parseConfig: () => ({}), phases: {} })).toThrow(
      TypeError,
    );
  });

  it('exposes prototype methods only for the given phases (what kong-pdk reports as Phases)', () => {
    const phases = ['certificate', 'rewrite', 'log', 'access', 'preread', 'response'].filter(
      (p) => typeof (Plugin.prototype as unknown as Record<string, unknown>)[p] === 'function',
    );
    expect(phases).toEqual(['log', 'access']);
  });

  it('parses the config at construction and fails the instance on a bad one', () => {
    expect(new Plugin({ limit: 7 }).conf).toEqual({ limit: 7 });
    expect(new Plugin({}).conf).toEqual({ limit: 5 });
    expect(() => new Plugin({ limit: 11 })).toThrow(
      'bulwark-test: invalid configuration: limit: must be between 1 and 10',
    );
    expect(() => new Plugin('nope')).toThrow(/invalid configuration: config: expected a record/);
  });

  it('passes a normal request through without extra calls', async () => {
    const fake = fakeKong();
    await (new Plugin({}) as unknown as { access(k: unknown): Promise<void> }).access(fake.kong);
    expect(fake.names()).toEqual(['request.getHeader', 'log.setSerializeValue']);
    expect(fake.calls.at(-1)).toEqual([
      'log.setSerializeValue',
      ['bulwark.decisions.bulwark-test', { decision: 'allow', reason: 'allowed', mode: 'enforce' }],
    ]);
    expect(fake.exit).toBeUndefined();
  });

  it('a reject writes one deny record before its exit and nothing after (kong-pdk resolves the exit at once)', async () => {
    const fake = fakeKong({ 'request.getHeader': () => 'reject' });
    await (new Plugin({}) as unknown as { access(k: unknown): Promise<void> }).access(fake.kong);
    expect(fake.names()).toEqual(['request.getHeader', 'log.setSerializeValue', 'response.exit']);
    expect(fake.calls[1]).toEqual([
      'log.setSerializeValue',
      [
        'bulwark.decisions.bulwark-test',
        { decision: 'deny', reason: 'test_refused', rule_id: 'r1', status: 403, mode: 'enforce' },
      ],
    ]);
    expect(fake.callsAfterExit).toEqual([]);
  });

  it('records monitor-deny in place of the allow record (still one call), or before a direct exit', async () => {
    const monitor = definePlugin<object>({
      name: 'bulwark-mon',
      priority: 1,
      schema: [],
      parseConfig: () => ({}),
      phases: {
        access: async ({ kong, record }) => {
          record('monitor-deny', { reason: 'would_refuse', rule_id: 'x' });
          if ((await kong.request.getHeader('x')) === 'exit') await kong.response.exit(418, 'teapot');
        },
      },
    });
    const pass = fakeKong();
    await (new monitor.Plugin({}) as unknown as { access(k: unknown): Promise<void> }).access(pass.kong);
    expect(pass.calls.filter(([n]) => n === 'log.setSerializeValue')).toEqual([
      [
        'log.setSerializeValue',
        [
          'bulwark.decisions.bulwark-mon',
          { decision: 'monitor-deny', reason: 'would_refuse', rule_id: 'x', mode: 'monitor' },
        ],
      ],
    ]);
    const exits = fakeKong({ 'request.getHeader': () => 'exit' });
    await (new monitor.Plugin({}) as unknown as { access(k: unknown): Promise<void> }).access(exits.kong);
    expect(exits.names()).toEqual(['request.getHeader', 'log.setSerializeValue', 'response.exit']);
  });

  it('a decision record that cannot be written ends the request with 500 (bulwark-guard would 503 it anyway)', async () => {
    const fake = fakeKong({
      'log.setSerializeValue': () => {
        throw new Error('rpc down');
      },
    });
    await (new Plugin({}) as unknown as { access(k: unknown): Promise<void> }).access(fake.kong);
    expect(fake.names()).toEqual([
      'request.getHeader',
      'log.setSerializeValue',
      'log.err',
      'log.setSerializeValue',
      'response.exit',
    ]);
    expect(fake.exit?.status).toBe(500);
  });

  it('turns a thrown error into a logged 500 (fail closed), log line first', async () => {
    const fake = fakeKong({ 'request.getHeader': () => 'throw' });
    await (new Plugin({ limit: 3 }) as unknown as { access(k: unknown): Promise<void> }).access(fake.kong);
    expect(fake.names()).toEqual(['request.getHeader', 'log.err', 'log.setSerializeValue', 'response.exit']);
    expect(fake.calls[2]![1][1]).toEqual({ decision: 'error', reason: 'internal_error', status: 500, mode: 'enforce' });
    expect(fake.exit).toEqual({ status: 500, body: { message: 'An unexpected error occurred' }, headers: undefined });
    const line = JSON.parse(fake.calls[1]![1][0] as string);
    expect(line).toMatchObject({
      plugin: 'bulwark-test',
      event: 'unhandled_error',
      phase: 'access',
      reason: 'Error: boom at 3',
    });
  });

  it('still exits when the log call itself fails', async () => {
    const fake = fakeKong({
      'request.getHeader': () => 'throw',
      'log.err': () => {
        throw new Error('rpc down');
      },
    });
    await (new Plugin({}) as unknown as { access(k: unknown): Promise<void> }).access(fake.kong);
    expect(fake.exit?.status).toBe(500);
  });

  it('does not exit in the log phase (not allowed there), only logs', async () => {
    const fake = fakeKong();
    await (new Plugin({}) as unknown as { log(k: unknown): Promise<void> }).log(fake.kong);
    expect(fake.names()).toEqual(['log.err']);
    expect(fake.exit).toBeUndefined();
  });

  it('a deliberate reject makes no call afterwards', async () => {
    const fake = fakeKong({ 'request.getHeader': () => 'reject' });
    await (new Plugin({}) as unknown as { access(k: unknown): Promise<void> }).access(fake.kong);
    expect(fake.exit).toEqual({ status: 403, body: { message: 'Forbidden' }, headers: undefined });
    expect(fake.callsAfterExit).toEqual([]);
  });

  it('runPhase catches a rejected promise in response and rewrite too', async () => {
    for (const phase of ['response', 'rewrite'] as const) {
      const fake = fakeKong();
      await runPhase('p', phase, () => Promise.reject('plain string'), fake.kong, {});
      expect(fake.exit?.status).toBe(500);
      expect(JSON.parse(fake.calls[0]![1][0] as string).reason).toBe('plain string');
    }
  });
});

describe('describeError / logger', () => {
  it('keeps log lines on one bounded line', () => {
    expect(describeError(new TypeError('a\nb'))).toBe('TypeError: a b');
    expect(describeError('x'.repeat(600))).toHaveLength(501);
    expect(describeError({ code: 1 })).toBe('{"code":1}');
  });

  it('writes one JSON string per line', async () => {
    const fake = fakeKong();
    await logger(fake.kong, 'bulwark-x').warn('denied', { ip: '1.2.3.4' });
    expect(fake.calls).toEqual([['log.warn', ['{"plugin":"bulwark-x","event":"denied","ip":"1.2.3.4"}']]]);
  });
});

describe('errors', () => {
  it('uses the texts Kong users know', () => {
    expect(defaultErrorMessage(400)).toBe('Bad request');
    expect(defaultErrorMessage(401)).toBe('Unauthorized');
    expect(defaultErrorMessage(403)).toBe('Forbidden');
    expect(defaultErrorMessage(404)).toBe('Not found');
    expect(defaultErrorMessage(405)).toBe('Method not allowed');
    expect(defaultErrorMessage(413)).toBe('Request size limit exceeded');
    expect(defaultErrorMessage(421)).toBe('Misdirected request');
    expect(defaultErrorMessage(429)).toBe('API rate limit exceeded');
    expect(defaultErrorMessage(500)).toBe('An unexpected error occurred');
    expect(defaultErrorMessage(503)).toBe('Service unavailable');
    expect(defaultErrorMessage(499)).toBe('The upstream server responded with 499');
    expect(Object.isFrozen(DEFAULT_ERROR_MESSAGES)).toBe(true);
  });

  it('errorBody falls back to the default on an empty message', () => {
    expect(errorBody(401, 'No API key found in request')).toEqual({ message: 'No API key found in request' });
    expect(errorBody(401, '')).toEqual({ message: 'Unauthorized' });
  });

  it('reject exits with the JSON body and headers; refuses a non-error status', async () => {
    const fake = fakeKong();
    await phaseContext('p', fake.kong, {}).reject(429, undefined, { 'Retry-After': '10' });
    expect(fake.exit).toEqual({
      status: 429,
      body: { message: 'API rate limit exceeded' },
      headers: { 'Retry-After': '10' },
    });
    expect(() => exitWithError(fakeKong().kong, 200)).toThrow(RangeError);
  });

  it('reject sends a message, a whole JSON body, or exact text, as the plugin contract says', async () => {
    const exits = async (body: Parameters<typeof exitWithError>[2]) => {
      const fake = fakeKong();
      await exitWithError(fake.kong, 400, body, { 'Content-Type': 'application/json' });
      return fake.exit?.body;
    };
    expect(await exits('Too many query arguments')).toEqual({ message: 'Too many query arguments' });
    expect(await exits('')).toEqual({ message: 'Bad request' });
    expect(await exits({ message: 'Validation failed', errors: [] })).toEqual({
      message: 'Validation failed',
      errors: [],
    });
    expect(await exits(new RawBody('{"error":"invalid_request"}'))).toBe('{"error":"invalid_request"}');
  });
});

describe('pdk helpers', () => {
  const headers = { host: ['a.example'], 'x-multi': ['1', '2'], 'X-Odd': ['k'] };
  it('reads multimaps case-insensitively', () => {
    expect(firstHeader(headers, 'Host')).toBe('a.example');
    expect(firstHeader(headers, 'x-odd')).toBe('k');
    expect(firstHeader(headers, 'missing')).toBeUndefined();
    expect(headerValues(headers, 'X-MULTI')).toEqual(['1', '2']);
    expect(joinedHeader(headers, 'x-multi')).toBe('1, 2');
    expect(joinedHeader(headers, 'nope')).toBeUndefined();
    expect(headerValues({ x: 'bare' } as unknown as Record<string, string[]>, 'x')).toEqual(['bare']);
  });

  it('decodes raw bodies as UTF-8', () => {
    expect(bodyText(new Uint8Array([104, 105, 0xc3, 0xa4]))).toBe('hiä');
    expect(bodyText(undefined)).toBe('');
  });

  it('asKong refuses non-objects', () => {
    expect(() => asKong(undefined)).toThrow(TypeError);
  });
});

describe('ConfigReader', () => {
  it('treats null as unset and names fields in errors', () => {
    const r = new ConfigReader({ a: null, b: 'x', n: 1.5, arr: ['a', 2], m: { k: 1 }, rec: { flag: 'yes' } });
    expect(r.string('a', 'dflt')).toBe('dflt');
    expect(() => r.string('a')).toThrow('a: required field missing');
    expect(() => r.integer('n', 0)).toThrow('n: expected an integer');
    expect(() => r.stringArray('arr')).toThrow('arr[1]: expected a string');
    expect(() => r.stringMap('m')).toThrow('m.k: expected a string');
    expect(() => r.record('rec').boolean('flag', false)).toThrow('rec.flag: expected a boolean');
    expect(() => r.oneOf('b', ['y', 'z'], 'y')).toThrow('b: expected one of: y, z');
    expect(r.record('missing').boolean('x', true)).toBe(true);
    expect(new ConfigReader({ e: {} }).stringArray('e')).toEqual([]);
    expect(new ConfigReader({ e: [] }).stringMap('e')).toEqual({});
  });

  it('ConfigError carries the field', () => {
    const e = new ConfigError('x.y', 'bad');
    expect(e).toMatchObject({ field: 'x.y', reason: 'bad', message: 'x.y: bad' });
  });
});
