// Every field of every Bulwark plugin that can hold a vault reference (`referenceable`) holds a secret or key.
// Kong 3.9 turns a reference it cannot resolve into "" with only a warning (kong/db/schema/init.lua 3.9.3
// resolve_reference, lines 1693-1703: `return deref or ""`; array elements lines 1942-1955), and the plugin starts
// with that "". Each such field must refuse "" when the instance starts, naming the field: a missing vault entry
// is an error, never a Redis connection without a password or an issuer without its key.
import { generateKeyPairSync } from 'node:crypto';
import type { FieldDef, FieldEntry } from '../../kong/schema/types';
import { resolveReferences } from '../../kong/emulator/vault';
import { configFor } from '../helpers/plugin-info';
import * as apiKey from '../../plugins/bulwark-api-key';
import * as docs from '../../plugins/bulwark-docs';
import * as jwt from '../../plugins/bulwark-jwt';
import * as oauth2 from '../../plugins/bulwark-oauth2';
import * as rateLimit from '../../plugins/bulwark-rate-limit';
import * as transport from '../../plugins/bulwark-transport';
import * as threatProtection from '../../plugins/bulwark-threat-protection';
import * as upstreamTrust from '../../plugins/bulwark-upstream-trust';
import * as validator from '../../plugins/bulwark-validator';
import * as authz from '../../plugins/bulwark-authz';

interface PluginModule {
  Name: string;
  Schema: unknown;
  Plugin: new (config: Record<string, unknown>) => unknown;
}

/** Dotted paths of referenceable string fields (`[]` for array elements). */
function referenceablePaths(entries: FieldEntry[], at = ''): string[] {
  const out: string[] = [];
  for (const entry of entries) {
    const [name, def] = Object.entries(entry)[0] as [string, FieldDef];
    const here = `${at}${name}`;
    if (def.referenceable) out.push(here);
    if (def.fields) out.push(...referenceablePaths(def.fields, `${here}.`));
    const el = def.elements;
    if (el?.referenceable) out.push(`${here}[]`);
    if (el?.fields) out.push(...referenceablePaths(el.fields, `${here}[].`));
    if (def.values?.referenceable) out.push(`${here}.*`);
  }
  return out;
}

const rsaPublic = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const ecPrivate = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const MISSING = '{vault://env/bulwark-secret-fields-test-unset}';
const LIMITS = [{ name: 'minute', limit: 5, window_seconds: 60 }];
const SENTINEL = { mode: 'sentinel', sentinel_master: 'm', sentinel_nodes: [{ host: 'h', port: 26379 }] };

