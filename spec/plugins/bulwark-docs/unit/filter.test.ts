// Per-caller filtering by the operations' security requirement scopes, and the per-(version, visible set) cache.
import type { BulwarkIdentity } from '../../../../plugins/lib/identity';
import { parseDocsConfig, type DocsConfig } from '../../../../plugins/bulwark-docs/config';
import {
  filterDocument,
  operationAccess,
  operationTemplates,
  templateCoverage,
  visibleByAllowed,
  visibleByScopes,
} from '../../../../plugins/bulwark-docs/filter';
import { DocumentPublisher, ifNoneMatchHits } from '../../../../plugins/bulwark-docs/publish';
import { redactDocument, type JsonObject } from '../../../../plugins/bulwark-docs/redact';
import { PETSTORE_INTERNAL_FILE, petstoreInternal, uspto } from '../fixtures';

const redacted = () =>
  redactDocument(petstoreInternal(), { removeExtensions: [], apiKeyPrefixes: ['bwk_live'], publicBaseUrl: undefined });

function identity(scopes: string[], authenticated = true): BulwarkIdentity {
  return {
    v: 1,
    authenticated,
    authenticatedBy: 'bulwark-jwt',
    method: authenticated ? 'jwt' : 'anonymous',
    subject: 'ann',
    scopes,
    groups: [],
    claims: {},
  };
}

describe('scopes mode', () => {
  const ops = operationAccess(redacted());

  test('a reader sees the read operations and the public one; a writer also POST; an admin everything', () => {
    expect(visibleByScopes(ops, identity(['pets:read']))).toEqual(['GET /pets', 'GET /pets/{id}', 'GET /health']);
    expect(visibleByScopes(ops, identity(['pets:read', 'pets:write']))).toEqual([
      'GET /pets',
      'POST /pets',
      'GET /pets/{id}',
      'GET /health',
    ]);
    expect(visibleByScopes(ops, identity(['pets:read', 'pets:write', 'pets:admin']))).toHaveLength(5);
  });

  test('no identity, or an anonymous one, sees only public operations (scopes of an anonymous record ignored)', () => {
    expect(visibleByScopes(ops, undefined)).toEqual(['GET /health']);
    expect(visibleByScopes(ops, identity(['pets:read', 'pets:admin'], false))).toEqual(['GET /health']);
  });

  test('a requirement listing no scopes is met by any authenticated caller; alternatives are OR, entries AND', () => {
    const doc: JsonObject = {
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: {
        '/a': { get: { security: [{ key: [] }], responses: {} } },
        '/b': { get: { security: [{ o: ['x', 'y'] }, { o: ['z'] }], responses: {} } },
      },
    };
    const o = operationAccess(doc);
    expect(visibleByScopes(o, identity([]))).toEqual(['GET /a']);
    expect(visibleByScopes(o, identity(['x']))).toEqual(['GET /a']);
    expect(visibleByScopes(o, identity(['x', 'y']))).toEqual(['GET /a', 'GET /b']);
    expect(visibleByScopes(o, identity(['z']))).toEqual(['GET /a', 'GET /b']);
  });

  test('the filtered document loses the hidden operations and emptied path items; components still reached stay', () => {
    const doc = filterDocument(redacted(), new Set(visibleByScopes(ops, identity(['pets:read']))));
    expect(Object.keys(doc.paths as object)).toEqual(['/pets', '/pets/{id}', '/health']);
    expect((doc.paths as Record<string, object>)['/pets']).not.toHaveProperty('post');
    expect((doc.paths as Record<string, object>)['/pets/{id}']).not.toHaveProperty('delete');
    // NewPet is reached through Pet's allOf, so it stays; nothing unreachable remains.
    expect(Object.keys((doc.components as { schemas: object }).schemas).sort()).toEqual(['Error', 'NewPet', 'Pet']);
  });

  test('a real document without security (USPTO): everything is public, nothing filtered', () => {
    const doc = redactDocument(uspto(), { removeExtensions: [], apiKeyPrefixes: [] });
    const o = operationAccess(doc);
    expect(visibleByScopes(o, undefined)).toHaveLength(o.length);
  });
});

