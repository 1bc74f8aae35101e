import { ConfigError } from '../../../../plugins/lib/config';
import { createAjv } from '../../../../plugins/bulwark-validator/ajv-setup';
import {
  convertDraft04Schema,
  convertOas30Schema,
  convertOas31Schema,
} from '../../../../plugins/bulwark-validator/schema-dialect';

const noRefs = () => undefined;

describe('OpenAPI 3.0 → draft-07', () => {
  test('nullable adds null to the type (and to an enum)', () => {
    expect(convertOas30Schema({ type: 'string', nullable: true, enum: ['a'] }, 's', noRefs)).toEqual({
      type: ['string', 'null'],
      enum: ['a', null],
    });
    expect(convertOas30Schema({ nullable: true }, 's', noRefs)).toEqual({});
  });
  test('boolean exclusive bounds become numeric ones', () => {
    expect(
      convertOas30Schema(
        { type: 'integer', maximum: 10, exclusiveMaximum: true, minimum: 0, exclusiveMinimum: false },
        's',
        noRefs,
      ),
    ).toEqual({ type: 'integer', exclusiveMaximum: 10, minimum: 0 });
  });
  test('$ref siblings are ignored, OAS annotations dropped, nested schemas converted', () => {
    const out = convertOas30Schema(
      {
        type: 'object',
        example: {},
        properties: { a: { $ref: '#/x', nullable: true }, nullable: { type: 'integer', nullable: true } },
        items: { type: 'string', xml: {} },
      },
      's',
      noRefs,
    );
    expect(out).toEqual({
      type: 'object',
      properties: { a: { $ref: '#/x' }, nullable: { type: ['integer', 'null'] } },
      items: { type: 'string' },
    });
  });
  test('readOnly properties (directly or through $ref) are not required in requests', () => {
    const resolve = (ref: string) =>
      ref === '#/components/schemas/Id' ? { type: 'integer', readOnly: true } : undefined;
    const out = convertOas30Schema(
      {
        type: 'object',
        required: ['id', 'ref', 'name'],
        properties: {
          id: { type: 'integer', readOnly: true },
          ref: { $ref: '#/components/schemas/Id' },
          name: { type: 'string' },
        },
      },
      's',
      resolve,
    );
    expect((out as { required: string[] }).required).toEqual(['name']);
  });
  test('additionalProperties: false stays a boolean schema', () => {
    expect(convertOas30Schema({ type: 'object', additionalProperties: false }, 's', noRefs)).toEqual({
      type: 'object',
      additionalProperties: false,
    });
  });
  test('a non-object schema is a config error naming the location', () => {
    expect(() => convertOas30Schema({ properties: { a: 5 } }, 'components.schemas.Pet', noRefs)).toThrow(
      new ConfigError('components.schemas.Pet.properties.a', 'an OpenAPI 3.0 schema must be an object'),
    );
  });
});

describe('OpenAPI 3.1', () => {
  test('keeps JSON Schema 2020-12 as is (boolean schemas too), only the request view changes', () => {
    expect(
      convertOas31Schema(
        { type: ['string', 'null'], prefixItems: [true], required: ['a'], properties: { a: { readOnly: true } } },
        's',
        noRefs,
      ),
    ).toEqual({ type: ['string', 'null'], prefixItems: [true], required: [], properties: { a: { readOnly: true } } });
  });
});

describe('draft-04 → draft-07', () => {
  const ajv = createAjv('draft-07', false);
  test('id → $id and boolean exclusive bounds, with draft-04 semantics', () => {
    const out = convertDraft04Schema(
      {
        $schema: 'http://json-schema.org/draft-04/schema#',
        id: 'http://x/s',
        type: 'number',
        maximum: 5,
        exclusiveMaximum: true,
        properties: { id: { type: 'string' } },
      },
      'body',
    );
    expect(out).toEqual({
      $id: 'http://x/s',
      type: 'number',
      exclusiveMaximum: 5,
      properties: { id: { type: 'string' } },
    });
    const v = ajv.compile(out as object);
    expect(v(4.9)).toBe(true);
    expect(v(5)).toBe(false);
  });
  test('refuses keywords draft-04 would ignore, and boolean schemas', () => {
    expect(() => convertDraft04Schema({ properties: { a: { const: 1 } } }, 'b')).toThrow(
      "b.properties.a.const: 'const' is not a draft-04 keyword",
    );
    expect(() => convertDraft04Schema({ items: true }, 'b')).toThrow('b.items: a draft-04 schema must be an object');
    expect(() => convertDraft04Schema({ maximum: 1, exclusiveMaximum: 1 }, 'b')).toThrow(
      'b.exclusiveMaximum: must be a boolean in draft-04',
    );
    expect(() => convertDraft04Schema({ $schema: 'http://json-schema.org/draft-07/schema#' }, 'b')).toThrow(
      'b.$schema',
    );
  });
});

describe('formats are linear-time and OpenAPI-aware', () => {
  const ajv = createAjv('2020-12', false);
  const check = (format: string, type: string, value: unknown) => ajv.validate({ type, format }, value);
  test.each([
    ['int32', 'integer', 2147483647, true],
    ['int32', 'integer', 2147483648, false],
    ['date', 'string', '2024-02-29', true],
    ['date', 'string', '2023-02-29', false],
    ['date', 'string', '2024-13-01', false],
    ['date-time', 'string', '2024-01-01T10:00:00.5Z', true],
    ['date-time', 'string', '2024-01-01T25:00:00Z', false],
    ['email', 'string', 'a.b@example.com', true],
    ['email', 'string', 'a@@b.c', false],
    ['email', 'string', 'a@b', false],
    ['uuid', 'string', '123e4567-e89b-12d3-a456-426614174000', true],
    ['uuid', 'string', '123', false],
    ['ipv4', 'string', '10.0.0.1', true],
    ['ipv6', 'string', '::1', true],
    ['ipv4', 'string', '::1', false],
    ['byte', 'string', 'aGk=', true],
    ['byte', 'string', 'a', false],
    ['uriref', 'string', 'anything', true], // unknown formats are ignored (OAS: formats are open)
  ])('%s %s %j → %s', (format, type, value, ok) => expect(check(format, type, value)).toBe(ok));

  test('no catastrophic backtracking on long hostile input', () => {
    const hostile = `${'a.'.repeat(50000)}@`;
    const t = Date.now();
    check('email', 'string', hostile);
    check('hostname', 'string', 'a-'.repeat(50000));
    expect(Date.now() - t).toBeLessThan(2000);
  });
});