// For each referenceable field: a config where the field is in use and holds a reference to an unset variable,
// and the field name the refusal must carry.
const CASES: Record<string, { module: PluginModule; config: Record<string, unknown>; field: string }[]> = {
  'bulwark-api-key': [
    { module: apiKey, field: 'pepper', config: { pepper: MISSING } },
    {
      module: apiKey,
      field: 'redis.username',
      config: { store: 'redis', redis: { mode: 'standalone', username: MISSING, password: 'p' } },
    },
    {
      module: apiKey,
      field: 'redis.password',
      config: { store: 'redis', redis: { mode: 'standalone', password: MISSING } },
    },
    {
      module: apiKey,
      field: 'redis.sentinel_username',
      config: { store: 'redis', redis: { ...SENTINEL, sentinel_username: MISSING } },
    },
    {
      module: apiKey,
      field: 'redis.sentinel_password',
      config: { store: 'redis', redis: { ...SENTINEL, sentinel_password: MISSING } },
    },
  ],
  'bulwark-jwt': [
    {
      module: jwt,
      field: 'issuers[0].keys[0]',
      config: { issuers: [{ issuer: 'https://idp.example.com', keys: [MISSING], audiences: ['api'] }] },
    },
    {
      module: jwt,
      field: 'issuers[0].secrets[0]',
      config: {
        issuers: [
          {
            issuer: 'https://idp.example.com',
            keys: [rsaPublic],
            secrets: [MISSING],
            algorithms: ['RS256', 'HS256'],
            audiences: ['api'],
          },
        ],
      },
    },
  ],
  'bulwark-oauth2': [
    {
      module: oauth2,
      field: 'signing_keys[0]',
      config: { issuer: 'https://as.example.com', audience: ['api'], signing_keys: [MISSING] },
    },
    {
      module: oauth2,
      field: 'signing_keys[1]',
      config: { issuer: 'https://as.example.com', audience: ['api'], signing_keys: [ecPrivate(), MISSING] },
    },
  ],
  'bulwark-upstream-trust': [
    { module: upstreamTrust, field: 'signing_keys[0]', config: { issuer: 'kong-gw', signing_keys: [MISSING] } },
    {
      module: upstreamTrust,
      field: 'signing_keys[1]',
      config: { issuer: 'kong-gw', signing_keys: [ecPrivate(), MISSING] },
    },
  ],
  'bulwark-rate-limit': [
    {
      module: rateLimit,
      field: 'redis.username',
      config: { limits: LIMITS, redis: { mode: 'standalone', username: MISSING, password: 'p' } },
    },
    {
      module: rateLimit,
      field: 'redis.password',
      config: { limits: LIMITS, redis: { mode: 'standalone', password: MISSING } },
    },
    {
      module: rateLimit,
      field: 'redis.sentinel_username',
      config: { limits: LIMITS, redis: { ...SENTINEL, sentinel_username: MISSING } },
    },
    {
      module: rateLimit,
      field: 'redis.sentinel_password',
      config: { limits: LIMITS, redis: { ...SENTINEL, sentinel_password: MISSING } },
    },
  ],
};

const COVERED: Record<string, string[]> = {
  'bulwark-api-key': [
    'pepper',
    'redis.username',
    'redis.password',
    'redis.sentinel_username',
    'redis.sentinel_password',
  ],
  'bulwark-docs': [],
  'bulwark-jwt': ['issuers[].keys[]', 'issuers[].secrets[]'],
  'bulwark-oauth2': ['signing_keys[]'],
  'bulwark-rate-limit': ['redis.username', 'redis.password', 'redis.sentinel_username', 'redis.sentinel_password'],
  'bulwark-transport': [],
  'bulwark-upstream-trust': ['signing_keys[]'],
  'bulwark-validator': [],
  'bulwark-authz': [],
  'bulwark-threat-protection': [],
};

describe('referenceable (secret) fields refuse the "" Kong hands over for an unresolvable vault reference', () => {
  test.each([
    apiKey,
    authz,
    docs,
    jwt,
    oauth2,
    rateLimit,
    transport,
    upstreamTrust,
    validator,
    threatProtection,
  ] as PluginModule[])('$Name: every referenceable field is covered below', (m) => {
    expect(referenceablePaths(m.Schema as FieldEntry[])).toEqual(COVERED[m.Name]);
  });

  const all = Object.values(CASES).flat();
  test.each(all.map((c) => [c.module.Name, c.field, c] as const))(
    '%s %s: "" stops the instance, naming the field',
    (_name, field, c) => {
      const fields = c.module.Schema as FieldEntry[];
      const warnings: string[] = [];
      // What StartInstance delivers in Kong: the stored config with the reference resolved to "".
      const delivered = resolveReferences(fields, configFor(fields, c.config), {}, (w) => warnings.push(w));
      expect(warnings).toHaveLength(1);
      expect(() => new c.module.Plugin(delivered)).toThrow(`${field}: empty secret`);
      // The same config with the variable set starts (the refusal is about the "", not the field).
      if (c.field.startsWith('redis.') || c.field === 'signing_keys[1]') {
        const value = c.field.startsWith('redis.') ? 'set-in-the-vault' : ecPrivate();
        const resolved = resolveReferences(fields, configFor(fields, c.config), {
          BULWARK_SECRET_FIELDS_TEST_UNSET: value,
        });
        expect(() => new c.module.Plugin(resolved)).not.toThrow();
      }
    },
  );
});
