import { processPluginConfig, processPluginConfigUpdate } from '../../kong/schema/config';
import type { FieldEntry, FieldDef } from '../../kong/schema/types';

const fields: FieldEntry[] = [
  { limit: { type: 'integer', default: 10 } },
  { name: { type: 'string' } },
  { enabled: { type: 'boolean', default: true } },
  {
    redis: {
      type: 'record',
      fields: [
        { host: { type: 'string', default: 'localhost' } },
        { port: { type: 'integer', default: 6379 } },
        { password: { type: 'string', referenceable: true } },
      ],
    },
  },
  { paths: { type: 'array', elements: { type: 'string' }, default: [] } },
  { methods: { type: 'set', elements: { type: 'string' } } },
  { headers: { type: 'map', keys: { type: 'string' }, values: { type: 'string' } } },
];

const ok = (input: unknown, f: FieldEntry[] = fields) => {
  const r = processPluginConfig(f, input);
  if (!r.ok) throw new Error('expected success, got ' + r.error.message);
  return r.config;
};
const fail = (input: unknown, f: FieldEntry[] = fields) => {
  const r = processPluginConfig(f, input);
  if (r.ok) throw new Error('expected a schema violation, got ' + JSON.stringify(r.config));
  return r.error;
};
/** One field `f` with the given definition. */
const one = (def: FieldDef): FieldEntry[] => [{ f: def }];
const errOf = (def: FieldDef, value: unknown) =>
  (fail({ f: value }, one(def)).fields.config as Record<string, unknown>).f;

