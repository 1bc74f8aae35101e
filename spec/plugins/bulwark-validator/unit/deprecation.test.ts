// bulwark-validator's deprecation facts (deprecation.ts): what the document says per operation, the RFC 9745 and
// RFC 8594 header values, and a config with a malformed date refused with the field named.
import { deprecationHeaders, readDeprecation } from '../../../../plugins/bulwark-validator/deprecation';
import { parseValidatorConfig } from '../../../../plugins/bulwark-validator/config';

describe('readDeprecation', () => {
  test('deprecated, x-deprecation-date and x-sunset; nothing for a current operation', () => {
    expect(readDeprecation({ responses: {} }, 'paths./a.get')).toBeUndefined();
    expect(readDeprecation({ deprecated: true }, 'paths./a.get')).toEqual({ deprecated: true });
    expect(
      readDeprecation(
        { deprecated: true, 'x-deprecation-date': '2026-01-01', 'x-sunset': '2026-06-30T12:00:00Z' },
        'x',
      ),
    ).toEqual({ deprecated: true, since: Date.UTC(2026, 0, 1) / 1000, sunset: Date.UTC(2026, 5, 30, 12) / 1000 });
  });

  test('a malformed date is refused naming the operation and the field', () => {
    expect(() => readDeprecation({ 'x-sunset': 'next year' }, 'paths./a.get')).toThrow(/paths\.\/a\.get\.x-sunset/);
    const spec = JSON.stringify({
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      paths: { '/a': { get: { 'x-sunset': 'soon', responses: { 200: { description: 'ok' } } } } },
    });
    expect(() => parseValidatorConfig({ openapi: { spec, deprecation_headers: true } })).toThrow(/x-sunset/);
  });
});

describe('deprecationHeaders', () => {
  test('Deprecation is an sf-date (@seconds), Sunset an HTTP-date', () => {
    expect(deprecationHeaders({ deprecated: true, since: 1767225600, sunset: 1782777600 })).toEqual({
      Deprecation: '@1767225600',
      Sunset: 'Tue, 30 Jun 2026 00:00:00 GMT',
    });
  });

  test('deprecated without a date: no Deprecation header (RFC 9745 needs a date); nothing at all for no facts', () => {
    expect(deprecationHeaders({ deprecated: true })).toBeUndefined();
    expect(deprecationHeaders({ deprecated: true, sunset: 1782777600 })).toEqual({
      Sunset: 'Tue, 30 Jun 2026 00:00:00 GMT',
    });
    expect(deprecationHeaders(undefined)).toBeUndefined();
  });
});
