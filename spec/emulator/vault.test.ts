// Vault references in referenceable fields are resolved before the config reaches the plugin (kong/pdk/vault.lua,
// env vault); an unresolvable one fails the instance start, so the request fails closed with Kong's 500.
import { resolveReference, resolveReferences } from '../../kong/emulator/vault';
import type { FieldEntry } from '../../kong/emulator/schema/types';
import { startGateway, Gateway, fixturePluginsRoot, probeResults } from '../helpers/emulator';

describe('env vault references (unit)', () => {
  const env = { MY_SECRET: 's3cret', JSON_SECRET: '{"user":"u","pass":"p"}' };
  test('{vault://env/my-secret} reads MY_SECRET; /key picks from a JSON value', () => {
    expect(resolveReference('{vault://env/my-secret}', env)).toBe('s3cret');
    expect(resolveReference('{vault://env/json-secret/pass}', env)).toBe('p');
    expect(() => resolveReference('{vault://env/missing}', env)).toThrow(/MISSING/);
    expect(() => resolveReference('{vault://aws/x}', env)).toThrow(/not available/);
  });
  test('only referenceable fields are resolved, nested and in arrays, errors name the field', () => {
    const fields: FieldEntry[] = [
      { plain: { type: 'string' as const } },
      { keys: { type: 'array' as const, elements: { type: 'string' as const, referenceable: true } } },
      { rec: { type: 'record' as const, fields: [{ pw: { type: 'string' as const, referenceable: true } }] } },
    ];
    expect(resolveReferences(fields, { plain: '{vault://env/my-secret}', keys: ['{vault://env/my-secret}', 'x'], rec: { pw: '{vault://env/json-secret/user}' } }, env)).toEqual({
      plain: '{vault://env/my-secret}',
      keys: ['s3cret', 'x'],
      rec: { pw: 'u' },
    });
    expect(() => resolveReferences(fields, { keys: ['ok', '{vault://env/nope}'] }, env)).toThrow(/config\.keys\[1\]/);
  });
});

describe('vault references through the emulator', () => {
  let gw: Gateway;
  beforeAll(async () => {
    process.env.BULWARK_TEST_SECRET = 'from-the-vault';
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'] });
  });
  afterAll(async () => gw?.stop());

  test('the plugin receives the resolved value', async () => {
    gw.configure(`
_format_version: "3.0"
services: [{ name: s, url: ECHO, routes: [{ name: r, paths: ["/"] }] }]
plugins: [{ name: probe, config: { secret: "{vault://env/bulwark-test-secret}" } }]
`);
    const res = await gw.kong.request({ path: '/x', headers: { 'x-probe-access': '[]' } });
    expect(probeResults(res.body).config.secret).toBe('from-the-vault');
  });

  test('an unresolvable reference fails the instance start: 500, never proxied', async () => {
    gw.configure(`
_format_version: "3.0"
services: [{ name: s, url: ECHO, routes: [{ name: r, paths: ["/"] }] }]
plugins: [{ name: probe, config: { secret: "{vault://env/bulwark-test-missing}" } }]
`);
    const res = await gw.kong.request({ path: '/x' });
    expect(res.status).toBe(500);
    expect(res.report.upstreamRequest).toBeUndefined();
  });
});
