import { decideScopes, isScopeToken, MAX_SCOPE_PARAM_LENGTH } from '../../../../plugins/bulwark-oauth2/scopes';

const client = { allowed: ['read', 'write', 'admin'], defaults: undefined };

describe('scope decisions (RFC 6749 §3.3)', () => {
  test('no scope requested → all allowed, or the defaults when configured', () => {
    expect(decideScopes(undefined, client)).toEqual({ ok: true, granted: ['read', 'write', 'admin'] });
    expect(decideScopes('', client)).toEqual({ ok: true, granted: ['read', 'write', 'admin'] });
    expect(decideScopes('   ', client)).toEqual({ ok: true, granted: ['read', 'write', 'admin'] });
    expect(decideScopes(undefined, { ...client, defaults: ['read'] })).toEqual({ ok: true, granted: ['read'] });
    expect(decideScopes(undefined, { allowed: [], defaults: undefined })).toEqual({ ok: true, granted: [] });
  });

  test('a subset is granted in request order, duplicates dropped, extra spaces tolerated', () => {
    expect(decideScopes('write read', client)).toEqual({ ok: true, granted: ['write', 'read'] });
    expect(decideScopes('read  read write', client)).toEqual({ ok: true, granted: ['read', 'write'] });
  });

  test('anything outside the allowed set → invalid_scope (nothing is silently dropped)', () => {
    expect(decideScopes('read delete', client)).toMatchObject({ ok: false, error: 'invalid_scope' });
    expect(decideScopes('READ', client)).toMatchObject({ ok: false, error: 'invalid_scope' });
    expect(decideScopes('read', { allowed: [], defaults: undefined })).toMatchObject({
      ok: false,
      error: 'invalid_scope',
    });
  });

  test('malformed scope tokens → invalid_scope; an oversized parameter → invalid_request', () => {
    for (const bad of ['read\twrite', 'a"b', 'a\\b', 'réad', 'read\nwrite']) {
      expect(decideScopes(bad, client)).toMatchObject({ ok: false, error: 'invalid_scope' });
    }
    expect(decideScopes('read '.repeat(MAX_SCOPE_PARAM_LENGTH), client)).toMatchObject({
      ok: false,
      error: 'invalid_request',
    });
  });

  test('scope-token character set', () => {
    for (const ok of ['a', 'orders:read', 'https://api.example.com/x', '!#$[]^~']) expect(isScopeToken(ok)).toBe(true);
    for (const bad of ['', ' ', '"', '\\', 'a b', '\u00e9', '\x7f']) expect(isScopeToken(bad)).toBe(false);
  });
});
