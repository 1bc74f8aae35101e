// lib/fields.ts: one declaration gives the Kong field definition and a reader that fills the same defaults and
// refuses what Kong's schema refuses (type, required, bounds, one_of, lengths), naming the field.
import { ConfigError } from '../../plugins/lib/config';
import {
  array,
  boolean,
  configFields,
  integer,
  kongSchema,
  map,
  readConfig,
  record,
  refine,
  set,
  string,
} from '../../plugins/lib/fields';
import { forwardedHeader, headerName, port, secret, trustedProxies } from '../../plugins/lib/typedefs';
import type { FieldEntry } from '../../kong/schema/types';
import { configFor } from '../helpers/plugin-info';

const fields = configFields({
  mode: string({ one_of: ['a', 'b'], default: 'a', description: 'which mode' }),
  limit: integer({ between: [1, 10], default: 5, description: 'a bounded integer' }),
  name: string({ len_max: 8, description: 'an optional name' }),
  on: boolean({ default: true, description: 'a switch' }),
  tags: set(string({ len_max: 16 }), { len_max: 3, default: ['x'], description: 'some tags' }),
  weights: map(string({ len_max: 8 }), integer({ between: [0, 9] }), { len_max: 4, default: {}, description: 'a map' }),
  inner: record(
    {
      port: port({ default: 6379, description: 'a port' }),
      password: secret({ len_max: 64, description: 'a secret' }),
    },
    { required: true, description: 'a nested record' },
  ),
  items: array(record({ id: string({ required: true, len_max: 4 }) }), {
    len_max: 2,
    default: [],
    description: 'records',
  }),
  proxies: trustedProxies('trusted proxies'),
  forwarded: forwardedHeader('forwarded header kind'),
  header: refine(headerName('a header name'), (h) => (h.toLowerCase() === 'host' ? 'Host cannot be used' : undefined)),
});
const schema = kongSchema(fields) as unknown as FieldEntry[];

const error = (raw: unknown): string => {
  try {
    readConfig(fields, raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('accepted');
};

describe('lib/fields', () => {
  it('the reader fills exactly the defaults Kong fills (Kong schema engine on the same declaration)', () => {
    const raw = { name: 'n', inner: { password: 'p' } };
    const byKong = configFor(schema, raw);
    expect(readConfig(fields, raw)).toEqual(byKong);
    expect(readConfig(fields, byKong)).toEqual(readConfig(fields, raw));
  });

  it('the Kong definition is the declaration without the reader-only check, fields in declaration order', () => {
    expect(schema.map((entry) => Object.keys(entry)[0])).toEqual(Object.keys(fields.fields));
    expect(schema[1]).toEqual({
      limit: { type: 'integer', between: [1, 10], default: 5, description: 'a bounded integer' },
    });
    expect(schema[10]).toEqual({
      header: { type: 'string', len_max: 128, match: '^[%w%-]+$', description: 'a header name' },
    });
  });

  it('refuses what the declaration refuses, naming the field', () => {
    expect(error({ mode: 'c' })).toBe('mode: expected one of: a, b');
    expect(error({ limit: 11 })).toBe('limit: must be between 1 and 10');
    expect(error({ limit: 1.5 })).toBe('limit: expected an integer');
    expect(error({ name: 'ninechars' })).toBe('name: must have at most 8 characters');
    expect(error({ on: 'yes' })).toBe('on: expected a boolean');
    expect(error({ tags: ['a', 'b', 'c', 'd'] })).toBe('tags: must have at most 3 entries');
    expect(error({ tags: ['a', 7] })).toBe('tags[1]: expected a string');
    expect(error({ weights: { GET: 10 } })).toBe('weights.GET: must be between 0 and 9');
    expect(error({ inner: { port: 0 } })).toBe('inner.port: must be between 1 and 65535');
    expect(error({ items: [{}] })).toBe('items[0].id: required field missing');
    expect(error({ forwarded: 'x-real-ip' })).toBe('forwarded: expected one of: x-forwarded-for, forwarded');
    expect(error({ header: 'a b' })).toBe('header: invalid header name "a b"');
    expect(error({ header: 'Host' })).toBe('header: Host cannot be used');
    expect(error('x')).toBe('config: expected a record');
  });

  it('a referenceable field refuses "" (an unresolvable vault reference) and an unresolved reference', () => {
    expect(error({ inner: { password: '' } })).toMatch(/^inner.password: empty secret/);
    expect(error({ inner: { password: '{vault://env/x}' } })).toBe('inner.password: vault reference was not resolved');
  });

  it('an empty Lua table reads as an empty array or map, whichever the field is', () => {
    const conf = readConfig(fields, { tags: {}, weights: [] });
    expect(conf.tags).toEqual([]);
    expect(conf.weights).toEqual({});
  });

  it('types: defaulted and required fields are never undefined, optional ones may be', () => {
    const conf = readConfig(fields, {});
    const mode: 'a' | 'b' = conf.mode;
    const limit: number = conf.limit;
    const name: string | undefined = conf.name;
    const port: number = conf.inner.port;
    expect([mode, limit, name, port]).toEqual(['a', 5, undefined, 6379]);
  });
});
