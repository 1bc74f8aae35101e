// bulwark-jwt's Schema against Kong's rules (the emulator's implementation of the Kong 3.9 metaschema and
// plugin-config processing), then through the plugin's own config parsing (what StartInstance does).
import { generateKeyPairSync } from 'node:crypto';
import type { FieldEntry } from '../../../kong/schema/types';
import * as jwt from '../../../plugins/bulwark-jwt';
import { configFor, describePluginInfo, fieldError, violationFor } from '../../helpers/plugin-info';
import { parseJwtConfig } from '../../../plugins/bulwark-jwt/config';

const fields = jwt.Schema as unknown as FieldEntry[];

const configOf = (input: unknown) => configFor(fields, input);

const violation = (input: unknown) => violationFor(fields, input);

const startInstance = (input: unknown) => new jwt.Plugin(configOf(input));

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PEM = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const SECRET = 'k'.repeat(32);
const ISSUER = { issuer: 'https://idp.example.com', keys: [RSA_PEM], audiences: ['api'] };

describePluginInfo(jwt, 'just above Kong jwt 1450');

describe('defaults', () => {
  it('a minimal config gets every default, nested records and issuer fields included', () => {
    expect(configOf({ issuers: [ISSUER] })).toEqual({
      issuers: [
        {
          issuer: 'https://idp.example.com',
          discovery: false,
          allow_http_jwks: false,
          ca_certificates: [],
          keys: [RSA_PEM],
          secrets: [],
          algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
          audiences: ['api'],
          audience_required: true,
        },
      ],
      token_sources: { bearer: true, headers: [], cookies: [], query_params: [] },
      hide_credentials: false,
      realm: 'bulwark',
      leeway: 30,
      max_token_bytes: 8192,
      claims: { require_exp: true, required: [], values: {} },
      scopes: { required: [], mode: 'all', claims: ['scope', 'scp'] },
      consumer: { by: 'username', required: true },
      forward_claims: {},
      identity: { groups_claims: ['groups', 'roles'], claims: [] },
      unavailable_status: 401,
      jwks: { cache_ttl: 300, max_stale: 3600, refresh_cooldown: 30, timeout: 2000, max_bytes: 262144 },
      token_cache: { max_entries: 10000, ttl: 300 },
    });
  });

  it('the defaulted config starts an instance with the secure defaults', () => {
    const conf = startInstance({ issuers: [ISSUER] }).conf;
    const issuer = conf.issuers.get('https://idp.example.com')!;
    expect([...issuer.algorithms]).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
    expect(issuer.audience).toEqual({ audiences: ['api'], audienceRequired: true });
    expect(issuer.staticKeys.map((k) => [k.kty, k.size])).toEqual([['RSA', 2048]]);
    expect(conf.claims).toMatchObject({ requireExp: true, leewaySec: 30, maxAgeSec: undefined });
    expect(conf.unavailableStatus).toBe(401);
    expect(conf.jwks).toEqual({
      cacheTtlMs: 300000,
      maxStaleMs: 3600000,
      cooldownMs: 30000,
      timeoutMs: 2000,
      maxBytes: 262144,
    });
  });
});

describe('values Kong refuses', () => {
  it.each([
    [{}, { issuers: 'required field missing' }],
    [{ issuers: [] }, { issuers: expect.any(String) }],
    [
      { issuers: [{ ...ISSUER, algorithms: ['none'] }] },
      { issuers: [{ algorithms: [expect.stringContaining('expected one of')] }] },
    ],
    [{ issuers: [ISSUER], unavailable_status: 500 }, { unavailable_status: 'expected one of: 401, 503' }],
    [{ issuers: [ISSUER], scopes: { mode: 'some' } }, { scopes: { mode: 'expected one of: any, all' } }],
    [{ issuers: [ISSUER], consumer: { by: 'custom_id' } }, { consumer: { by: 'expected one of: username, id' } }],
    [{ issuers: [ISSUER], leeway: 601 }, { leeway: 'value should be between 0 and 600' }],
    [{ issuers: [ISSUER], jwks: { timeout: 50 } }, { jwks: { timeout: 'value should be between 100 and 10000' } }],
    [{ issuers: [ISSUER], forward_claims: { sub: 'X User' } }, { forward_claims: expect.any(String) }],
  ])('%#: refused', (input, fieldsError) => {
    expect(violation(input)).toEqual({ config: fieldsError });
  });

  it('a vault reference passes the schema in a referenceable key field', () => {
    expect(configOf({ issuers: [{ ...ISSUER, keys: ['{vault://env/JWT_KEY}'] }] }).issuers).toBeDefined();
  });
});

