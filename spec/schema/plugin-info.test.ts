import { parseDump, parseDumpWithProtocol, KongStartupError, cleanVersion } from '../../kong/schema/plugin-info';
import { validatePluginSchema } from '../../kong/schema/metaschema';

const configFields = [
  { limit: { type: 'integer', default: 10, between: [1, 100], description: 'How many requests per window.' } },
  { mode: { type: 'string', one_of: ['block', 'log'], default: 'block' } },
];
const entry = (over: Record<string, unknown> = {}, fields: unknown[] = configFields) => ({
  Name: 'probe',
  Version: '1.2.3',
  Phases: ['access'],
  Priority: 1500,
  Schema: { name: 'probe', fields: [{ config: { type: 'record', fields } }] },
  ...over,
});
const dump = (...entries: unknown[]) => JSON.stringify(entries);

describe('plugin info dump (kong/runloop/plugin_servers/process.lua, kong/db/dao/plugins.lua)', () => {
  it("process.lua: accepts a pure JSON array, keeping Kong's default protocol MsgPack:1", () => {
    const parsed = parseDumpWithProtocol(dump(entry()));
    expect(parsed.protocol).toBe('MsgPack:1');
    expect(parsed.plugins[0]).toMatchObject({ Name: 'probe', Version: '1.2.3', Priority: 1500, Phases: ['access'] });
  });

  it('process.lua: accepts {Protocol, Plugins}', () => {
    const parsed = parseDumpWithProtocol(JSON.stringify({ Protocol: 'ProtoBuf:1', Plugins: [entry()] }));
    expect(parsed.protocol).toBe('ProtoBuf:1');
    expect(parsed.plugins).toHaveLength(1);
  });

  it('process.lua: stdout must be only JSON; a log line before it stops Kong ("failed decoding plugin info")', () => {
    expect(() => parseDump('starting plugin server\n' + dump(entry()))).toThrow(KongStartupError);
    expect(() => parseDump('starting plugin server\n' + dump(entry()))).toThrow(/failed decoding plugin info/);
  });

  it("process.lua: empty output gives cjson's T_END message", () => {
    expect(() => parseDump('')).toThrow('failed decoding plugin info: Expected value but found T_END at character 1');
  });

  it('process.lua: a JSON scalar is "not a plugin info table"', () => {
    expect(() => parseDump('42')).toThrow(/not a plugin info table/);
  });

  it('dao/plugins.lua validate_priority: Priority 1.5 is not a valid integer number', () => {
    expect(() => parseDump(dump(entry({ Priority: 1.5 })))).toThrow(
      'Plugin "probe" cannot be loaded because its PRIORITY field is not a valid integer number, got: "1.5"',
    );
  });

  it('dao/plugins.lua validate_priority: a string Priority is refused too', () => {
    expect(() => parseDump(dump(entry({ Priority: '10' })))).toThrow(
      /PRIORITY field is not a valid integer number, got: "10"/,
    );
  });

  it('dao/plugins.lua validate_version: a missing Version (dropped by JSON.stringify) stops Kong', () => {
    expect(() => parseDump(dump(entry({ Version: undefined })))).toThrow(
      'Plugin "probe" cannot be loaded because its VERSION field does not follow the "x.y.z" format, got: "nil"',
    );
  });

  it('dao/plugins.lua validate_version: four elements ("1.0.0.0") are refused', () => {
    expect(() => parseDump(dump(entry({ Version: '1.0.0.0' })))).toThrow(
      /VERSION field does not follow the "x.y.z" format, got: "1.0.0.0"/,
    );
  });

  it('version rock 1.0.1 (non-strict) as used by validate_version: "1.0" is ACCEPTED, "v1.2.3-beta" cleans to 1.2.3', () => {
    // An earlier version of ../../docs/kong-protocol.md §1.2 said "1.0" stops Kong; the rock only refuses > 3
    // elements.
    expect(parseDump(dump(entry({ Version: '1.0' })))[0].Version).toBe('1.0');
    expect(cleanVersion('v1.2.3-beta')).toBe('1.2.3');
    expect(cleanVersion('abc')).toBeUndefined();
    expect(cleanVersion('1..2')).toBeUndefined();
  });

  it('process.lua: a missing Name is fatal', () => {
    expect(() => parseDump(dump(entry({ Name: undefined })))).toThrow(KongStartupError);
  });

  it('plugin_loader.lua + metaschema.lua: an unknown field attribute stops Kong', () => {
    const bad = entry({}, [{ limit: { type: 'integer', defualt: 10 } }]);
    expect(() => parseDump(dump(bad))).toThrow(
      /on plugin 'probe': schema violation \(config\.limit\.defualt: unknown field\)/,
    );
  });

  it('metaschema.lua: description shorter than 10 characters stops Kong', () => {
    const bad = entry({}, [{ limit: { type: 'integer', description: 'limit' } }]);
    expect(() => parseDump(dump(bad))).toThrow(/config\.limit\.description: length must be at least 10/);
  });
});

