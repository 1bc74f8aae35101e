import { foldHeaderName, verifiedHeaderChanges } from '../../plugins/lib/verified-headers';

describe('foldHeaderName', () => {
  test('CGI folding: case and _ vs - do not matter', () => {
    expect(foldHeaderName('X_Auth-Subject')).toBe(foldHeaderName('x-auth_SUBJECT'));
    expect(foldHeaderName('X-Auth-Subject')).not.toBe(foldHeaderName('X-AuthSubject'));
  });
});

describe('verifiedHeaderChanges', () => {
  test('sets the facts and clears every other spelling of them; the exact name is replaced by setHeaders', () => {
    const inbound = {
      'x-auth-subject': ['forged', 'forged2'],
      x_auth_subject: ['forged'],
      'x_auth-subject': ['forged'],
      accept: ['*/*'],
    };
    expect(verifiedHeaderChanges(inbound, { 'X-Auth-Subject': 'alice' })).toEqual({
      set: { 'X-Auth-Subject': 'alice' },
      clear: ['x_auth_subject', 'x_auth-subject'],
    });
  });

  test('withheld names: every spelling cleared, the exact one included', () => {
    const inbound = { 'x-auth-email': ['a'], x_auth_email: ['b'], 'x-other': ['c'] };
    expect(verifiedHeaderChanges(inbound, {}, ['X-Auth-Email'])).toEqual({
      set: {},
      clear: ['x-auth-email', 'x_auth_email'],
    });
  });

  test('nothing to clear when no spelling was sent (no RPC)', () => {
    expect(verifiedHeaderChanges({ accept: ['*/*'] }, { 'X-Sub': 'a' }, ['X-Email']).clear).toEqual([]);
  });
});
