// Per-caller filtering by the operations' security requirement scopes, and the per-(version, visible set) cache.
import type { BulwarkIdentity } from '../../../../plugins/lib/identity';
import {
  filterDocument,
  operationAccess,
  visibleByAllowed,
  visibleByScopes,
} from '../../../../plugins/bulwark-docs/filter';
import { DocumentPublisher, ifNoneMatchHits } from '../../../../plugins/bulwark-docs/publish';
import { redactDocument, type JsonObject } from '../../../../plugins/bulwark-docs/redact';
import { petstoreInternal, uspto } from '../fixtures';

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

describe('the authz seam (bulwark-authz allowedOperations entries → visible operations)', () => {
  const ops = operationAccess(redacted());

  test('method and full template (base path + path) must match; * stands for every method', () => {
    const allowed = [
      { method: 'GET', path_template: '/v2/pets' },
      { method: '*', path_template: '/v2/pets/{id}' },
      { method: 'POST', path_template: '/pets' }, // without the base path: not this document's operation
    ];
    expect(visibleByAllowed(ops, allowed, ['/v2'])).toEqual(['GET /pets', 'GET /pets/{id}', 'DELETE /pets/{id}']);
    expect(visibleByAllowed(ops, [], ['/v2'])).toEqual([]);
  });
});
