// Vault references in referenceable fields are resolved before the config reaches the plugin (kong/pdk/vault.lua,
// env vault). An unresolvable one becomes "" with a warning (kong/db/schema/init.lua 3.9.3, resolve_reference,
// lines 1693-1703 `return deref or ""`; arrays/sets lines 1942-1955, maps 1958-1971): the instance starts.
import { resolveReference, resolveReferences } from '../../kong/emulator/vault';
import type { FieldEntry } from '../../kong/schema/types';
import {
  startGateway,
  Gateway,
  fixturePluginsRoot,
  probeResults,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

describe('env vault references (unit)', () => {
  const env = { MY_SECRET: 's3cret', JSON_SECRET: '{"user":"u","pass":"p"}' };
  test('{vault://env/my-secret} reads MY_SECRET; /key picks from a JSON value', () => {
    expect(resolveReference('{vault://env/my-secret}', env)).toBe('s3cret');
    expect(resolveReference('{vault://env/json-secret/pass}', env)).toBe('p');
    expect(() => resolveReference('{vault://env/missing}', env)).toThrow(/MISSING/);
    expect(() => resolveReference('{vault://aws/x}', env)).toThrow(/not available/);
  });
  test('only referenceable fields are resolved, nested and in arrays; unresolvable ones become "" with a warning', () => {
    const fields: FieldEntry[] = [
      { plain: { type: 'string' as const } },
      { keys: { type: 'array' as const, elements: { type: 'string' as const, referenceable: true } } },
      { rec: { type: 'record' as const, fields: [{ pw: { type: 'string' as const, referenceable: true } }] } },
    ];
    expect(
      resolveReferences(
        fields,
        {
          plain: '{vault://env/my-secret}',
          keys: ['{vault://env/my-secret}', 'x'],
          rec: { pw: '{vault://env/json-secret/user}' },
        },
        env,
      ),
    ).toEqual({
      plain: '{vault://env/my-secret}',
      keys: ['s3cret', 'x'],
      rec: { pw: 'u' },
    });
    const warnings: string[] = [];
    expect(
      resolveReferences(fields, { keys: ['ok', '{vault://env/nope}'], rec: { pw: '{vault://aws/x}' } }, env, (m) =>
        warnings.push(m),
      ),
    ).toEqual({
      keys: ['ok', ''],
      rec: { pw: '' },
    });
    expect(warnings).toEqual([
      expect.stringMatching(/^unable to resolve reference \{vault:\/\/env\/nope\} \(.*NOPE/),
      expect.stringMatching(/^unable to resolve reference \{vault:\/\/aws\/x\}/),
    ]);
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

  test('an unresolvable reference reaches the plugin as "" (Kong warns and starts the instance)', async () => {
    gw.configure(`
_format_version: "3.0"
services: [{ name: s, url: ECHO, routes: [{ name: r, paths: ["/"] }] }]
plugins: [{ name: probe, config: { secret: "{vault://env/bulwark-test-missing}" } }]
`);
    const res = await gw.kong.request({ path: '/x', headers: { 'x-probe-access': '[]' } });
    expect(res.status).toBe(200);
    expect(probeResults(res.body).config.secret).toBe('');
    expect(
      gw.kong.log.some((l) => l.startsWith('[warn] unable to resolve reference {vault://env/bulwark-test-missing}')),
    ).toBe(true);
  });
});

describe('a Bulwark secret field whose vault entry is missing (Kong hands over "")', () => {
  let gw: Gateway;
  beforeAll(async () => {
    delete process.env.BULWARK_TEST_REDIS_PASSWORD;
    gw = await startGateway({ plugins: ['bulwark-rate-limit'] });
  });
  afterAll(async () => gw?.stop());

  test('bulwark-rate-limit redis.password: the instance refuses "", naming the field; the request is a 500, never proxied', async () => {
    gw.configure(`
_format_version: "3.0"
services: [{ name: s, url: ECHO, routes: [{ name: r, paths: ["/"] }] }]
plugins:
  - name: bulwark-rate-limit
    config:
      limits: [{ name: minute, limit: 5, window_seconds: 60 }]
      redis: { mode: standalone, host: 127.0.0.1, port: 6379, password: "{vault://env/bulwark-test-redis-password}" }
`);
    const res = await gw.kong.request({ path: '/x' });
    expect(res.status).toBe(500);
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(
      gw.kong.log.some((l) => l.includes('unable to resolve reference {vault://env/bulwark-test-redis-password}')),
    ).toBe(true);
    expect(gw.kong.log.some((l) => l.includes('redis.password: empty secret'))).toBe(true);
  });
});
