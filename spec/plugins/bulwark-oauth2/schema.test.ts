// bulwark-oauth2's Schema against Kong's rules (the emulator's implementation of the 3.9 metaschema and
// plugin-config processing), then through the plugin's own config parsing (StartInstance).
import type { FieldEntry } from '../../../kong/schema/types';
import * as oauth2 from '../../../plugins/bulwark-oauth2';
import { configFor, describePluginInfo, violationFor } from '../../helpers/plugin-info';
import { parseOAuth2Config } from '../../../plugins/bulwark-oauth2/config';
import { ecKey } from './fixtures';

const fields = oauth2.Schema as unknown as FieldEntry[];
const key = ecKey();
const HASH = '$scrypt$N=16384,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const minimal = { issuer: 'https://as.example.com', audience: ['https://api.example.com'], signing_keys: [key.pem] };

const configOf = (input: unknown) => configFor(fields, input);

const violation = (input: unknown) => JSON.stringify(violationFor(fields, input));

describePluginInfo(oauth2, 'above Kong oauth2 1400');

describe('defaults', () => {
  test('a minimal config gets every default, nested records included', () => {
    expect(configOf(minimal)).toEqual({
      ...minimal,
      token_path: '/oauth2/token',
      jwks_path: '/oauth2/jwks',
      jwks_max_age: 300,
      token_ttl: 300,
      clients: [],
      max_body_size: 4096,
      failure_limit: {
        enabled: true,
        max_failures_per_client: 5,
        max_failures_per_ip: 20,
        window_seconds: 60,
        lockout_seconds: 300,
      },
      trusted_proxies: [],
      forwarded_header: 'x-forwarded-for',
    });
  });

  test('client defaults: allowed_scopes []', () => {
    const c = configOf({ ...minimal, clients: [{ client_id: 'a', client_secret_hash: HASH }] }).clients as Record<
      string,
      unknown
    >[];
    expect(c[0]).toEqual({ client_id: 'a', client_secret_hash: HASH, allowed_scopes: [] });
  });
});

describe('Kong schema rejections', () => {
  test.each([
    ['no issuer', { audience: ['a'], signing_keys: [key.pem] }, 'issuer'],
    ['a non-URL issuer', { ...minimal, issuer: 'as.example.com' }, 'issuer'],
    ['no audience', { issuer: minimal.issuer, signing_keys: [key.pem] }, 'audience'],
    ['an empty audience', { ...minimal, audience: [] }, 'audience'],
    ['no signing keys', { ...minimal, signing_keys: [] }, 'signing_keys'],
    [
      'a plaintext client secret',
      { ...minimal, clients: [{ client_id: 'a', client_secret_hash: 'my-secret-value' }] },
      'client_secret_hash',
    ],
    [
      'a client_secret field',
      { ...minimal, clients: [{ client_id: 'a', client_secret: 'x', client_secret_hash: HASH }] },
      'client_secret',
    ],
    [
      'a client id with a colon',
      { ...minimal, clients: [{ client_id: 'a:b', client_secret_hash: HASH }] },
      'client_id',
    ],
    [
      'a scope with a space',
      { ...minimal, clients: [{ client_id: 'a', client_secret_hash: HASH, allowed_scopes: ['a b'] }] },
      'allowed_scopes',
    ],
    ['a relative token_path', { ...minimal, token_path: 'token' }, 'token_path'],
    ['a body limit over 8 KiB', { ...minimal, max_body_size: 65536 }, 'max_body_size'],
    ['a token_ttl of 0', { ...minimal, token_ttl: 0 }, 'token_ttl'],
  ])('%s', (_n, input, field) => {
    expect(violation(input)).toContain(field);
  });

  test('signing_keys accept vault references (referenceable), as Kong resolves them before the plugin', () => {
    expect(configOf({ ...minimal, signing_keys: ['{vault://env/oauth-key}'] }).signing_keys).toEqual([
      '{vault://env/oauth-key}',
    ]);
  });
});

describe('instance start (config.ts)', () => {
  const start = (input: Record<string, unknown>) => parseOAuth2Config(configOf(input));

  test('a valid config starts; clients, keys, limits are precomputed', () => {
    const conf = start({
      ...minimal,
      clients: [{ client_id: 'a', client_secret_hash: HASH, allowed_scopes: ['x', 'y'], default_scopes: ['x'] }],
    });
    expect(conf.clients.get('a')).toMatchObject({
      allowedScopes: ['x', 'y'],
      defaultScopes: ['x'],
      audience: undefined,
    });
    expect(conf.keys.all).toHaveLength(1);
    expect(conf.dummyHash).toMatchObject({ algorithm: 'scrypt', N: 16384 });
    expect(conf.limits).toEqual({ enabled: true, maxPerClient: 5, maxPerIp: 20, windowMs: 60_000, lockoutMs: 300_000 });
  });

  test.each([
    [
      'a weak hash',
      {
        clients: [
          {
            client_id: 'a',
            client_secret_hash:
              '$scrypt$N=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
      /^clients\[0\]\.client_secret_hash: scrypt N/,
    ],
    [
      'an unknown hash algorithm',
      {
        clients: [
          {
            client_id: 'a',
            client_secret_hash: '$md5$x=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
      /client_secret_hash: .*parameter|client_secret_hash: unsupported/,
    ],
    [
      'a duplicate client id',
      {
        clients: [
          { client_id: 'a', client_secret_hash: HASH },
          { client_id: 'a', client_secret_hash: HASH },
        ],
      },
      /^clients\[1\]\.client_id: .*twice/,
    ],
    [
      'default scopes outside allowed',
      { clients: [{ client_id: 'a', client_secret_hash: HASH, allowed_scopes: ['x'], default_scopes: ['y'] }] },
      /^clients\[0\]\.default_scopes\[0\]/,
    ],
    ['the same path twice', { token_path: '/t', jwks_path: '/t' }, /^jwks_path: must differ/],
    ['a dot segment', { token_path: '/a/../t' }, /^token_path/],
    ['an issuer with a query', { issuer: 'https://as.example.com/?x=1' }, /^issuer/],
    [
      'a key that is not a key',
      { signing_keys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'] },
      /^signing_keys\[0\]/,
    ],
    ['an unknown active kid', { active_key_id: 'nope' }, /^active_key_id/],
    ['a trusted proxy with host bits', { trusted_proxies: ['10.0.0.1/8'] }, /^trusted_proxies\[0\]/],
  ])('%s → refused, naming the field', (_n, extra, message) => {
    expect(() => start({ ...minimal, ...extra })).toThrow(message);
  });

  test('the Plugin class fails to construct with the plugin name in the message', () => {
    expect(() => new oauth2.Plugin(configOf({ ...minimal, active_key_id: 'nope' }))).toThrow(
      /^bulwark-oauth2: invalid configuration: active_key_id/,
    );
  });
});