describe('DocumentPublisher', () => {
  test('one serialisation per visible set: two callers with the same set share it, another set gets its own', () => {
    const p = new DocumentPublisher(redacted(), 'scopes');
    const a = p.documentFor(identity(['pets:read'], true));
    const b = p.documentFor({ ...identity(['pets:read', 'other']), subject: 'bob' });
    expect(b).toBe(a);
    const c = p.documentFor(identity(['pets:read', 'pets:write']));
    expect(c.etag).not.toBe(a.etag);
    expect(p.cachedSets).toBe(2);
    expect(a.perCaller).toBe(true);
    expect(a.operations).toBe(3);
    expect(JSON.parse(c.body).paths['/pets'].post).toBeDefined();
    expect(JSON.parse(a.body).paths['/pets'].post).toBeUndefined();
  });

  test('the ETag changes with the document version', () => {
    const a = new DocumentPublisher(redacted(), 'none').documentFor(undefined);
    const changed = redacted();
    (changed.info as JsonObject).version = '1.0.1';
    const b = new DocumentPublisher(changed, 'none').documentFor(undefined);
    expect(a.perCaller).toBe(false);
    expect(a.operations).toBe(5);
    expect(b.etag).not.toBe(a.etag);
  });

  test('If-None-Match: exact, list, weak form and * match; others do not', () => {
    expect(ifNoneMatchHits('"abc"', '"abc"')).toBe(true);
    expect(ifNoneMatchHits('"x", W/"abc"', '"abc"')).toBe(true);
    expect(ifNoneMatchHits('*', '"abc"')).toBe(true);
    expect(ifNoneMatchHits('"abd"', '"abc"')).toBe(false);
    expect(ifNoneMatchHits(undefined, '"abc"')).toBe(false);
  });
});

describe('templateCoverage: an allowed template against a documented one, segment by segment', () => {
  test.each([
    ['/v2/pets/{petId}', '/v2/pets/{id}', 'all'], // variable names do not matter
    ['/v2/pets/{id}', '/v2/pets/mine', 'all'], // a variable matches any literal
    ['/v2/pets/mine', '/v2/pets/{id}', 'some'], // some values of {id} only
    ['/v2/pets', '/v2/pets/{id}', 'none'], // one segment fewer
    ['/pets/{id}', '/v2/pets/{id}', 'none'], // no base path
    ['/v2/pets/a', '/v2/pets/b', 'none'],
  ] as const)('%s over %s: %s', (allowed, documented, expected) => {
    expect(templateCoverage(allowed, documented)).toBe(expected);
  });
});