// Issue #12: each of these passed Kong's Admin API before (the schema did not say it) and made every request of
// the route answer 500 once the instance refused to start. Kong now refuses them itself, naming the field.
describe('Kong refuses at the Admin API, naming the field (the dumped schema says it)', () => {
  const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const privateJwk = JSON.stringify(rsa.privateKey.export({ format: 'jwk' }));
  it.each([
    [
      'an ftp:// JWKS URL',
      { issuers: [{ ...ISSUER, jwks_url: 'ftp://idp.example.com/jwks' }] },
      'issuers.0.jwks_url',
      'invalid value: ftp://idp.example.com/jwks',
    ],
    [
      'an http:// JWKS URL without allow_http_jwks',
      { issuers: [{ ...ISSUER, jwks_url: 'http://idp.example.com/jwks' }] },
      'issuers.0.@entity',
      ['jwks_url must be https:// unless allow_http_jwks is set'],
    ],
    [
      'a PEM private key as a verification key',
      { issuers: [{ ...ISSUER, keys: [privatePem] }] },
      'issuers.0.keys.0',
      'a private key: give the public key (or certificate) only',
    ],
    [
      'a private JWK as a verification key',
      { issuers: [{ ...ISSUER, keys: [privateJwk] }] },
      'issuers.0.keys.0',
      'a private JWK (it has "d"): give the public key only',
    ],
    [
      'a short HS256 secret',
      { issuers: [{ ...ISSUER, keys: [], secrets: ['short'], algorithms: ['HS256'] }] },
      'issuers.0.secrets.0',
      'length must be at least 32',
    ],
    [
      'a CA that is not a PEM certificate',
      { issuers: [{ ...ISSUER, jwks_url: 'https://idp/jwks', ca_certificates: ['nope'] }] },
      'issuers.0.ca_certificates.0',
      'expected a PEM certificate (-----BEGIN CERTIFICATE-----)',
    ],
    [
      'jwks_url and discovery together',
      { issuers: [{ ...ISSUER, jwks_url: 'https://idp/jwks', discovery: true }] },
      'issuers.0.jwks_url',
      'value must be null',
    ],
    [
      'no audience while audience_required',
      { issuers: [{ ...ISSUER, audiences: [] }] },
      'issuers.0.audiences',
      'length must be at least 1',
    ],
    ['no algorithm', { issuers: [{ ...ISSUER, algorithms: [] }] }, 'issuers.0.algorithms', 'length must be at least 1'],
    [
      'a quote in the realm',
      { issuers: [ISSUER], realm: 'a"b' },
      'realm',
      'must not contain quotes, backslashes or control characters',
    ],
    [
      'a 64 KiB header name',
      { issuers: [ISSUER], token_sources: { headers: ['x'.repeat(1 << 16)] } },
      'token_sources.headers.0',
      'length must be at most 128',
    ],
    [
      '65 static keys',
      { issuers: [{ ...ISSUER, keys: Array(65).fill(RSA_PEM) }] },
      'issuers.0.keys',
      'length must be at most 64',
    ],
  ])('%s', (_name, input, path, error) => {
    expect(fieldError(fields, input, path)).toEqual(error);
  });

  it('a vault reference skips the validators (Kong resolves it first); the instance checks the resolved value', () => {
    expect(() =>
      configOf({ issuers: [{ ...ISSUER, keys: [], secrets: ['{vault://env/JWT_SECRET}'], algorithms: ['HS256'] }] }),
    ).not.toThrow();
  });

  it('http:// is accepted with allow_http_jwks', () => {
    expect(() =>
      configOf({ issuers: [{ ...ISSUER, jwks_url: 'http://127.0.0.1:9000/jwks', allow_http_jwks: true }] }),
    ).not.toThrow();
  });
});

