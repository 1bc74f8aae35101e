// scripts/validate-config.ts (issue #12): besides Kong's schema check, the validator runs each plugin's instance
// start (its parseConfig: keys, PEM, regexes, OpenAPI documents), so a config that Kong's Admin API and decK accept
// but that would make the route answer 500 is refused before deployment, with the field named.
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { processPluginConfig } from '../../kong/schema/config';
import type { FieldEntry } from '../../kong/schema/types';
import { dumpBuiltPlugins, validateDeclarativePlugins, type ValidationProblem } from '../../scripts/validate-config';
import { createTestPki, type TestPki } from '../fixtures/pki/pki';

const root = path.join(__dirname, '..', '..');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_PEM = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const PRIVATE_PEM = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const ISSUER = { issuer: 'https://idp.example.com', keys: [PUBLIC_PEM], audiences: ['api'] };

/** A declarative file with one route carrying `plugin` (JSON is YAML). */
const fileWith = (plugin: { name: string; config: unknown }) =>
  JSON.stringify({
    _format_version: '3.0',
    services: [{ name: 'svc', url: 'http://echo:8080', routes: [{ name: 'r', paths: ['/r'], plugins: [plugin] }] }],
  });

const openapi = (schema: unknown) =>
  JSON.stringify({
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/items': {
        post: {
          requestBody: { content: { 'application/json': { schema } } },
          responses: { 200: { description: 'ok' } },
        },
      },
    },
  });

describe('validate-config: the instance start of each plugin, after the schema', () => {
  const infos = dumpBuiltPlugins();
  let pki: TestPki;
  beforeAll(() => {
    pki = createTestPki();
  });
  afterAll(() => pki?.remove());
  const brokenBase64 = (pem: string) => pem.replace(/\n[A-Za-z0-9+/]{64}\n/, '\n' + 'A'.repeat(64) + '\n');

  const cases: Array<[string, () => { name: string; config: Record<string, unknown> }, string, NodeJS.ProcessEnv]> = [
    [
      'jwt: an invalid PEM key',
      () => ({
        name: 'bulwark-jwt',
        config: { issuers: [{ ...ISSUER, keys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'] }] },
      }),
      'config.issuers[0].keys[0]: ',
      {},
    ],
    [
      'jwt: a private key behind a vault reference',
      () => ({ name: 'bulwark-jwt', config: { issuers: [{ ...ISSUER, keys: ['{vault://env/jwt-test-key}'] }] } }),
      'config.issuers[0].keys[0]: ',
      { JWT_TEST_KEY: PRIVATE_PEM },
    ],
    [
      'jwt: a 32-byte secret with HS512',
      () => ({
        name: 'bulwark-jwt',
        config: { issuers: [{ ...ISSUER, keys: [], secrets: ['k'.repeat(32)], algorithms: ['HS512'] }] },
      }),
      'config.issuers[0].secrets[0]: too short',
      {},
    ],
    [
      'validator: a document that is not OpenAPI',
      () => ({ name: 'bulwark-validator', config: { openapi: { spec: '{"swagger": "2.0", "paths": {}}' } } }),
      'config.openapi.spec',
      {},
    ],
    [
      'validator: a dangling $ref',
      () => ({
        name: 'bulwark-validator',
        config: { openapi: { spec: openapi({ $ref: '#/components/schemas/Missing' }) } },
      }),
      'config.openapi.spec',
      {},
    ],
    [
      'validator: an invalid regex',
      () => ({ name: 'bulwark-validator', config: { openapi: { spec: openapi({ type: 'string', pattern: '(' }) } } }),
      'config.openapi.spec',
      {},
    ],
    [
      'rate-limit: a CIDR with host bits',
      () => ({
        name: 'bulwark-rate-limit',
        config: { limits: [{ name: 'm', limit: 1, window_seconds: 60 }], trusted_proxies: ['10.0.0.1/8'] },
      }),
      'config.trusted_proxies[0]: ',
      {},
    ],
    [
      'transport: a CA PEM whose base64 is broken',
      () => ({
        name: 'bulwark-transport',
        config: { mtls: { enabled: true, ca_certificates: [brokenBase64(pki.root.cert)] } },
      }),
      'config.mtls.ca_certificates[0]: ',
      {},
    ],
  ];

  it.each(cases)(
    "%s: Kong's schema accepts it, the validator refuses it naming the field",
    (_name, plugin, field, env) => {
      const entry = plugin();
      const fields = infos.get(entry.name)!.Schema.fields[0]!.config!.fields as FieldEntry[];
      expect(processPluginConfig(fields, entry.config).ok).toBe(true); // what the Admin API and decK check
      const problems = validateDeclarativePlugins(fileWith(entry), infos, { env });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ plugin: entry.name, where: expect.stringMatching(/^plugins\[0\] \(route /) });
      expect(problems[0].message).toContain(`instance start refused: ${field}`);
    },
  );

  it('a valid entry passes both steps', () => {
    expect(
      validateDeclarativePlugins(fileWith({ name: 'bulwark-jwt', config: { issuers: [ISSUER] } }), infos, { env: {} }),
    ).toEqual([]);
  });

  it('a reference this machine cannot resolve skips the instance start with a note, not a failure', () => {
    const notes: ValidationProblem[] = [];
    const text = fileWith({
      name: 'bulwark-jwt',
      config: { issuers: [{ ...ISSUER, keys: ['{vault://env/jwt-test-key}'] }] },
    });
    expect(validateDeclarativePlugins(text, infos, { env: {}, notes })).toEqual([]);
    expect(notes).toEqual([
      expect.objectContaining({
        plugin: 'bulwark-jwt',
        message: expect.stringMatching(/config\.issuers\[0\]\.keys\[0\]: .*JWT_TEST_KEY.*instance start not tried/),
      }),
    ]);
  });

  it('the CLI exits 1 and prints the field', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-validate-')), 'kong.yml');
    fs.writeFileSync(
      file,
      fileWith({
        name: 'bulwark-validator',
        config: { openapi: { spec: openapi({ $ref: '#/components/schemas/Missing' }) } },
      }),
    );
    const r = spawnSync(process.execPath, [path.join(root, 'dist/js/scripts/validate-config.js'), file], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bulwark-validator: instance start refused: config\.openapi\.spec/);
  });
});
