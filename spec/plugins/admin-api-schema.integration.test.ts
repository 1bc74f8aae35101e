// Issue #12 through the Admin API of the emulated Kong, with the built plugins and the real plugin server: each
// config below used to be accepted (201) and then made every request of the route answer 500 when the instance
// refused to start. The dumped schemas now say these rules, so Kong itself answers 400 naming the field.
import * as http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { startGatewayServer, type RunningGateway } from '../../kong/emulator/gateway';
import { serverKind, BOTH_PLUGIN_SERVERS, runsOnPluginServers } from '../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Admin API answers are read field by field
type AdminJson = any;

function call(
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: () => AdminJson }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers: payload ? { 'content-type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The node at a dotted path of Kong's error tree (array positions 0-based). */
const at = (tree: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (node, part) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined),
      tree,
    );

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_PEM = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const PRIVATE_PEM = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const ISSUER = { issuer: 'https://idp.example.com', keys: [PUBLIC_PEM], audiences: ['api'] };
const LIMIT = { name: 'm', limit: 5, window_seconds: 60 };

const CONFIG = `
_format_version: "3.0"
services:
  - name: echo
    url: http://127.0.0.1:9/
    routes:
      - name: api
        paths: ["/api"]
`;

describe('Admin API refuses, naming the field, what the plugins used to refuse only at instance start', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGatewayServer({
      declarativeConfig: CONFIG,
      proxyPort: 0,
      adminPort: 0,
      plugins: ['bulwark-jwt', 'bulwark-rate-limit', 'bulwark-transport'],
      server: serverKind(),
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it.each([
    [
      'rate-limit: window_seconds and calendar together',
      'bulwark-rate-limit',
      { limits: [{ ...LIMIT, calendar: 'day' }] },
      'limits.0.@entity',
    ],
    [
      'rate-limit: an unknown time zone',
      'bulwark-rate-limit',
      { limits: [LIMIT], time_zone: 'Mars/Olympus_Mons' },
      'time_zone',
    ],
    [
      'rate-limit: a 64 KiB header_name',
      'bulwark-rate-limit',
      { limits: [LIMIT], limit_by: ['header'], header_name: 'x'.repeat(65536) },
      'header_name',
    ],
    [
      'jwt: an ftp:// JWKS URL',
      'bulwark-jwt',
      { issuers: [{ ...ISSUER, jwks_url: 'ftp://idp.example.com/jwks' }] },
      'issuers.0.jwks_url',
    ],
    ['jwt: a private key', 'bulwark-jwt', { issuers: [{ ...ISSUER, keys: [PRIVATE_PEM] }] }, 'issuers.0.keys.0'],
    [
      'jwt: a short HS256 secret',
      'bulwark-jwt',
      { issuers: [{ ...ISSUER, keys: [], secrets: ['too-short'], algorithms: ['HS256'] }] },
      'issuers.0.secrets.0',
    ],
    [
      'transport: a CA that is not a PEM certificate',
      'bulwark-transport',
      { mtls: { enabled: true, ca_certificates: ['not a certificate'] } },
      'mtls.ca_certificates.0',
    ],
  ])('%s: 400 schema violation naming the field', async (_name, plugin, config, field) => {
    const res = await call(gw.adminPort, 'POST', '/routes/api/plugins', { name: plugin, config });
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ code: 2, name: 'schema violation' });
    expect(at(res.json().fields.config, field)).toEqual(expect.anything());
  });

  it('a valid config is still created', async () => {
    const res = await call(gw.adminPort, 'POST', '/routes/api/plugins', {
      name: 'bulwark-rate-limit',
      config: { limits: [LIMIT], time_zone: 'Europe/Paris' },
    });
    expect(res.status).toBe(201);
    expect((await call(gw.adminPort, 'DELETE', `/plugins/${res.json().id}`)).status).toBe(204);
  });
});