describe("authz mode: the operations bulwark-authz's rules allow the caller (allowedOperations)", () => {
  const RULES = [
    { name: 'list-pets', methods: ['GET'], path: '/v2/pets', scopes_all: ['pets:read'] },
    { name: 'read-pet', methods: ['GET'], path: '/v2/pets/{petId}', groups_any: ['staff', 'vets'] },
    // Object level: staff may delete the pets they own (the caller's subject in {id}): for some requests.
    {
      name: 'delete-own-pet',
      methods: ['DELETE'],
      path: '/v2/pets/{id}',
      groups_any: ['staff'],
      objects: [{ param: 'id', equals: 'subject' }],
    },
    { name: 'add-pet', operation_id: 'addPet', scopes_all: ['pets:write'] },
    { name: 'no-interns-reading', effect: 'deny', methods: ['GET'], path: '/v2/pets/{petId}', groups_any: ['interns'] },
  ];
  const conf = (conditional?: 'list' | 'hide') =>
    parseDocsConfig({
      openapi: { spec_file: PETSTORE_INTERNAL_FILE },
      filter: 'authz',
      authz: { rules: RULES, ...(conditional === undefined ? {} : { conditional }) },
    });
  const paths = (conf: DocsConfig, who: BulwarkIdentity | undefined) => {
    const doc = JSON.parse(conf.publisher.documentFor(who).body) as JsonObject;
    return Object.entries(doc.paths as Record<string, JsonObject>).flatMap(([p, item]) =>
      Object.keys(item)
        .filter((k) => /^(get|post|put|delete|patch)$/.test(k))
        .map((m) => `${m.toUpperCase()} ${p}`),
    );
  };
  const withGroups = (scopes: string[], groups: string[]): BulwarkIdentity => ({ ...identity(scopes), groups });

  test('callers with different scopes and groups see different operations; one with none sees none', () => {
    const c = conf();
    expect(paths(c, identity(['pets:read']))).toEqual(['GET /pets']);
    expect(paths(c, identity(['pets:read', 'pets:write']))).toEqual(['GET /pets', 'POST /pets']); // operation_id
    expect(paths(c, withGroups([], ['staff']))).toEqual(['GET /pets/{id}', 'DELETE /pets/{id}']);
    expect(paths(c, identity([]))).toEqual([]);
    expect(paths(c, identity(['pets:read'], false))).toEqual([]); // anonymous: the allow rules need a caller
    // The internal operations stay out whatever the rules say (redaction comes first).
    expect(c.publisher.documentFor(withGroups(['pets:read', 'pets:write'], ['staff'])).operations).toBe(4);
  });

  test("a 'conditional' operation (object-level rule) is listed by default, left out with conditional: hide", () => {
    expect(paths(conf('list'), withGroups([], ['staff']))).toContain('DELETE /pets/{id}');
    expect(paths(conf('hide'), withGroups([], ['staff']))).toEqual(['GET /pets/{id}']);
  });

  test('a deny rule that holds for the caller takes the operation out', () => {
    expect(paths(conf(), withGroups([], ['vets']))).toEqual(['GET /pets/{id}']);
    expect(paths(conf(), withGroups([], ['vets', 'interns']))).toEqual([]);
  });

  test('each visible set is one cached, private document with its own ETag', () => {
    const c = conf();
    const reader = c.publisher.documentFor(identity(['pets:read']));
    const staff = c.publisher.documentFor(withGroups([], ['staff']));
    expect(reader.perCaller).toBe(true);
    expect(reader.etag).not.toBe(staff.etag);
    expect(c.publisher.documentFor({ ...identity(['pets:read']), subject: 'bob' })).toBe(reader);
  });

  test('the rules are checked as bulwark-authz checks them, the field named under authz', () => {
    const bad = (rules: unknown[]) => () =>
      parseDocsConfig({ openapi: { spec_file: PETSTORE_INTERNAL_FILE }, filter: 'authz', authz: { rules } });
    expect(bad([])).toThrow('authz.rules: filter authz needs');
    expect(bad([{ name: 'x', path: 'pets' }])).toThrow('authz.rules[0] (x).path');
    expect(bad([{ name: 'x', operation_id: 'nope' }])).toThrow('authz.rules[0] (x).operation_id');
  });

  test('allowed templates map onto the document by method and full template (base path + path)', () => {
    const ops = operationAccess(redacted());
    const templates = operationTemplates(petstoreInternal() as JsonObject);
    const allowed = [
      { method: 'GET', path_template: '/v2/pets', access: 'always' },
      { method: '*', path_template: '/v2/pets/{petId}', access: 'always' },
      { method: 'POST', path_template: '/pets', access: 'always' }, // without the base path: not this document's
    ] as const;
    expect(visibleByAllowed(ops, allowed, templates, 'list')).toEqual([
      'GET /pets',
      'GET /pets/{id}',
      'DELETE /pets/{id}',
    ]);
    expect(visibleByAllowed(ops, [], templates, 'list')).toEqual([]);
  });
});
