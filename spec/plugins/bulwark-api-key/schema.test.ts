// bulwark-api-key's Schema against Kong's rules (the emulator's metaschema and DAO processing), then the plugin's own
// config parsing (what StartInstance does): every refusal names the field.
import type { FieldEntry } from '../../../kong/schema/types';
import * as apiKey from '../../../plugins/bulwark-api-key';
import { parseApiKeyConfig } from '../../../plugins/bulwark-api-key/config';
import { issueKey } from '../../../plugins/bulwark-api-key/key-admin';
import { serializeKeyRecord } from '../../../plugins/bulwark-api-key/key-record';
import { configFor, describePluginInfo, fieldError } from '../../helpers/plugin-info';

const fields = apiKey.Schema as unknown as FieldEntry[];
const configOf = (input: unknown) => configFor(fields, input);
const PEPPER = 'p'.repeat(32);
const entry = (o: Partial<Parameters<typeof issueKey>[0]> = {}) =>
  serializeKeyRecord(issueKey({ prefix: 'bwk_live', ...o }, Date.now()).record);

const startError = (input: Record<string, unknown>): string => {
  try {
    new apiKey.Plugin(configOf(input));
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the instance to refuse its config');
};

describePluginInfo(apiKey, 'just above Kong key-auth 1250, below bulwark-oauth2 1410');

describe('defaults', () => {
  it('header sources x-api-key and apikey, no query, hide_credentials on, declarative store, fail-closed, lockout on', () => {
    const c = configOf({});
    expect(c).toMatchObject({
      key_prefixes: ['bwk_live'],
      store: 'declarative',
      keys: [],
      key_names: ['x-api-key', 'apikey'],
      key_in_query: false,
      hide_credentials: true,
      run_on_preflight: true,
      realm: 'kong',
      on_store_error: 'fail-closed',
      cache: { ttl_seconds: 10, negative_ttl_seconds: 10, stale_seconds: 300, max_entries: 10000 },
      lockout: { enabled: true, max_failures: 10, window_seconds: 60, lockout_seconds: 300 },
      redis: { mode: 'none', key_prefix: 'bulwark-ak' },
    });
    const parsed = parseApiKeyConfig(c);
    expect(parsed.sources).toEqual({ headers: ['x-api-key', 'apikey'], queryParams: [] });
    expect(parsed.store.kind).toBe('declarative');
    expect(parsed.hideCredentials).toBe(true);
  });

  it('a declarative entry as the CLI prints it is accepted by the schema and by the instance', () => {
    expect(
      () =>
        new apiKey.Plugin(
          configOf({
            keys: [entry({ consumer: 'alice', scopes: ['a:b'], metadata: { k: 'v' }, expiresAt: Date.now() + 1e6 })],
          }),
        ),
    ).not.toThrow();
  });
});

describe('Kong refuses at the Admin API, naming the field', () => {
  it.each([
    ['a prefix with upper case', { key_prefixes: ['BWK'] }, 'key_prefixes'],
    ['a plaintext key where the hash belongs', { keys: [{ id: 'k', hash: 'bwk_live_abc' }] }, 'keys'],
    ['a timestamp that is not ISO 8601 UTC', { keys: [{ ...entry(), expires_at: 'tomorrow' }] }, 'keys'],
    ['an unknown store', { store: 'postgres' }, 'store'],
    ['fail-open (never offered)', { on_store_error: 'fail-open' }, 'on_store_error'],
    ['a cache TTL of a day', { cache: { ttl_seconds: 86400 } }, 'cache'],
    ['a header name with a space', { key_names: ['x api key'] }, 'key_names'],
    ['a realm with a quote', { realm: 'a"b' }, 'realm'],
  ])('%s', (_what, input, field) => {
    expect(fieldError(fields, input, field)).toBeDefined();
  });
});

describe('the instance refuses what the schema cannot say, naming the field', () => {
  it.each([
    ['a prefix with a double underscore', { key_prefixes: ['bwk__live'] }, 'key_prefixes[0]: lower-case letters'],
    ['store redis without a Redis', { store: 'redis' }, 'redis.mode: store redis needs a Redis'],
    [
      'store redis with declarative keys',
      { store: 'redis', redis: { mode: 'standalone' }, keys: [entry()] },
      'keys: store redis reads its keys from Redis',
    ],
    ['a short pepper', { pepper: 'short' }, 'pepper: at least 32 characters'],
    [
      'a sha256 hash with a pepper configured',
      { pepper: PEPPER, keys: [entry()] },
      'keys[0].hash: a sha256 hash, but a pepper is configured',
    ],
    [
      'an hmac hash without the pepper',
      { keys: [entry({ pepper: PEPPER })] },
      'keys[0].hash: an hmac-sha256 hash needs the pepper',
    ],
    [
      'duplicate key ids',
      { keys: [entry({ id: 'same' }), entry({ id: 'same' })] },
      'keys[1].id: duplicate key id "same"',
    ],
    ['no key source', { key_names: [] }, 'key_names: no place to read a key from'],
    ['a CIDR with host bits', { trusted_proxies: ['10.0.0.1/8'] }, 'trusted_proxies[0]'],
  ])('%s', (_what, input, message) => {
    expect(startError(input as Record<string, unknown>)).toContain(message);
  });

  it('an empty pepper: what Kong hands over, after its schema check, for an unresolvable vault reference', () => {
    expect(() => new apiKey.Plugin({ ...configOf({}), pepper: '' })).toThrow('pepper: empty secret');
  });

  it('the same key listed twice under two ids', () => {
    const e = entry();
    expect(startError({ keys: [e, { ...e, id: 'other' }] })).toContain('keys[1].hash: the same key is listed twice');
  });
});
