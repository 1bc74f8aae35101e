import { errorResponse, successResponse } from '../../../../plugins/bulwark-oauth2/oauth-errors';
import { tooManyFailures } from '../../../../plugins/bulwark-oauth2/handler';

describe('RFC 6749 §5.2 error mapping', () => {
  const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

  test.each([
    'invalid_request',
    'invalid_scope',
    'unsupported_grant_type',
    'invalid_grant',
    'unauthorized_client',
  ] as const)('%s → 400, no-store, JSON {error, error_description}', (code) => {
    const r = errorResponse({ code, description: 'why' });
    expect(r.status).toBe(400);
    expect(r.headers).toMatchObject({ ...noStore, 'Content-Type': 'application/json; charset=utf-8' });
    expect(JSON.parse(r.body)).toEqual({ error: code, error_description: 'why' });
  });

  test('invalid_client over Basic → 401 with WWW-Authenticate: Basic; over the body → 400 without a challenge', () => {
    const basic = errorResponse({ code: 'invalid_client', description: 'x', basicChallenge: true });
    expect(basic.status).toBe(401);
    expect(basic.headers['WWW-Authenticate']).toBe('Basic realm="bulwark-oauth2", charset="UTF-8"');
    const body = errorResponse({ code: 'invalid_client', description: 'x' });
    expect(body.status).toBe(400);
    expect(body.headers['WWW-Authenticate']).toBeUndefined();
  });

  test('explicit statuses and extra headers (405 Allow, 413, 429 Retry-After) keep no-store', () => {
    expect(
      errorResponse({ code: 'invalid_request', description: 'x', status: 405, headers: { Allow: 'POST' } }),
    ).toMatchObject({ status: 405, headers: { ...noStore, Allow: 'POST' } });
    const locked = errorResponse(tooManyFailures(42));
    expect(locked.status).toBe(429);
    expect(locked.headers).toMatchObject({ ...noStore, 'Retry-After': '42' });
  });

  test('success → 200, no-store, the token response members', () => {
    const r = successResponse({ access_token: 't', token_type: 'Bearer', expires_in: 300, scope: 'a b' });
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject(noStore);
    expect(JSON.parse(r.body)).toEqual({ access_token: 't', token_type: 'Bearer', expires_in: 300, scope: 'a b' });
  });
});
