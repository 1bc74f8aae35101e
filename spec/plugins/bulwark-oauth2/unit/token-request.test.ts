import {
  checkEnvelope,
  extractTokenRequest,
  formDecode,
  isFormContentType,
  parseForm,
} from '../../../../plugins/bulwark-oauth2/token-request';

const FORM = { 'content-type': ['application/x-www-form-urlencoded'], 'content-length': ['40'] };
const b64 = (s: string) => Buffer.from(s).toString('base64');

function form(body: string): Map<string, string[]> {
  const r = parseForm(body);
  if (!r.ok) throw new Error('unexpected parse failure');
  return r.value;
}

describe('the HTTP envelope', () => {
  test('POST with a form body and a Content-Length within the limit passes', () => {
    expect(checkEnvelope('POST', FORM, 4096)).toEqual({ ok: true, value: 40 });
    expect(
      checkEnvelope('POST', { ...FORM, 'content-type': ['Application/X-WWW-Form-Urlencoded; charset=UTF-8'] }, 4096).ok,
    ).toBe(true);
  });

  test.each([
    ['GET', FORM, 405, 'invalid_request'],
    ['PUT', FORM, 405, 'invalid_request'],
    ['POST', { ...FORM, 'content-type': ['application/json'] }, undefined, 'invalid_request'],
    [
      'POST',
      { ...FORM, 'content-type': ['application/x-www-form-urlencoded; charset=iso-8859-1'] },
      undefined,
      'invalid_request',
    ],
    [
      'POST',
      { ...FORM, 'content-type': ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'] },
      undefined,
      'invalid_request',
    ],
    ['POST', { 'content-length': ['3'] }, undefined, 'invalid_request'],
    ['POST', { 'content-type': FORM['content-type'] }, 411, 'invalid_request'],
    ['POST', { ...FORM, 'content-length': ['5000'] }, 413, 'invalid_request'],
    ['POST', { ...FORM, 'content-length': ['-1'] }, undefined, 'invalid_request'],
    ['POST', { ...FORM, 'content-length': ['10', '10'] }, undefined, 'invalid_request'],
    ['POST', { ...FORM, 'content-length': ['1e3'] }, undefined, 'invalid_request'],
  ])('%s %j → %s %s', (method, headers, status, code) => {
    const r = checkEnvelope(method, headers as Record<string, string[]>, 4096);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(code);
      expect(r.error.status).toBe(status);
    }
  });

  test('405 carries Allow: POST', () => {
    const r = checkEnvelope('GET', FORM, 4096);
    expect(!r.ok && r.error.headers).toEqual({ Allow: 'POST' });
  });

  test('form content type matching', () => {
    expect(isFormContentType('application/x-www-form-urlencoded;charset="utf-8"')).toBe(true);
    expect(isFormContentType('application/x-www-form-urlencodedx')).toBe(false);
    expect(isFormContentType('multipart/form-data; boundary=x')).toBe(false);
  });
});

describe('form-urlencoded parsing', () => {
  test('+ is a space, %XX is decoded (UTF-8), repeated names are kept', () => {
    expect(formDecode('a+b%2Bc%3A%C3%A9')).toBe('a b+c:é');
    expect([...form('a=1&b=&c&a=2').entries()]).toEqual([
      ['a', ['1', '2']],
      ['b', ['']],
      ['c', ['']],
    ]);
  });

  test.each(['a=%zz', 'a=%4', 'a=%C3', 'a=é', '%=1'])('refuses %j', (body) => {
    expect(parseForm(body)).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
  });

  test('refuses too many parameters', () => {
    expect(parseForm(Array.from({ length: 40 }, (_, i) => `p${i}=1`).join('&'))).toMatchObject({ ok: false });
  });
});

describe('the token request', () => {
  const grant = 'grant_type=client_credentials';

  test('HTTP Basic credentials (form-urlencoded inside, RFC 6749 §2.3.1)', () => {
    const r = extractTokenRequest(form(`${grant}&scope=a+b`), [`Basic ${b64('my%3Aapp:p%40ss+word')}`]);
    expect(r).toEqual({
      ok: true,
      value: {
        grantType: 'client_credentials',
        scope: 'a b',
        credentials: { clientId: 'my:app', clientSecret: 'p@ss word', method: 'basic' },
      },
    });
    expect(extractTokenRequest(form(grant), [`basic   ${b64('app:secret')}`])).toMatchObject({
      ok: true,
      value: { credentials: { clientId: 'app' } },
    });
  });

  test('body credentials', () => {
    expect(extractTokenRequest(form(`${grant}&client_id=app&client_secret=s`), [])).toMatchObject({
      ok: true,
      value: { scope: undefined, credentials: { clientId: 'app', clientSecret: 's', method: 'body' } },
    });
  });

  const err = (body: string, auth: string[] = []) => {
    const r = extractTokenRequest(form(body), auth);
    if (r.ok) throw new Error('expected an error');
    return r.error;
  };

  test('grant_type missing → invalid_request; other grants → unsupported_grant_type', () => {
    expect(err('client_id=a&client_secret=b').code).toBe('invalid_request');
    expect(err('grant_type=&client_id=a&client_secret=b').code).toBe('invalid_request');
    for (const g of ['password', 'authorization_code', 'refresh_token', 'CLIENT_CREDENTIALS']) {
      expect(err(`grant_type=${g}&client_id=a&client_secret=b`).code).toBe('unsupported_grant_type');
    }
  });

  test('a repeated parameter → invalid_request; an unknown repeated name is not echoed', () => {
    expect(err(`${grant}&${grant}`, [`Basic ${b64('a:b')}`])).toMatchObject({
      code: 'invalid_request',
      description: 'The grant_type parameter is repeated',
    });
    expect(err(`${grant}&<script>=1&<script>=2`, [`Basic ${b64('a:b')}`]).description).not.toContain('script');
  });

  test('both Basic and body credentials → invalid_request (§2.3: one method only)', () => {
    expect(err(`${grant}&client_id=a&client_secret=b`, [`Basic ${b64('a:b')}`]).code).toBe('invalid_request');
    expect(err(`${grant}&client_id=a`, [`Basic ${b64('a:b')}`]).code).toBe('invalid_request');
  });

  test('no credentials → invalid_client with the Basic challenge; incomplete body credentials → invalid_client without', () => {
    expect(err(grant)).toMatchObject({ code: 'invalid_client', basicChallenge: true });
    expect(err(`${grant}&client_id=a`)).toMatchObject({ code: 'invalid_client' });
    expect(err(`${grant}&client_id=a`).basicChallenge).toBeUndefined();
    expect(err(`${grant}&client_secret=a`).code).toBe('invalid_client');
  });

  test.each([
    ['Bearer xyz'],
    ['Basic'],
    ['Basic !!!'],
    [`Basic ${b64('no-colon')}`],
    [`Basic ${b64(':secret')}`],
    [`Basic ${b64('id:')}`],
    [`Basic ${b64('id:%zz')}`],
    [`Basic ${Buffer.from([0x69, 0x3a, 0xff]).toString('base64')}`],
    [`Basic ${b64('id:sec\x00ret')}`],
    [`Basic ${b64(`id:${'x'.repeat(2000)}`)}`],
  ])('a bad Authorization header (%j) → invalid_client with the challenge', (header) => {
    expect(err(grant, [header])).toMatchObject({ code: 'invalid_client', basicChallenge: true });
  });

  test('several Authorization headers → invalid_request', () => {
    expect(err(grant, [`Basic ${b64('a:b')}`, `Basic ${b64('a:b')}`]).code).toBe('invalid_request');
  });
});