describe('plugin config on insert/read (kong/db/schema/init.lua process_auto_fields + validate)', () => {
  it('handle_missing_field: defaults are filled, also inside a missing record (entity.lua make_records_required)', () => {
    expect(ok({})).toEqual({ limit: 10, enabled: true, redis: { host: 'localhost', port: 6379 }, paths: [] });
  });

  it('a missing config is expanded with its defaults', () => {
    expect(ok(undefined)).toEqual(ok({}));
  });

  it('nested record: given keys win, missing keys get defaults', () => {
    expect(ok({ redis: { port: 7000 } }).redis).toEqual({ host: 'localhost', port: 7000 });
  });

  it('process_auto_fields "select": unset optional fields are absent on read, but stored as null', () => {
    const r = processPluginConfig(fields, {});
    expect(r.ok && 'name' in r.config).toBe(false);
    expect(r.ok && r.stored.name).toBeNull();
    const withNulls = processPluginConfig(fields, {}, { nulls: true });
    expect(withNulls.ok && withNulls.config.name).toBeNull();
  });

  it('JSON null for an optional field means unset: no default is applied and it is dropped on read', () => {
    const c = ok({ name: null, limit: null });
    expect('name' in c).toBe(false);
    expect('limit' in c).toBe(false);
  });

  it('null for a nested record is "required field missing" (records are required by default)', () => {
    expect(fail({ redis: null }).fields).toEqual({ config: { redis: 'required field missing' } });
  });

  it('required fields: missing and null are both "required field missing"', () => {
    const f = one({ type: 'string', required: true });
    expect(fail({}, f).message).toBe('schema violation (config.f: required field missing)');
    expect(fail({ f: null }, f).message).toBe('schema violation (config.f: required field missing)');
  });

  it('unknown fields are rejected', () => {
    expect(fail({ limt: 5 }).message).toBe('schema violation (config.limt: unknown field)');
  });

  it("type errors use init.lua's wording", () => {
    expect(errOf({ type: 'string' }, 5)).toBe('expected a string');
    expect(errOf({ type: 'integer' }, 1.5)).toBe('expected an integer');
    expect(errOf({ type: 'integer' }, '1')).toBe('expected an integer');
    expect(errOf({ type: 'number' }, 'x')).toBe('expected a number');
    expect(errOf({ type: 'boolean' }, 'true')).toBe('expected a boolean');
    expect(errOf({ type: 'array', elements: { type: 'string' } }, 'a')).toBe('expected an array');
    expect(errOf({ type: 'set', elements: { type: 'string' } }, { a: 1 })).toBe('expected a set');
    expect(errOf({ type: 'map', keys: { type: 'string' }, values: { type: 'string' } }, 'a')).toBe('expected a map');
    expect(errOf({ type: 'record', fields: [] }, 3)).toBe('expected a record');
  });

  it('strings default to len_min 1, so "" is rejected unless len_min: 0', () => {
    expect(errOf({ type: 'string' }, '')).toBe('length must be at least 1');
    expect(ok({ f: '' }, one({ type: 'string', len_min: 0 }))).toEqual({ f: '' });
  });

  it('string lengths count UTF-8 bytes, as Lua #s does', () => {
    expect(errOf({ type: 'string', len_max: 3 }, 'éé')).toBe('length must be at most 3');
  });

  it('arrays stay arrays, including [] and {} (an empty Lua table is an empty sequence)', () => {
    expect(ok({ paths: [] }).paths).toEqual([]);
    expect(ok({ paths: {} }).paths).toEqual([]);
    expect(ok({ paths: ['/a', '/a'] }).paths).toEqual(['/a', '/a']);
  });

  it('make_set: sets are deduplicated', () => {
    expect(ok({ methods: ['GET', 'POST', 'GET'] }).methods).toEqual(['GET', 'POST']);
  });

  it('array element errors sit at the element index; the message prints them like Penlight', () => {
    const e = fail({ paths: ['/a', 5] });
    expect(e.fields).toEqual({ config: { paths: [null, 'expected a string'] } });
    expect(e.message).toBe('schema violation (config.paths: {\n  [2] = "expected a string"\n})');
  });

  it('map keys and values are validated (first error only, as Kong does)', () => {
    expect(ok({ headers: { a: 'b' } }).headers).toEqual({ a: 'b' });
    expect(fail({ headers: { a: 1 } }).fields).toEqual({ config: { headers: 'expected a string' } });
    expect(errOf({ type: 'map', keys: { type: 'string', len_max: 2 }, values: { type: 'string' } }, { abc: 'x' })).toBe(
      'length must be at most 2',
    );
  });

  it('nested record errors nest in `fields`', () => {
    const e = fail({ redis: { port: 'x', bogus: 1 } });
    expect(e.fields).toEqual({ config: { redis: { port: 'expected an integer', bogus: 'unknown field' } } });
    expect(e.message).toBe(
      'schema violation (config.redis: {\n  bogus = "unknown field",\n  port = "expected an integer"\n})',
    );
  });

  it('errors.lua: several violations are counted and joined with "; " in sorted order', () => {
    const e = fail({ limit: 'x', name: 5 });
    expect(e).toEqual({
      code: 2,
      name: 'schema violation',
      message: '2 schema violations (config.limit: expected an integer; config.name: expected a string)',
      fields: { config: { limit: 'expected an integer', name: 'expected a string' } },
    });
  });

  it('a config that is not a table is reported on `config` itself', () => {
    expect(fail('x').message).toBe('schema violation (config: expected a record)');
  });

  it('referenceable strings accept {vault://...} references without running validators', () => {
    expect(ok({ redis: { password: '{vault://env/redis-pass}' } }).redis).toMatchObject({
      password: '{vault://env/redis-pass}',
    });
    expect(errOf({ type: 'string', match: '^%d+$' }, '{vault://env/x}')).toBe('invalid value: {vault://env/x}');
    expect(ok({ f: '{vault://env/x}' }, one({ type: 'string', referenceable: true, match: '^%d+$' }))).toEqual({
      f: '{vault://env/x}',
    });
  });

  it('defaults fill records inside arrays of records', () => {
    const f = one({
      type: 'array',
      elements: { type: 'record', fields: [{ a: { type: 'integer', default: 1 } }, { b: { type: 'string' } }] },
    });
    expect(ok({ f: [{ b: 'x' }, {}] }, f)).toEqual({ f: [{ a: 1, b: 'x' }, { a: 1 }] });
  });

  it('update (Schema:merge_values): the patch is merged into the stored config record by record', () => {
    const first = processPluginConfig(fields, { name: 'n', redis: { host: 'h' }, paths: ['/a', '/b'] });
    if (!first.ok) throw new Error(first.error.message);
    const upd = processPluginConfigUpdate(fields, { redis: { port: 1 }, paths: ['/c'] }, first.stored);
    expect(upd.ok && upd.config).toEqual({
      limit: 10,
      name: 'n',
      enabled: true,
      redis: { host: 'h', port: 1 },
      paths: ['/c'],
    });
    const bad = processPluginConfigUpdate(fields, { limit: 'x' }, first.stored);
    expect(!bad.ok && bad.error.message).toBe('schema violation (config.limit: expected an integer)');
  });
});

