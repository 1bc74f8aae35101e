// The issue's closing proof: tokens issued by bulwark-oauth2 are accepted by bulwark-jwt pointed at the JWKS
// that bulwark-oauth2 serves, both through the gateway. The JWKS is fetched over real HTTP from the emulator's
// proxy listener (startGatewayServer, proxyPort 0), exactly as a remote resource server would fetch it.
import { startGatewayServer, type RunningGateway } from '../../../kong/emulator/gateway';
import { loadDeclarative } from '../../../kong/emulator/declarative';
import { startEchoUpstream, type EchoUpstream } from '../../../kong/echo-upstream/server';
import { serverKind, BOTH_PLUGIN_SERVERS, runsOnPluginServers } from '../../helpers/emulator';
import { hashSecret } from '../../../plugins/lib/secret-hash';
import { ecKey, edKey, rsaKey } from './fixtures';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const ISSUER = 'https://auth.example.com';
const AUDIENCE = 'https://orders.example.com';
const SECRET = 'orders-client-secret-0123456789';
const FORM = 'application/x-www-form-urlencoded';

describe('bulwark-oauth2 tokens validated by bulwark-jwt through the gateway', () => {
  let gw: RunningGateway;
  let upstream: EchoUpstream;
  let base: string;
  const keys = { rsa: rsaKey(), ec: ecKey(), ed: edKey() };

  beforeAll(async () => {
    upstream = await startEchoUpstream(0);
    gw = await startGatewayServer({
      server: serverKind(),
      plugins: ['bulwark-oauth2', 'bulwark-jwt'],
      declarativeConfig: '_format_version: "3.0"\n',
      proxyPort: 0,
      adminPort: 0,
    });
    base = `http://127.0.0.1:${gw.proxyPort}`;
    const hash = await hashSecret(SECRET);
    const oauth = (route: string, prefix: string, signingKey: string) => ({
      name: 'bulwark-oauth2',
      route,
      config: {
        token_path: `${prefix}/token`,
        jwks_path: `${prefix}/jwks`,
        issuer: ISSUER,
        audience: [AUDIENCE],
        signing_keys: [signingKey],
        clients: [
          { client_id: 'orders-app', client_secret_hash: hash, allowed_scopes: ['orders:read', 'orders:write'] },
        ],
      },
    });
    const jwt = (route: string, prefix: string, algorithms: string[]) => ({
      name: 'bulwark-jwt',
      route,
      config: {
        issuers: [
          {
            issuer: ISSUER,
            jwks_url: `${base}${prefix}/jwks`,
            allow_http_jwks: true,
            audiences: [AUDIENCE],
            algorithms,
          },
        ],
        claims: { typ: 'at+jwt' },
        scopes: { required: ['orders:read'] },
      },
    });
    const config = {
      _format_version: '3.0',
      services: [
        {
          name: 'orders',
          url: `http://127.0.0.1:${upstream.port}`,
          routes: ['rs', 'es', 'ed'].flatMap((n) => [
            { name: `auth-${n}`, paths: [`/auth-${n}`] },
            { name: `api-${n}`, paths: [`/api-${n}`] },
          ]),
        },
      ],
      plugins: [
        oauth('auth-rs', '/auth-rs', keys.rsa.pem),
        oauth('auth-es', '/auth-es', keys.ec.pem),
        oauth('auth-ed', '/auth-ed', keys.ed.pem),
        jwt('api-rs', '/auth-rs', ['RS256']),
        jwt('api-es', '/auth-es', ['ES256']),
        jwt('api-ed', '/auth-ed', ['EdDSA']),
      ],
    };
    gw.kong.setConfig(loadDeclarative(JSON.stringify(config), { knownPlugins: new Set(gw.kong.plugins.keys()) }));
  });

  afterAll(async () => {
    expect(gw?.kong.unhandledExceptions()).toEqual([]);
    await gw?.close();
    await upstream?.close();
  });

  async function token(prefix: string, scope: string): Promise<string> {
    const res = await fetch(`${base}${prefix}/token`, {
      method: 'POST',
      headers: {
        'content-type': FORM,
        authorization: `Basic ${Buffer.from(`orders-app:${SECRET}`).toString('base64')}`,
      },
      body: `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    return ((await res.json()) as { access_token: string }).access_token;
  }

  test.each(['rs', 'es', 'ed'])(
    '%s: a token from the token endpoint opens the protected route; without it, 401',
    async (n) => {
      const accessToken = await token(`/auth-${n}`, 'orders:read');
      const ok = await fetch(`${base}/api-${n}/orders`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(ok.status).toBe(200);
      const echoed = (await ok.json()) as { path: string };
      expect(echoed.path).toBe('/orders');

      const none = await fetch(`${base}/api-${n}/orders`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    },
  );

  test('a token without the required scope gets 403 insufficient_scope', async () => {
    const accessToken = await token('/auth-es', 'orders:write');
    const res = await fetch(`${base}/api-es/orders`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
  });

  test('a token signed by another bulwark-oauth2 instance (other key) is refused', async () => {
    const foreign = await token('/auth-rs', 'orders:read');
    const res = await fetch(`${base}/api-es/orders`, { headers: { authorization: `Bearer ${foreign}` } });
    expect(res.status).toBe(401);
  });
});