describe('metaschema (kong/db/schema/metaschema.lua MetaSubSchema)', () => {
  const schema = (fields: unknown[]) => ({ name: 'p', fields: [{ config: { type: 'record', fields } }] });
  const errs = (def: Record<string, unknown>) => validatePluginSchema(schema([{ f: def }]));

  it('accepts a well-formed schema', () => {
    expect(validatePluginSchema(schema(configFields))).toEqual([]);
  });
  it('type must be one of the valid types; missing type is "missing type declaration"', () => {
    expect(errs({ type: 'text' })[0]).toMatch(/^config\.f\.type: expected one of: array, set, string/);
    expect(errs({ required: true })).toEqual(['config.f: missing type declaration']);
  });
  it('array/set need elements, map needs keys and values, record needs fields', () => {
    expect(errs({ type: 'array' })).toEqual(["config.f: field of type 'array' must declare 'elements'"]);
    expect(errs({ type: 'set' })).toEqual(["config.f: field of type 'set' must declare 'elements'"]);
    expect(errs({ type: 'map', keys: { type: 'string' } })).toEqual([
      "config.f: field of type 'map' must declare 'values'",
    ]);
    expect(errs({ type: 'record' })).toEqual(["config.f: field of type 'record' must declare 'fields'"]);
  });
  it('description must be 10..500 bytes', () => {
    expect(errs({ type: 'string', description: 'x'.repeat(501) })).toEqual([
      'config.f.description: length must be at most 500',
    ]);
    expect(errs({ type: 'string', description: 'x'.repeat(10) })).toEqual([]);
  });
  it('validator arguments: between two numbers, one_of an array, len_min an integer, match_all rules', () => {
    expect(errs({ type: 'integer', between: [1] })).toEqual(['config.f.between: length must be 2']);
    expect(errs({ type: 'integer', between: [1, 'x'] })).toEqual(['config.f.between: [2]: expected a number']);
    expect(errs({ type: 'string', one_of: 'a' })).toEqual(['config.f.one_of: expected an array']);
    expect(errs({ type: 'string', len_min: 1.5 })).toEqual(['config.f.len_min: expected an integer']);
    expect(errs({ type: 'string', match_all: [{ err: 'x' }] })).toEqual([
      'config.f.match_all: [1]: pattern: required field missing',
    ]);
  });
  it('attribute_types: between only on numbers, one_of not on booleans', () => {
    expect(errs({ type: 'string', between: [1, 2] })).toEqual([
      "config.f: field of type 'string' cannot have attribute 'between'",
    ]);
    expect(errs({ type: 'boolean', one_of: [true] })).toEqual([
      "config.f: field of type 'boolean' cannot have attribute 'one_of'",
    ]);
  });
  it('default must itself be valid for the field (default = { type = "self" })', () => {
    expect(errs({ type: 'integer', default: 'ten' })).toEqual(['config.f.default: expected an integer']);
    expect(errs({ type: 'string', default: '' })).toEqual(['config.f.default: length must be at least 1']);
    expect(errs({ type: 'integer', between: [1, 5], default: 9 })).toEqual([
      'config.f.default: value should be between 1 and 5',
    ]);
  });
  it('nested elements and records are checked too', () => {
    expect(errs({ type: 'array', elements: { type: 'strin' } })[0]).toMatch(
      /^config\.f\.elements\.type: expected one of/,
    );
    expect(errs({ type: 'record', fields: [{ g: { type: 'integer', bogus: 1 } }] })).toEqual([
      'config.f.g.bogus: unknown field',
    ]);
  });
});

describe('metaschema: entity_checks of records (metaschema.lua entity_checkers, entity_checks_schema)', () => {
  const rec = (checks: unknown) =>
    validatePluginSchema({
      name: 'p',
      fields: [
        {
          config: {
            type: 'record',
            fields: [
              {
                r: {
                  type: 'record',
                  fields: [{ a: { type: 'string' } }, { b: { type: 'boolean' } }],
                  entity_checks: checks,
                },
              },
            ],
          },
        },
      ],
    });
  it('accepts the checkers a JSON schema can carry', () => {
    expect(
      rec([
        { only_one_of: ['a', 'b'] },
        {
          conditional: {
            if_field: 'b',
            if_match: { eq: true },
            then_field: 'a',
            then_match: { match: '^https://', required: true },
          },
        },
        {
          conditional_at_least_one_of: {
            if_field: 'b',
            if_match: { eq: true },
            then_at_least_one_of: ['a'],
            then_err: 'x %s',
          },
        },
        { mutually_exclusive_sets: { set1: ['a'], set2: ['b'] } },
      ]),
    ).toEqual([]);
  });
  it('refuses an unknown checker, a bad argument, a validator outside conditional_validators and custom_entity_check', () => {
    expect(rec([{ at_most_one_of: ['a'] }])).toEqual(['config.r.entity_checks: [1]: at_most_one_of: unknown field']);
    expect(rec([{ only_one_of: 'a' }])).toEqual(['config.r.entity_checks: [1]: only_one_of: expected an array']);
    expect(rec([{ conditional: { if_field: 'b', if_match: { default: 1 } } }])).toEqual([
      'config.r.entity_checks: [1]: conditional: if_match: default: unknown field',
    ]);
    expect(rec([{ custom_entity_check: { field_sources: ['a'] } }])).toEqual([
      'config.r.entity_checks: [1]: custom_entity_check: fn: expected a function',
    ]);
  });
});