describe('validators (kong/db/schema/init.lua Schema.validators, validation_errors)', () => {
  const cases: Array<[string, FieldDef, unknown, unknown, string]> = [
    ['one_of', { type: 'string', one_of: ['a', 'b'] }, 'a', 'c', 'expected one of: a, b'],
    ['not_one_of', { type: 'string', not_one_of: ['x', 'y'] }, 'a', 'x', 'must not be one of: x, y'],
    ['between', { type: 'integer', between: [1, 10] }, 10, 11, 'value should be between 1 and 10'],
    ['gt', { type: 'number', gt: 0.5 }, 1, 0.5, 'value must be greater than 0.5'],
    ['eq', { type: 'string', eq: 'on' }, 'on', 'off', 'value must be on'],
    ['ne', { type: 'string', ne: 'off' }, 'on', 'off', 'value must not be off'],
    ['len_eq', { type: 'string', len_eq: 2 }, 'ab', 'abc', 'length must be 2'],
    ['len_min', { type: 'string', len_min: 2 }, 'ab', 'a', 'length must be at least 2'],
    ['len_max', { type: 'string', len_max: 2 }, 'ab', 'abc', 'length must be at most 2'],
    [
      'len_min on arrays',
      { type: 'array', elements: { type: 'string' }, len_min: 1 },
      ['a'],
      [],
      'length must be at least 1',
    ],
    ['match', { type: 'string', match: '^%d+$' }, '123', '12a', 'invalid value: 12a'],
    ['not_match', { type: 'string', not_match: '%s' }, 'ab', 'a b', 'invalid value: a b'],
    [
      'match_all (rule err)',
      { type: 'string', match_all: [{ pattern: '^/', err: 'must start with /' }, { pattern: '[^/]$' }] },
      '/a',
      'a',
      'must start with /',
    ],
    [
      'match_all (no err)',
      { type: 'string', match_all: [{ pattern: '^/' }, { pattern: '[^/]$' }] },
      '/a',
      '/a/',
      'invalid value: /a/',
    ],
    ['match_none', { type: 'string', match_none: [{ pattern: '%.%.', err: 'no ..' }] }, '/a', '/../a', 'no ..'],
    [
      'match_any',
      { type: 'string', match_any: { patterns: ['^http://', '^https://'], err: 'need a URL' } },
      'https://x',
      'ftp://x',
      'need a URL',
    ],
    ['starts_with', { type: 'string', starts_with: '/api' }, '/api/x', '/x', 'should start with: /api'],
    [
      'contains',
      { type: 'array', elements: { type: 'string' }, contains: 'GET' },
      ['GET'],
      ['POST'],
      'expected to contain: GET',
    ],
    ['uuid', { type: 'string', uuid: true }, '3f1c2b8e-1d2a-4c3b-9e8f-0a1b2c3d4e5f', 'nope', 'expected a valid UUID'],
    ['timestamp', { type: 'number', timestamp: true }, 1700000000, 0, 'expected a valid timestamp'],
    ['is_regex', { type: 'string', is_regex: true }, '^a+$', '(', 'not a valid regex: ('],
    [
      'mutually_exclusive_subsets',
      { type: 'set', elements: { type: 'string' }, mutually_exclusive_subsets: [['a', 'b'], ['c']] },
      ['a', 'b'],
      ['a', 'c'],
      "these sets are mutually exclusive: ('a', 'b'), ('c')",
    ],
    ['err overrides the message', { type: 'string', match: '^%d+$', err: 'digits only' }, '1', 'x', 'digits only'],
  ];
  it.each(cases)(
    "%s: accepts the good value, rejects the bad one with Kong's message",
    (_name, def, good, bad, msg) => {
      expect(ok({ f: good }, one(def))).toEqual({ f: good });
      expect(errOf(def, bad)).toBe(msg);
    },
  );

  it('validators_order: eq runs before len_min, so eq decides the message', () => {
    expect(errOf({ type: 'string', eq: 'abc', len_min: 5 }, 'x')).toBe('value must be abc');
  });

  it('entity checks on a nested record (at_least_one_of)', () => {
    const f = one({
      type: 'record',
      fields: [{ a: { type: 'string' } }, { b: { type: 'string' } }],
      entity_checks: [{ at_least_one_of: ['a', 'b'] }],
    });
    expect(ok({ f: { a: 'x' } }, f)).toEqual({ f: { a: 'x' } });
    expect(errOf(f[0].f, {})).toEqual({ '@entity': ["at least one of these fields must be non-empty: 'a', 'b'"] });
  });

  it('unsupported constructs fail closed instead of accepting anything', () => {
    const f = one({
      type: 'record',
      fields: [{ a: { type: 'string' } }],
      entity_checks: [{ custom_entity_check: {} }],
    });
    expect(() => processPluginConfig(f, { f: { a: 'x' } })).toThrow(/cannot be emulated/);
  });
});

