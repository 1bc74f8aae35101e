// The identity bulwark-jwt publishes (plugins/bulwark-jwt/identity.ts, docs/identity.md) and the anonymous rule.
import { generateKeyPairSync } from 'node:crypto';
import * as jwt from '../../../../plugins/bulwark-jwt';
import { parseJwtConfig } from '../../../../plugins/bulwark-jwt/config';
import { jwtCredentialId, jwtIdentity } from '../../../../plugins/bulwark-jwt/identity';
import type { VerifiedEntry } from '../../../../plugins/bulwark-jwt/verifier';
import { IDENTITY_SHARED_KEY, identityRecord, parseIdentity } from '../../../../plugins/lib/identity';
import { fakeKong } from '../../../lib/fake-kong';
import { fingerprintOfTokenHash, tokenFingerprint, tokenHash } from '../../../../plugins/lib/token-hash';

const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const ISSUER = { issuer: 'https://idp.example.com', keys: [PEM], audiences: ['api'] };

function entry(
  conf: ReturnType<typeof parseJwtConfig>,
  claims: Record<string, unknown>,
  token = 'token-a',
): VerifiedEntry {
  return {
    tokenHash: tokenHash(token),
    issuer: conf.issuers.get(ISSUER.issuer)!,
    header: { alg: 'ES256' },
    claims: claims as never,
    key: undefined as never,
    alg: 'ES256',
  };
}

describe('jwtIdentity', () => {
  const conf = parseJwtConfig({
    issuers: [ISSUER],
    identity: { groups_claims: ['groups', 'roles'], claims: ['tenant', 'big'] },
  });

  it('sub, iss, scopes from scope and scp, groups from the configured claims, selected claims only', () => {
    const e = entry(conf, {
      sub: 'alice',
      iss: ISSUER.issuer,
      scope: 'orders:read orders:write',
      scp: ['admin'],
      groups: ['staff'],
      roles: 'auditor  billing',
      tenant: { id: 't1' },
      email: 'a@example.com',
    });
    const record = identityRecord(jwtIdentity(conf, e, undefined));
    expect(record).toMatchObject({
      authenticated: true,
      authenticatedBy: 'bulwark-jwt',
      method: 'jwt',
      subject: 'alice',
      issuer: ISSUER.issuer,
      scopes: ['orders:read', 'orders:write', 'admin'],
      groups: ['staff', 'auditor', 'billing'],
      claims: { tenant: { id: 't1' } },
      credential: { kind: 'jwt', id: jwtCredentialId(e) },
    });
    expect(record.consumer).toBeUndefined();
    expect(record.claims.email).toBeUndefined();
  });

  it('the credential id is stable per issuer+subject (not per token), per token without sub', () => {
    expect(jwtCredentialId(entry(conf, { sub: 'alice' }, 't1'))).toBe(
      jwtCredentialId(entry(conf, { sub: 'alice' }, 't2')),
    );
    expect(jwtCredentialId(entry(conf, { sub: 'alice' }, 't1'))).not.toBe(
      jwtCredentialId(entry(conf, { sub: 'bob' }, 't1')),
    );
    expect(jwtCredentialId(entry(conf, {}, 't1'))).not.toBe(jwtCredentialId(entry(conf, {}, 't2')));
    // Without sub: the token's fingerprint, from the hash the verifier computed (equal to hashing the token again).
    expect(fingerprintOfTokenHash(tokenHash('t1'))).toBe(tokenFingerprint('t1'));
  });

  it('values over the contract bounds are left out, never a throw (the issuer decides their size)', () => {
    const e = entry(conf, {
      sub: 'x'.repeat(600),
      groups: ['ok', 'g'.repeat(600)],
      big: 'b'.repeat(5000),
      scope: 's '.repeat(400),
    });
    const record = identityRecord(jwtIdentity(conf, e, { id: 'c1', username: 'u' }));
    expect(record.subject).toBeUndefined();
    expect(record.groups).toEqual(['ok']);
    expect(record.claims.big).toBeUndefined();
    expect(record.scopes).toEqual(['s']);
    expect(record.consumer).toEqual({ id: 'c1', username: 'u' });
  });
});

describe('the anonymous rule (mayReplaceIdentity)', () => {
  const GUEST = { id: '6f1f9a2e-1111-4c1e-9a51-000000000003', username: 'guest' };
  const plugin = () =>
    new jwt.Plugin({ issuers: [ISSUER], anonymous: 'guest' }) as unknown as { access(k: unknown): Promise<void> };
  const mtls = identityRecord({
    authenticated: true,
    authenticatedBy: 'bulwark-transport',
    method: 'mtls',
    credential: { kind: 'mtls', id: 'f' },
  });

  it('no token, no earlier identity: publishes an anonymous identity naming the anonymous consumer', async () => {
    const fake = fakeKong({ 'request.getHeaders': () => ({}), 'client.loadConsumer': () => GUEST });
    await plugin().access(fake.kong);
    const set = fake.calls.find(([n, a]) => n === 'ctx.shared.set' && a[0] === IDENTITY_SHARED_KEY);
    expect(parseIdentity(set?.[1][1])).toMatchObject({ authenticated: false, method: 'anonymous', consumer: GUEST });
  });

  it('no token after an mTLS identity without consumer: the authenticated identity stays', async () => {
    const fake = fakeKong({
      'request.getHeaders': () => ({}),
      'client.loadConsumer': () => GUEST,
      'ctx.shared.get': (key) => (key === IDENTITY_SHARED_KEY ? mtls : undefined),
    });
    await plugin().access(fake.kong);
    expect(fake.exit).toBeUndefined();
    expect(fake.calls.filter(([n, a]) => n === 'ctx.shared.set' && a[0] === IDENTITY_SHARED_KEY)).toEqual([]);
  });
});
