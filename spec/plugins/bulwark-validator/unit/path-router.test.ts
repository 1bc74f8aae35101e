import {
  compareSpecificity,
  compileTemplate,
  matchTemplate,
  normalizePathSegments,
  serverBasePath,
} from '../../../../plugins/bulwark-validator/path-router';

describe('normalizePathSegments', () => {
  test.each([
    ['/v1/pets', ['v1', 'pets']],
    ['/v1/pets/', ['v1', 'pets', '']],
    ['//v1///pets', ['v1', 'pets']],
    ['/v1/./pets', ['v1', 'pets']],
    ['/v1/x/../pets', ['v1', 'pets']],
    ['/v1/%2e%2e/admin', ['admin']],
    ['/../../etc', ['etc']],
    ['/v1/p%65ts', ['v1', 'pets']],
    ['/v1/a%2Fb', ['v1', 'a%2Fb']],
    ['/', []],
  ])('%s → %j', (raw, segs) => expect(normalizePathSegments(raw)).toEqual(segs));
  test('not origin-form → undefined', () => expect(normalizePathSegments('v1/pets')).toBeUndefined());
});

describe('templates', () => {
  test('variables match one non-empty segment; values stay raw', () => {
    const t = compileTemplate('/pets/{petId}');
    expect(matchTemplate(t, ['pets', 'a%2Fb'], 0)).toEqual({ petId: 'a%2Fb' });
    expect(matchTemplate(t, ['pets', ''], 0)).toBeUndefined();
    expect(matchTemplate(t, ['pets', '1', 'x'], 0)).toBeUndefined();
  });
  test('mixed segments ({id}.json) and literal segments compared decoded', () => {
    const t = compileTemplate('/files/{name}.{ext}');
    expect(matchTemplate(t, ['files', 'report.pdf'], 0)).toEqual({ name: 'report', ext: 'pdf' });
    expect(matchTemplate(compileTemplate('/a b'), ['a%20b'], 0)).toEqual({});
  });
  test('concrete before templated, position by position', () => {
    const sorted = ['/pets/{id}', '/{a}/mine', '/pets/mine']
      .map((s) => compileTemplate(s))
      .sort(compareSpecificity)
      .map((t) => t.template);
    expect(sorted).toEqual(['/pets/mine', '/pets/{id}', '/{a}/mine']);
  });
});

describe('serverBasePath', () => {
  test.each([
    ['http://petstore.swagger.io/v1', '/v1'],
    ['{scheme}://developer.uspto.gov/ds-api', '/ds-api'],
    ['https://api.example.com', ''],
    ['/api/v3/', '/api/v3'],
    ['v2', '/v2'],
    ['//cdn.example.com/x?y', '/x'],
  ])('%s → %s', (url, base) => expect(serverBasePath(url)).toBe(base));
});
