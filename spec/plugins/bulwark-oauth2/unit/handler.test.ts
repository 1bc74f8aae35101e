// The access handler with a recording fake kong: which PDK calls, in which order, and what is never done.
import * as secretHash from '../../../../plugins/lib/secret-hash';
import { access } from '../../../../plugins/bulwark-oauth2/handler';
import { Name } from '../../../../plugins/bulwark-oauth2';
import { phaseContext } from '../../../../plugins/lib/plugin';
import { parseOAuth2Config } from '../../../../plugins/bulwark-oauth2/config';
import { fakeKong } from '../../../lib/fake-kong';
import { ecKey } from '../fixtures';

jest.mock('jose', () => require('../fixtures').nodeRequire('jose'));

const SECRET = 'the-right-secret-123456';
let conf: ReturnType<typeof parseOAuth2Config>;

beforeAll(async () => {
  conf = parseOAuth2Config({
    issuer: 'https://as.example.com',
    audience: ['api'],
    signing_keys: [ecKey().pem],
    clients: [{ client_id: 'app', client_secret_hash: await secretHash.hashSecret(SECRET), allowed_scopes: ['read'] }],
    failure_limit: {
      enabled: true,
      max_failures_per_client: 2,
      max_failures_per_ip: 100,
      window_seconds: 60,
      lockout_seconds: 60,
    },
  });
});

afterEach(() => jest.restoreAllMocks());

function tokenRequest(body: string, headers: Record<string, string[]> = {}, peer = '192.0.2.1') {
  return fakeKong({
    'request.getPath': () => '/oauth2/token',
    'request.getMethod': () => 'POST',
    'request.getHeaders': () => ({
      'content-type': ['application/x-www-form-urlencoded'],
      'content-length': [String(Buffer.byteLength(body))],
      ...headers,
    }),
    'request.getRawBody': () => new Uint8Array(Buffer.from(body)),
    'client.getIp': () => peer,
  });
}

const basic = (id: string, secret: string) => ({
  authorization: [`Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`],
});

describe('bulwark-oauth2 access handler', () => {
  test('other paths: one getPath, nothing else (no exit, no body read)', async () => {
    const f = fakeKong({ 'request.getPath': () => '/orders' });
    await access(phaseContext(Name, f.kong, conf));
    expect(f.names()).toEqual(['request.getPath']);
  });

  test('issued token: getPath, getMethod, getHeaders, getRawBody(max_body_size), getIp, exit — and nothing after the exit', async () => {
    const f = tokenRequest('grant_type=client_credentials', basic('app', SECRET));
    await access(phaseContext(Name, f.kong, conf));
    expect(f.names()).toEqual([
      'request.getPath',
      'request.getMethod',
      'request.getHeaders',
      'request.getRawBody',
      'client.getIp',
      'response.exit',
    ]);
    expect(f.calls[3]![1]).toEqual([4096]);
    expect(f.exit?.status).toBe(200);
    expect(f.callsAfterExit).toEqual([]);
  });

  test('an unknown client id costs one secret check too (against the dummy hash), then a log line BEFORE the exit', async () => {
    const verify = jest.spyOn(secretHash, 'verifySecret');
    const f = tokenRequest('grant_type=client_credentials', basic('ghost', SECRET), '192.0.2.9');
    await access(phaseContext(Name, f.kong, conf));
    expect(verify).toHaveBeenCalledTimes(1);
    expect(verify.mock.calls[0]![1]).toBe(conf.dummyHash);
    expect(f.names().slice(-3)).toEqual(['log.warn', 'log.setSerializeValue', 'response.exit']);
    expect(f.exit?.status).toBe(401);
  });

  test('the failed-authentication log line names the client by its canonical address (as bulwark-rate-limit keys it)', async () => {
    const f = tokenRequest('grant_type=client_credentials', basic('app', 'wrong-wrong-wrong-2'), '::ffff:192.0.2.30');
    await access(phaseContext(Name, f.kong, conf));
    const line = JSON.parse(f.calls.find(([name]) => name === 'log.warn')![1][0] as string);
    expect(line).toMatchObject({ event: 'client_authentication_failed', client_ip: '192.0.2.30' });
    expect(f.names().filter((n) => n === 'client.getIp')).toHaveLength(1);
  });

  test('a locked client is refused before any secret check', async () => {
    for (let i = 0; i < 2; i++)
      await access(
        phaseContext(
          Name,
          tokenRequest('grant_type=client_credentials', basic('app', 'wrong-wrong-wrong-1'), '192.0.2.20').kong,
          conf,
        ),
      );
    const verify = jest.spyOn(secretHash, 'verifySecret');
    const f = tokenRequest('grant_type=client_credentials', basic('app', SECRET), '192.0.2.21');
    await access(phaseContext(Name, f.kong, conf));
    expect(verify).not.toHaveBeenCalled();
    expect(f.exit?.status).toBe(429);
  });

  test('an oversized Content-Length is refused without reading the body', async () => {
    const f = tokenRequest('grant_type=client_credentials', { 'content-length': ['100000'] });
    await access(phaseContext(Name, f.kong, conf));
    expect(f.names()).not.toContain('request.getRawBody');
    expect(f.exit?.status).toBe(413);
  });

  test('a body larger than declared (getRawBody returns more) is still refused with 413', async () => {
    const f = fakeKong({
      'request.getPath': () => '/oauth2/token',
      'request.getMethod': () => 'POST',
      'request.getHeaders': () => ({ 'content-type': ['application/x-www-form-urlencoded'], 'content-length': ['10'] }),
      'request.getRawBody': () => new Uint8Array(5000),
    });
    await access(phaseContext(Name, f.kong, conf));
    expect(f.exit?.status).toBe(413);
  });

  test('JWKS: getPath, getMethod, exit with the serialized key set and Cache-Control', async () => {
    const f = fakeKong({ 'request.getPath': () => '/oauth2/jwks', 'request.getMethod': () => 'GET' });
    await access(phaseContext(Name, f.kong, conf));
    expect(f.names()).toEqual(['request.getPath', 'request.getMethod', 'response.exit']);
    expect(f.exit).toEqual({
      status: 200,
      body: conf.keys.jwksJson,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'public, max-age=300' },
    });
  });
});