// kong/db/schema/init.lua (3.9): Schema.entity_checkers (conditional, conditional_at_least_one_of, only_one_of,
// mutually_exclusive, mutually_exclusive_sets) and run_entity_check (field_sources, required_fields, missing fields).
describe('entity checks (init.lua Schema.entity_checkers, run_entity_check)', () => {
  const rec = (checks: Array<Record<string, unknown>>, extra: FieldEntry[] = []): FieldEntry[] =>
    one({
      type: 'record',
      fields: [
        { mode: { type: 'string', one_of: ['a', 'b'] } },
        { flag: { type: 'boolean', default: false } },
        { url: { type: 'string' } },
        { x: { type: 'integer' } },
        { y: { type: 'integer' } },
        ...extra,
      ],
      entity_checks: checks,
    });

  it('only_one_of: optional fields left out are null, so "neither" fails as well as "both"', () => {
    const f = rec([{ only_one_of: ['x', 'y'] }]);
    expect(ok({ f: { x: 1 } }, f)).toEqual({ f: { flag: false, x: 1 } });
    expect(errOf(f[0].f, { x: 1, y: 2 })).toEqual({
      '@entity': ["exactly one of these fields must be non-empty: 'x', 'y'"],
    });
    expect(errOf(f[0].f, {})).toEqual({ '@entity': ["exactly one of these fields must be non-empty: 'x', 'y'"] });
  });

  it('mutually_exclusive: none or one', () => {
    const f = rec([{ mutually_exclusive: ['x', 'y'] }]);
    expect(ok({ f: {} }, f)).toEqual({ f: { flag: false } });
    expect(errOf(f[0].f, { x: 1, y: 2 })).toEqual({
      '@entity': ["only one or none of these fields must be set: 'x', 'y'"],
    });
  });

  it('conditional: then_match is validated with the then_field definition behind it; the error is set on then_field', () => {
    const f = rec([
      {
        conditional: {
          if_field: 'flag',
          if_match: { eq: false },
          then_field: 'url',
          then_match: { match: '^https://' },
        },
      },
    ]);
    expect(ok({ f: { url: 'https://x' } }, f)).toEqual({ f: { flag: false, url: 'https://x' } });
    expect(ok({ f: { flag: true, url: 'http://x' } }, f)).toEqual({ f: { flag: true, url: 'http://x' } });
    expect(ok({ f: {} }, f)).toEqual({ f: { flag: false } }); // then_value null: not required, passes
    expect(errOf(f[0].f, { url: 'http://x' })).toEqual({
      url: 'invalid value: http://x',
      '@entity': ["failed conditional validation given value of field 'flag'"],
    });
  });

  it('conditional: a null if_field passes a bare if_match (validate_field accepts null when not required); required: true stops that', () => {
    const bare = rec([
      { conditional: { if_field: 'mode', if_match: { one_of: ['a'] }, then_field: 'x', then_match: { eq: null } } },
    ]);
    expect(errOf(bare[0].f, { x: 1 })).toEqual({
      x: 'value must be null',
      '@entity': ["failed conditional validation given value of field 'mode'"],
    });
    const guarded = rec([
      {
        conditional: {
          if_field: 'mode',
          if_match: { one_of: ['a'], required: true },
          then_field: 'x',
          then_match: { eq: null },
        },
      },
    ]);
    expect(ok({ f: { x: 1 } }, guarded)).toEqual({ f: { flag: false, x: 1 } });
  });

  it('conditional: then_match { required = true } and then_err', () => {
    const f = rec([
      {
        conditional: {
          if_field: 'mode',
          if_match: { eq: 'a' },
          then_field: 'x',
          then_match: { required: true },
          then_err: 'x is needed when %s is a',
        },
      },
    ]);
    expect(errOf(f[0].f, { mode: 'a' })).toEqual({
      x: 'required field missing',
      '@entity': ["failed conditional validation given value of field 'mode'"],
    });
    const g = rec([
      {
        conditional: {
          if_field: 'mode',
          if_match: { eq: 'a' },
          then_field: 'x',
          then_match: { between: [1, 5] },
          then_err: 'x is needed when %s is a',
        },
      },
    ]);
    expect(errOf(g[0].f, { mode: 'a', x: 9 })).toEqual({
      x: 'value should be between 1 and 5',
      '@entity': ['x is needed when mode is a'],
    });
    expect(ok({ f: { mode: 'b', x: 9 } }, g)).toEqual({ f: { mode: 'b', flag: false, x: 9 } });
  });

  it('conditional: eq = null in then_match refuses any value (JSON null is ngx.null)', () => {
    const f = rec([
      { conditional: { if_field: 'flag', if_match: { eq: true }, then_field: 'url', then_match: { eq: null } } },
    ]);
    expect(errOf(f[0].f, { flag: true, url: 'https://x' })).toEqual({
      url: 'value must be null',
      '@entity': ["failed conditional validation given value of field 'flag'"],
    });
    expect(ok({ f: { flag: true } }, f)).toEqual({ f: { flag: true } });
  });

  it('conditional_at_least_one_of with else branch and custom errors', () => {
    const f = rec([
      {
        conditional_at_least_one_of: {
          if_field: 'mode',
          if_match: { eq: 'a' },
          then_at_least_one_of: ['x'],
          then_err: 'mode a needs %s',
          else_match: { eq: 'b' },
          else_then_at_least_one_of: ['y'],
        },
      },
    ]);
    expect(errOf(f[0].f, { mode: 'a' })).toEqual({ '@entity': ["mode a needs 'x'"] });
    expect(errOf(f[0].f, { mode: 'b' })).toEqual({
      '@entity': ["at least one of these fields must be non-empty: 'y'"],
    });
    expect(ok({ f: { mode: 'b', y: 1 } }, f)).toEqual({ f: { mode: 'b', flag: false, y: 1 } });
  });

  it('mutually_exclusive_sets names the non-empty members of each set', () => {
    const f = rec([{ mutually_exclusive_sets: { set1: ['x', 'url'], set2: ['y'] } }]);
    expect(errOf(f[0].f, { x: 1, y: 2 })).toEqual({ '@entity': ["these sets are mutually exclusive: ('x'), ('y')"] });
  });

  it('dotted names reach into nested records (get_field/set_field)', () => {
    const f = rec(
      [
        {
          conditional: {
            if_field: 'mode',
            if_match: { eq: 'a' },
            then_field: 'inner.z',
            then_match: { required: true },
          },
        },
      ],
      [{ inner: { type: 'record', fields: [{ z: { type: 'string' } }] } }],
    );
    expect(errOf(f[0].f, { mode: 'a' })).toEqual({
      inner: { z: 'required field missing' },
      '@entity': ["failed conditional validation given value of field 'mode'"],
    });
  });

  it('a vault reference in a referenceable field skips the check', () => {
    const f = one({
      type: 'record',
      fields: [{ s: { type: 'string', referenceable: true } }, { t: { type: 'string' } }],
      entity_checks: [{ mutually_exclusive: ['s', 't'] }],
    });
    expect(ok({ f: { s: '{vault://env/x}', t: 'y' } }, f)).toEqual({ f: { s: '{vault://env/x}', t: 'y' } });
  });
});
