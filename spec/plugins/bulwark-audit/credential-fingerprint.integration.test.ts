// credential_fingerprint through the gateway: the Kong emulator with the real plugin server (both servers),
// bulwark-audit shipping every decision (allow included) to a JSON-lines file. For each authenticating plugin an
// allowed and a refused request each produce an event whose fingerprint is the expected one, computed here from the
// credential itself (SHA-256, base64url, first 12 characters; a certificate's SHA-256 in hex), and the raw key,
// token, secret or certificate appears nowhere in the event. bulwark-oauth2's token and JWKS answers and
// bulwark-docs' served page are allow events too.
import { createHash, X509Certificate } from 'node:crypto';
import { issueKey } from '../../../plugins/bulwark-api-key/key-admin';
import { generateKey } from '../../../plugins/bulwark-api-key/key-format';
import { serializeKeyRecord } from '../../../plugins/bulwark-api-key/key-record';
import { OAUTH2_REASONS } from '../../../plugins/bulwark-oauth2';
import { hashSecret } from '../../../plugins/lib/secret-hash';
import type { SecurityEvent } from '../../../plugins/lib/security-event';
import { createTestPki, type TestPki } from '../../fixtures/pki/pki';
import { ecKey } from '../bulwark-oauth2/fixtures';
import {
  afterAllNoFailOpen,
  startGateway,
  waitFor,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  type Gateway,
} from '../../helpers/emulator';
import { auditEventsFile } from '../../helpers/jsonl';
import { epochSeconds, hs256Token } from '../../helpers/hs256';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const { file: eventsFile, readEvents, eventFor } = auditEventsFile('bulwark-fingerprint-');
let gw: Gateway | undefined;
let pki: TestPki | undefined;

/** What an analyst computes from a credential to find its events (README: event reference). */
const digest = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64url').slice(0, 12);
const certHex = (pem: string) => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();

const JWT_SECRET = 'an-hs256-secret-of-at-least-32-bytes!';
const hsToken = (secret: string, sub: string) =>
  hs256Token({ iss: 'hs-issuer', aud: 'api', sub, exp: epochSeconds(300) }, secret);
const goodToken = hsToken(JWT_SECRET, 'alice');
const forgedToken = hsToken('another-secret-of-at-least-32-bytes!!', 'alice');

const now = Date.now();
const goodKey = issueKey({ prefix: 'bwk_test', id: 'svc-1' }, now);
const unknownKey = generateKey('bwk_test');
const CLIENT_SECRET = 'orders-service-secret-0123456789';
const WRONG_SECRET = 'not-the-orders-secret-0123456789';
let clientSecretHash = '';

/** The whole event as shipped, for "appears nowhere" checks. */
const text = (e: SecurityEvent) => JSON.stringify(e);

beforeAll(async () => {
  pki = createTestPki();
  clientSecretHash = await hashSecret(CLIENT_SECRET);
  const plugins = [
    'bulwark-audit',
    'bulwark-transport',
    'bulwark-jwt',
    'bulwark-api-key',
    'bulwark-oauth2',
    'bulwark-docs',
  ];
  gw = await startGateway({ plugins });
  const root = JSON.stringify(pki.root.cert);
  gw.configure(`
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - name: key
        paths: ["/key"]
        plugins:
          - name: bulwark-api-key
            config: { key_prefixes: [bwk_test], lockout: { enabled: false }, keys: ${JSON.stringify([serializeKeyRecord(goodKey.record)])} }
      - name: jwt
        paths: ["/jwt"]
        plugins:
          - name: bulwark-jwt
            config: { issuers: [{ issuer: hs-issuer, secrets: ["${JWT_SECRET}"], algorithms: [HS256], audiences: [api] }] }
      - name: mtls
        paths: ["/mtls"]
        plugins:
          - name: bulwark-transport
            config:
              mtls: { enabled: true, ca_certificates: [${root}], allowed_subjects: ["spiffe://example.com/ns/prod/sa/client-1"] }
      - name: oauth
        paths: ["/oauth2"]
        plugins:
          - name: bulwark-oauth2
            config:
              issuer: https://auth.example.com
              audience: [api]
              signing_keys: [${JSON.stringify(ecKey().pem)}]
              clients: [{ client_id: orders, client_secret_hash: ${JSON.stringify(clientSecretHash)}, allowed_scopes: [orders] }]
      - name: docs
        paths: ["/docs"]
        plugins:
          - name: bulwark-docs
            config:
              path: /docs
              filter: none
              openapi:
                spec: |
                  openapi: 3.0.3
                  info: { title: t, version: "1" }
                  paths:
                    /items: { get: { responses: { "200": { description: ok } } } }
plugins:
  # GLOBAL: the only config Kong runs the certificate phase for; it asks for a certificate and refuses nothing.
  - name: bulwark-transport
    config: { https: { enforce: false }, mtls: { enabled: true, required: false, ca_certificates: [${root}] } }
  - name: bulwark-audit
    config:
      decisions: [allow, deny, error, monitor-deny]
      sinks:
        file: { path: ${JSON.stringify(eventsFile)} }
`);
}, 180_000);

afterAllNoFailOpen(() => [gw]);
afterAll(() => pki?.remove());

