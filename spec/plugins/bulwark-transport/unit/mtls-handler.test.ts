// The mTLS part of the phase handlers, through the plugin class, against the recording fake `kong`:
// which RPCs are made, in which order, and what the client gets.
import * as transport from '../../../../plugins/bulwark-transport';
import { MTLS_MESSAGES, resetCertificateRequestTracking } from '../../../../plugins/bulwark-transport/handler';
import { createTestPki, type TestPki } from '../../../fixtures/pki/pki';
import { fakeKong, type FakeReplies } from '../../../lib/fake-kong';
import { IDENTITY_SHARED_KEY, parseIdentity } from '../../../../plugins/lib/identity';

type Phases = { certificate(k: unknown): Promise<void>; access(k: unknown): Promise<void> };
let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki?.remove());
beforeEach(() => resetCertificateRequestTracking());

const instance = (mtls: Record<string, unknown>, rest: Record<string, unknown> = {}) =>
  new transport.Plugin({
    ...rest,
    mtls: { enabled: true, ca_certificates: [pki.root.cert], ...mtls },
  }) as unknown as Phases;

const CONSUMERS = [
  { id: '6f1f9a2e-1111-4c1e-9a51-000000000001', username: 'client-1.example.com' },
  { id: '6f1f9a2e-1111-4c1e-9a51-000000000002', username: 'alice' },
  { id: '6f1f9a2e-1111-4c1e-9a51-000000000003', username: 'guest' },
];

function kongFor(
  opts: { scheme?: string; chain?: string; headers?: Record<string, string[]> },
  extra: FakeReplies = {},
) {
  return fakeKong({
    'request.getHeaders': () => opts.headers ?? { host: ['api.example.com'] },
    'request.getScheme': () => opts.scheme ?? 'https',
    'client.tls.getFullClientCertificateChain': () => opts.chain,
    'client.tls.requestClientCertificate': () => true,
    'client.tls.disableSessionReuse': () => true,
    'client.loadConsumer': (key, byUsername) =>
      CONSUMERS.find((c) => c.id === key || (byUsername === true && c.username === key)),
    ...extra,
  });
}

/** The value of the identity record the handler published (kong.ctx.shared "bulwark.identity"). */
const identitySet = (fake: ReturnType<typeof fakeKong>) =>
  fake.calls.find(([n, a]) => n === 'ctx.shared.set' && a[0] === IDENTITY_SHARED_KEY)?.[1][1];

const logLines = (fake: ReturnType<typeof fakeKong>) =>
  fake.calls
    .filter(([n]) => n.startsWith('log.') && n !== 'log.setSerializeValue') // log lines, not the decision record
    .map(([n, a]) => [n, JSON.parse(a[0] as string)] as [string, Record<string, unknown>]);

describe('certificate phase', () => {
  it('requests the client certificate and disables session reuse when mtls is enabled', async () => {
    const fake = kongFor({});
    await instance({}).certificate(fake.kong);
    expect(fake.names()).toEqual(['client.tls.requestClientCertificate', 'client.tls.disableSessionReuse']);
  });

  it('does nothing (no RPC) when mtls is disabled', async () => {
    const fake = kongFor({});
    await (new transport.Plugin({}) as unknown as Phases).certificate(fake.kong);
    expect(fake.calls).toEqual([]);
  });

  it('a failed request is logged, and does not abort the handshake (routes without mTLS keep working)', async () => {
    const fake = kongFor({}, { 'client.tls.requestClientCertificate': () => undefined });
    await instance({}).certificate(fake.kong);
    expect(fake.names()).toEqual(['client.tls.requestClientCertificate', 'log.err']);
  });
});