describe('values that pass the schema but fail the instance start (fail closed)', () => {
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  it.each([
    [
      { issuers: [{ ...ISSUER, keys: ['not a key'] }] },
      'issuers[0].keys[0]: expected a PEM public key or certificate, a JWK or a JWKS',
    ],
    [{ issuers: [{ ...ISSUER, keys: [small] }] }, 'issuers[0].keys[0]: RSA key of 1024 bits is too small'],
    [
      { issuers: [{ ...ISSUER, keys: ['{vault://env/JWT_KEY}'] }] },
      'issuers[0].keys[0]: vault reference was not resolved',
    ],
    [
      { issuers: [{ ...ISSUER, keys: [], secrets: [SECRET] }] },
      'issuers[0].secrets[0]: a shared secret needs an HS256/HS384/HS512 entry in algorithms',
    ],
    [
      { issuers: [{ ...ISSUER, keys: [], secrets: [SECRET], algorithms: ['HS512'] }] },
      'issuers[0].secrets[0]: too short: HS512 needs at least 64 bytes',
    ],
    [
      { issuers: [{ ...ISSUER, algorithms: ['RS256', 'HS256'] }] },
      'issuers[0].algorithms: HS256 needs a shared secret in secrets',
    ],
    [
      { issuers: [{ issuer: 'https://a', audiences: ['x'] }] },
      'issuers[0].keys: no keys: configure keys, secrets, jwks_url or discovery',
    ],
    [{ issuers: [ISSUER, ISSUER] }, 'issuers[1].issuer: issuer configured twice'],
    [
      { issuers: [ISSUER], forward_claims: { sub: 'Authorization' } },
      'forward_claims.sub: header Authorization cannot carry a claim',
    ],
    [
      { issuers: [ISSUER], forward_claims: { sub: 'X-User', email: 'x-user' } },
      'forward_claims.email: header x-user used twice',
    ],
    [{ issuers: [ISSUER], token_sources: { bearer: false } }, 'token_sources: no token source enabled'],
    [{ issuers: [ISSUER], jwks: { cache_ttl: 600, max_stale: 60 } }, 'jwks.max_stale: must be at least cache_ttl'],
  ])('%#: %s', (input, message) => {
    expect(() => startInstance(input)).toThrow(`bulwark-jwt: invalid configuration: ${message}`);
  });

  it('the error never contains key material', () => {
    const secretish = 'SUPER$SECRET$VALUE';
    try {
      startInstance({ issuers: [{ ...ISSUER, keys: [`{"kty":"RSA","n":"${secretish}","e":"AQAB"}`] }] });
      throw new Error('expected a throw');
    } catch (err) {
      expect(String(err)).toMatch(/issuers\[0\]\.keys\[0\]: /);
      expect(String(err)).not.toContain(secretish);
    }
  });

  it('parseJwtConfig refuses an unexpected shape without the schema layer', () => {
    expect(() => parseJwtConfig({ issuers: 'x' })).toThrow('issuers: expected an array');
    expect(() => parseJwtConfig({ issuers: [ISSUER], unavailable_status: 500 })).toThrow(
      'unavailable_status: expected one of: 401, 503',
    );
  });

  it('accepts HS secrets, JWK and JWKS static keys, discovery and an http JWKS when allowed', () => {
    const conf = startInstance({
      issuers: [
        { issuer: 'hs', secrets: [SECRET], algorithms: ['HS256'], audience_required: false },
        { issuer: 'https://idp.example.com', discovery: true, audiences: ['a'] },
        { issuer: 'local', jwks_url: 'http://127.0.0.1:9/jwks', allow_http_jwks: true, audiences: ['a'] },
        {
          issuer: 'jwk',
          keys: [JSON.stringify({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k1' }] })],
          audiences: ['a'],
        },
      ],
      claims: { values: { tenant: ['t1', 't2'] }, max_age: 600, typ: 'at+jwt' },
    }).conf;
    expect(conf.issuers.get('hs')!.staticKeys[0]).toMatchObject({ kty: 'oct', size: 32 });
    expect(conf.issuers.get('https://idp.example.com')!.remote).toBeDefined();
    expect(conf.issuers.get('jwk')!.staticKeys[0]).toMatchObject({ kid: 'k1', kty: 'RSA' });
    expect(conf.claims.claimValues).toEqual({ tenant: ['t1', 't2'] });
  });
});