test('bulwark-api-key: a valid key (allow) and an unknown key (deny) carry `bwk_test:` + their SHA-256 prefix, never the key', async () => {
  expect((await gw!.send({ path: '/key/ok', headers: { 'x-api-key': goodKey.key } })).status).toBe(200);
  expect((await gw!.send({ path: '/key/unknown', headers: { 'x-api-key': unknownKey } })).status).toBe(401);
  const allowed = await eventFor('bulwark-api-key', '/key/ok');
  const denied = await eventFor('bulwark-api-key', '/key/unknown');
  expect(allowed).toMatchObject({
    decision: 'allow',
    reason: 'allowed',
    credential_fingerprint: `bwk_test:${digest(goodKey.key)}`,
    identity: { credential_kind: 'api-key', credential_id: 'svc-1' },
  });
  expect(denied).toMatchObject({
    decision: 'deny',
    reason: 'unknown_key',
    status: 401,
    credential_fingerprint: `bwk_test:${digest(unknownKey)}`,
  });
  expect(allowed.credential_fingerprint).not.toBe(denied.credential_fingerprint);
  for (const e of [allowed, denied]) {
    expect(text(e)).not.toContain(goodKey.key.slice(9, 30));
    expect(text(e)).not.toContain(unknownKey.slice(9, 30));
  }
});

test('bulwark-jwt: a verified token (allow) and a forged one (deny) carry `jwt:` + their SHA-256 prefix, never a token part', async () => {
  expect((await gw!.send({ path: '/jwt/ok', headers: { authorization: `Bearer ${goodToken}` } })).status).toBe(200);
  expect((await gw!.send({ path: '/jwt/forged', headers: { authorization: `Bearer ${forgedToken}` } })).status).toBe(
    401,
  );
  const allowed = await eventFor('bulwark-jwt', '/jwt/ok');
  const denied = await eventFor('bulwark-jwt', '/jwt/forged');
  expect(allowed).toMatchObject({
    decision: 'allow',
    credential_fingerprint: `jwt:${digest(goodToken)}`,
    identity: { credential_kind: 'jwt', subject: 'alice' },
  });
  expect(denied).toMatchObject({
    decision: 'deny',
    reason: 'signature_invalid',
    credential_fingerprint: `jwt:${digest(forgedToken)}`,
  });
  for (const e of [allowed, denied])
    for (const part of [...goodToken.split('.'), ...forgedToken.split('.')]) expect(text(e)).not.toContain(part);
});

test("bulwark-transport mTLS: an allowed and a refused certificate carry `mtls:` + the certificate's SHA-256 (hex)", async () => {
  const ok = await gw!.kong.request({ path: '/mtls/ok', scheme: 'https', clientCertChainPem: pki!.chains.client });
  expect(ok.status).toBe(200);
  const refused = await gw!.kong.request({ path: '/mtls/other', scheme: 'https', clientCertChainPem: pki!.alice.cert });
  expect(refused.status).toBe(401);
  const allowed = await eventFor('bulwark-transport', '/mtls/ok');
  const denied = await eventFor('bulwark-transport', '/mtls/other');
  expect(allowed).toMatchObject({
    decision: 'allow',
    credential_fingerprint: `mtls:${certHex(pki!.client.cert)}`,
    identity: { credential_kind: 'mtls', credential_id: certHex(pki!.client.cert) },
  });
  expect(denied).toMatchObject({
    decision: 'deny',
    reason: 'subject_not_allowed',
    credential_fingerprint: `mtls:${certHex(pki!.alice.cert)}`,
  });
  const body = (pem: string) => pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'))[1]!;
  for (const e of [allowed, denied]) expect(text(e)).not.toContain(body(pki!.client.cert));
});

test('bulwark-oauth2: an issued token is an allow event naming the client and its credential; a wrong secret a deny without a fingerprint of it; the JWKS an allow event', async () => {
  const form = (secret: string) =>
    gw!.send({
      method: 'POST',
      path: '/oauth2/token',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`orders:${secret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
  const issued = await form(CLIENT_SECRET);
  expect(issued.status).toBe(200);
  const accessToken = (JSON.parse(issued.body.toString()) as { access_token: string }).access_token;
  expect((await form(WRONG_SECRET)).status).toBe(401);
  expect((await gw!.send({ path: '/oauth2/jwks' })).status).toBe(200);
  await waitFor(() => readEvents().filter((e) => e.plugin === 'bulwark-oauth2').length >= 3, 10_000);
  const events = readEvents().filter((e) => e.plugin === 'bulwark-oauth2');
  const client = { credential_kind: 'oauth2-client', credential_id: 'orders', subject: 'orders' };
  const allowed = events.find((e) => e.http.path === '/oauth2/token' && e.decision === 'allow')!;
  const denied = events.find((e) => e.http.path === '/oauth2/token' && e.decision === 'deny')!;
  expect(allowed).toMatchObject({
    reason: OAUTH2_REASONS.allowed,
    status: 200,
    identity: client,
    credential_fingerprint: `oauth2-client:${digest(clientSecretHash)}`,
  });
  expect(denied).toMatchObject({ reason: OAUTH2_REASONS.wrongSecret, status: 401, identity: client });
  expect(denied.credential_fingerprint).toBeUndefined();
  expect(events.find((e) => e.http.path === '/oauth2/jwks')).toMatchObject({ decision: 'allow', status: 200 });
  for (const e of events) {
    for (const secret of [CLIENT_SECRET, WRONG_SECRET, clientSecretHash, accessToken.split('.')[2]!])
      expect(text(e)).not.toContain(secret);
  }
});

test('bulwark-docs: the served page is an allow event (docs_served); an unknown docs path a deny (docs_not_found)', async () => {
  expect((await gw!.send({ path: '/docs' })).status).toBe(200);
  expect((await gw!.send({ path: '/docs/nothing-here' })).status).toBe(404);
  expect(await eventFor('bulwark-docs', '/docs')).toMatchObject({
    decision: 'allow',
    reason: 'docs_served',
    status: 200,
  });
  expect(await eventFor('bulwark-docs', '/docs/nothing-here')).toMatchObject({
    decision: 'deny',
    reason: 'docs_not_found',
    status: 404,
  });
});