describe('access with mtls', () => {
  it('valid chain, no consumer mapping: the chain read + the identity, no exit, nothing set upstream', async () => {
    const fake = kongFor({ chain: pki.chains.client });
    await instance({}).access(fake.kong);
    expect(fake.names()).toEqual([
      'request.getHeaders',
      'request.getScheme',
      'client.tls.getFullClientCertificateChain',
      'ctx.shared.set' /* the caller's identity (docs/identity.md) */,
      'response.setHeaders',
      'log.setSerializeValue' /* decision record (lib/plugin.ts) */,
    ]);
    expect(fake.exit).toBeUndefined();
    const published = parseIdentity(identitySet(fake));
    expect(published).toMatchObject({
      authenticated: true,
      authenticatedBy: 'bulwark-transport',
      method: 'mtls',
      credential: { kind: 'mtls', id: expect.stringMatching(/^[0-9a-f]{64}$/) },
      subject: expect.any(String),
    });
    expect(published?.consumer).toBeUndefined();
  });

  it('the identity of a mapped certificate names the consumer; the credential id is the fingerprint', async () => {
    const fake = kongFor({ chain: pki.chains.client });
    await instance({ consumer_by: ['san'] }).access(fake.kong);
    const auth = fake.calls.find(([n]) => n === 'client.authenticate');
    const published = parseIdentity(identitySet(fake));
    expect(published?.consumer).toEqual({ id: CONSUMERS[0]!.id, username: CONSUMERS[0]!.username });
    expect(published?.credential).toEqual({ kind: 'mtls', id: (auth?.[1][1] as { id: string }).id });
    expect(published?.claims.san_dns).toContain('client-1.example.com');
  });

  it('anonymous: an unauthenticated identity naming the anonymous consumer', async () => {
    const fake = kongFor({ chain: pki.chains.client });
    await instance({ consumer_by: ['cn'], anonymous: 'guest' }).access(fake.kong);
    expect(parseIdentity(identitySet(fake))).toMatchObject({
      authenticated: false,
      method: 'anonymous',
      consumer: { id: CONSUMERS[2]!.id, username: 'guest' },
    });
  });

  it('consumer_by san: the first SAN that is a consumer username is authenticated, credential id = fingerprint', async () => {
    const fake = kongFor({ chain: pki.chains.client });
    await instance({ consumer_by: ['san'] }).access(fake.kong);
    const auth = fake.calls.find(([n]) => n === 'client.authenticate');
    expect(auth?.[1]).toEqual([
      CONSUMERS[0],
      { id: expect.stringMatching(/^[0-9a-f]{64}$/), consumer: { id: CONSUMERS[0]!.id } },
    ]);
    expect(fake.exit).toBeUndefined();
  });

  it('consumer_by cn', async () => {
    const fake = kongFor({ chain: pki.alice.cert });
    await instance({ consumer_by: ['cn'] }).access(fake.kong);
    expect(fake.calls.find(([n]) => n === 'client.authenticate')?.[1][0]).toEqual(CONSUMERS[1]);
  });

  it('a consumer found by id (Kong tries ids first for UUID-shaped values) is not accepted: usernames only', async () => {
    const fake = kongFor({ chain: pki.alice.cert }, { 'client.loadConsumer': () => CONSUMERS[2] });
    await instance({ consumer_by: ['cn'] }).access(fake.kong);
    expect(fake.exit?.status).toBe(401);
    expect(fake.names()).not.toContain('client.authenticate');
  });

  it('no consumer for the certificate → 401 with a generic message; the reason goes to the log', async () => {
    const fake = kongFor({ chain: pki.chains.client });
    await instance({ consumer_by: ['cn'] }).access(fake.kong);
    expect(fake.exit?.status).toBe(401);
    expect(fake.exit?.body).toEqual({ message: MTLS_MESSAGES.rejected });
    expect(logLines(fake)).toEqual([
      ['log.warn', expect.objectContaining({ event: 'mtls_rejected', reason: 'no_consumer' })],
    ]);
  });

  it('no consumer for the certificate, anonymous set → continues as the anonymous consumer without a credential', async () => {
    const fake = kongFor({ chain: pki.chains.client });
    await instance({ consumer_by: ['cn'], anonymous: 'guest' }).access(fake.kong);
    expect(fake.exit).toBeUndefined();
    expect(fake.calls.find(([n]) => n === 'client.authenticate')?.[1]).toEqual([CONSUMERS[2], null]);
  });

  it('untrusted certificate → 401 "not accepted"; the log names the reason, the response does not', async () => {
    const fake = kongFor({ chain: pki.stranger.cert });
    await instance({}).access(fake.kong);
    expect(fake.exit?.status).toBe(401);
    expect(JSON.stringify(fake.exit?.body)).not.toMatch(/issuer|stranger|CA/);
    expect(logLines(fake)[0]?.[1]).toMatchObject({
      plugin: 'bulwark-transport',
      event: 'mtls_rejected',
      reason: 'unknown_issuer',
    });
    expect((fake.exit?.headers as Record<string, string>)['Strict-Transport-Security']).toBeDefined();
    expect(fake.callsAfterExit).toEqual([]);
  });

  it('no certificate and no global requester seen → 401 "required" and a log line saying a GLOBAL config must request it', async () => {
    const fake = kongFor({ chain: undefined });
    await instance({}).access(fake.kong);
    expect(fake.exit).toMatchObject({ status: 401, body: { message: MTLS_MESSAGES.required } });
    expect(logLines(fake)[0]?.[1]).toMatchObject({ reason: 'no_certificate', hint: expect.stringMatching(/GLOBAL/) });
  });

  it('no certificate after a certificate phase did request one → 401 without the misconfiguration hint', async () => {
    const inst = instance({});
    await inst.certificate(kongFor({}).kong);
    const fake = kongFor({ chain: undefined });
    await inst.access(fake.kong);
    expect(fake.exit?.status).toBe(401);
    expect(logLines(fake)[0]?.[1].hint).toBeUndefined();
  });

  it('plain HTTP with https.enforce=false: 401 without asking Kong for a chain; a certificate header is never read', async () => {
    const fake = kongFor({
      scheme: 'http',
      chain: pki.chains.client,
      headers: {
        host: ['api.example.com'],
        'x-client-cert': [encodeURIComponent(pki.chains.client)],
        'ssl-client-cert': [pki.alice.cert],
      },
    });
    await instance({}, { https: { enforce: false } }).access(fake.kong);
    expect(fake.exit?.status).toBe(401);
    expect(fake.names()).not.toContain('client.tls.getFullClientCertificateChain');
    expect(logLines(fake)[0]?.[1]).toMatchObject({ reason: 'not_tls' });
  });

  it('TLS ended at a trusted proxy (X-Forwarded-Proto: https over plain HTTP): still no certificate → 401', async () => {
    const fake = kongFor(
      { scheme: 'http', headers: { host: ['api.example.com'], 'x-forwarded-proto': ['https'] } },
      { 'client.getIp': () => '10.0.0.2' },
    );
    await instance({}, { trusted_proxies: ['10.0.0.0/8'] }).access(fake.kong);
    expect(fake.exit?.status).toBe(401);
    expect(logLines(fake)[0]?.[1]).toMatchObject({
      reason: 'not_tls',
      detail: expect.stringMatching(/proxy in front of Kong/),
    });
  });

  it('required=false: no certificate continues silently; an invalid one continues with a log line', async () => {
    const none = kongFor({ chain: undefined });
    const inst = instance({ required: false });
    await inst.certificate(kongFor({}).kong);
    await inst.access(none.kong);
    expect(none.exit).toBeUndefined();
    expect(logLines(none)).toEqual([]);

    const expired = kongFor({ chain: pki.expired.cert });
    await inst.access(expired.kong);
    expect(expired.exit).toBeUndefined();
    expect(logLines(expired)).toEqual([
      ['log.info', expect.objectContaining({ event: 'mtls_unauthenticated', reason: 'expired' })],
    ]);
  });

  it('required=false with a missing anonymous consumer fails closed with 500', async () => {
    const fake = kongFor({ chain: undefined });
    await instance({ required: false, anonymous: 'nobody' }).access(fake.kong);
    expect(fake.exit?.status).toBe(500);
    expect(logLines(fake).map(([, l]) => l.event)).toContain('mtls_anonymous_missing');
  });

  it('a plain-HTTP request is still redirected first when HTTPS is enforced (no mTLS work before that)', async () => {
    const fake = kongFor(
      { scheme: 'http' },
      { 'request.getMethod': () => 'GET', 'request.getPathWithQuery': () => '/x' },
    );
    await instance({}).access(fake.kong);
    expect(fake.exit?.status).toBe(301);
    expect(fake.names()).not.toContain('client.tls.getFullClientCertificateChain');
  });
});
