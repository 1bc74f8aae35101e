import { phaseContext } from '../../../../plugins/lib/plugin';
// The access handler against a recording fake kong: fail closed when Kong gives no upstream URI or service, the
// body cap before and after reading, sign_without_digest, the signed claims, and clearing of inbound spellings.
import { parseUpstreamTrustConfig } from '../../../../plugins/bulwark-upstream-trust/config';
import { access, clock } from '../../../../plugins/bulwark-upstream-trust/handler';
import { contentDigest } from '../../../../plugins/bulwark-upstream-trust/protocol';
import { fakeKong, type FakeReplies } from '../../../lib/fake-kong';
import { edKey } from '../../bulwark-oauth2/fixtures';

const conf = (extra: Record<string, unknown> = {}) =>
  parseUpstreamTrustConfig({ issuer: 'gw', signing_keys: [edKey().pem], ...extra });

function replies(extra: FakeReplies = {}): FakeReplies {
  return {
    'ctx.shared.get': () => undefined,
    'request.getMethod': () => 'POST',
    'request.getHeaders': () => ({ host: ['client.example'], 'content-length': ['3'] }),
    'nginx.getVar': (name) => (name === 'upstream_uri' ? '/v1/items' : ''),
    'request.getRawQuery': () => 'q=1',
    'router.getService': () => ({ id: 'svc-id', name: 'items', host: 'items.internal', port: 8080, protocol: 'http' }),
    'request.getRawBody': () => new Uint8Array(Buffer.from('abc')),
    ...extra,
  };
}

function claims(fake: ReturnType<typeof fakeKong>): Record<string, unknown> {
  const set = fake.calls.find(([n]) => n === 'service.request.setHeaders')![1][0] as Record<string, string>;
  return JSON.parse(Buffer.from(set['X-Bulwark-Upstream-Token']!.split('.')[1]!, 'base64url').toString()) as Record<
    string,
    unknown
  >;
}

test('signs method, upstream URI + query, the service Host, the body digest and the service name as audience', async () => {
  clock.now = () => 1_767_225_600_000;
  const fake = fakeKong(replies());
  await access(phaseContext('bulwark-upstream-trust', fake.kong, conf()));
  expect(fake.exit).toBeUndefined();
  expect(claims(fake)).toMatchObject({
    iss: 'gw',
    aud: 'items',
    iat: 1_767_225_600,
    exp: 1_767_225_630,
    htm: 'POST',
    htu: '/v1/items?q=1',
    hth: 'items.internal:8080',
    cdg: contentDigest(Buffer.from('abc')),
    identity: null,
  });
  clock.now = () => Date.now();
});

test('no upstream_uri in access (Kong did not route) or no service: 500, nothing signed', async () => {
  const noUri = fakeKong(replies({ 'nginx.getVar': () => undefined }));
  await access(phaseContext('bulwark-upstream-trust', noUri.kong, conf()));
  expect(noUri.exit?.status).toBe(500);
  expect(noUri.names()).not.toContain('service.request.setHeaders');
  const noService = fakeKong(replies({ 'router.getService': () => undefined }));
  await access(phaseContext('bulwark-upstream-trust', noService.kong, conf()));
  expect(noService.exit?.status).toBe(500);
});

test('body cap: Content-Length over max_body_size is refused before reading; a chunked body over it after', async () => {
  const declared = fakeKong(replies({ 'request.getHeaders': () => ({ 'content-length': ['100'] }) }));
  await access(phaseContext('bulwark-upstream-trust', declared.kong, conf({ max_body_size: 10 })));
  expect(declared.exit?.status).toBe(413);
  expect(declared.names()).not.toContain('request.getRawBody');
  const chunked = fakeKong(
    replies({
      'request.getHeaders': () => ({ 'transfer-encoding': ['chunked'] }),
      'request.getRawBody': () => new Uint8Array(11),
    }),
  );
  await access(phaseContext('bulwark-upstream-trust', chunked.kong, conf({ max_body_size: 10 })));
  expect(chunked.exit?.status).toBe(413);
  // Kong's get_raw_body returns nil when the spooled body is over max_allowed_file_size.
  const spooled = fakeKong(
    replies({
      'request.getHeaders': () => ({ 'transfer-encoding': ['chunked'] }),
      'request.getRawBody': () => undefined,
    }),
  );
  await access(phaseContext('bulwark-upstream-trust', spooled.kong, conf({ max_body_size: 10 })));
  expect(spooled.exit?.status).toBe(413);
});

test('sign_without_digest: an oversized body is signed as body_unbound, without cdg', async () => {
  const fake = fakeKong(replies({ 'request.getHeaders': () => ({ 'content-length': ['100'] }) }));
  await access(
    phaseContext(
      'bulwark-upstream-trust',
      fake.kong,
      conf({ max_body_size: 10, oversized_body: 'sign_without_digest' }),
    ),
  );
  expect(fake.exit).toBeUndefined();
  expect(claims(fake)).toMatchObject({ body_unbound: true });
  expect(claims(fake)).not.toHaveProperty('cdg');
});

test('configured audience and upstream_host: no service lookup; inbound spellings of signed headers cleared', async () => {
  const fake = fakeKong(
    replies({
      'request.getHeaders': () => ({
        x_bulwark_upstream_token: ['forged'],
        'x-bulwark-upstream-token': ['forged'],
        signature_input: ['x'],
        'bulwark-identity': ['e30'],
      }),
    }),
  );
  await access(
    phaseContext('bulwark-upstream-trust', fake.kong, conf({ audience: 'ledger', upstream_host: 'Ledger.Internal' })),
  );
  expect(fake.names()).not.toContain('router.getService');
  expect(fake.names().filter((n) => n === 'nginx.getVar')).toHaveLength(1);
  expect(
    fake.calls
      .filter(([n]) => n === 'service.request.clearHeader')
      .map(([, a]) => a[0])
      .sort(),
  ).toEqual(['bulwark-identity', 'signature_input', 'x_bulwark_upstream_token']);
  expect(claims(fake)).toMatchObject({ aud: 'ledger', hth: 'ledger.internal' });
});
