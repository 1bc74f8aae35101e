// Client-chain verification (plugins/bulwark-transport/mtls.ts) with real certificates made by the openssl CLI.
import { X509Certificate } from 'node:crypto';
import {
  assessClientCertificate,
  consumerCandidates,
  parseSubject,
  parseSubjectAltNames,
  SubjectAllowList,
  verifyClientChain,
  MAX_CHAIN_CERTIFICATES,
  type MtlsTrust,
} from '../../../../plugins/bulwark-transport/mtls';
import { createTestPki, type TestPki } from '../../../fixtures/pki/pki';

let pki: TestPki;
let trust: MtlsTrust;
// Set after the certificates exist: they are valid from the second they were made.
let NOW: Date;

beforeAll(() => {
  pki = createTestPki();
  NOW = new Date();
  trust = { anchors: [new X509Certificate(pki.root.cert)], maxDepth: 3, checkValidity: true };
});
afterAll(() => pki?.remove());

const failure = (chain: string, t: MtlsTrust = trust, now?: Date) => {
  const r = verifyClientChain(chain, t, now ?? NOW);
  return r.ok ? 'ok' : r.reason;
};

describe('verifyClientChain: accepted chains', () => {
  it('leaf + intermediate up to the configured root: subject, SANs, fingerprint and depth', () => {
    const r = verifyClientChain(pki.chains.client, trust, NOW);
    expect(r).toEqual({
      ok: true,
      subject: { cn: 'client-1' },
      sans: {
        dns: ['client-1.example.com'],
        email: ['client1@example.com'],
        uri: ['spiffe://example.com/ns/prod/sa/client-1'],
      },
      fingerprint: new X509Certificate(pki.client.cert).fingerprint256.replace(/:/g, '').toLowerCase(),
      depth: 2,
    });
  });

  it('a leaf issued directly by the root has depth 1', () => {
    expect(verifyClientChain(pki.alice.cert, trust, NOW)).toMatchObject({
      ok: true,
      subject: { cn: 'alice' },
      depth: 1,
    });
  });

  it('the intermediate as the only anchor: the leaf alone is enough', () => {
    const t = { ...trust, anchors: [new X509Certificate(pki.intermediate.cert)] };
    expect(verifyClientChain(pki.client.cert, t, NOW)).toMatchObject({ ok: true, depth: 1 });
  });

  it('a root the client sends along, and intermediates out of order, change nothing', () => {
    expect(failure(pki.client.cert + pki.root.cert + pki.intermediate.cert)).toBe('ok');
  });
});

describe('verifyClientChain: refused chains', () => {
  it('a certificate from a CA that is not configured', () => {
    expect(failure(pki.stranger.cert)).toBe('unknown_issuer');
  });

  it('the client sending its own "root" does not make it trusted', () => {
    expect(failure(pki.stranger.cert + pki.otherCa.cert)).toBe('unknown_issuer');
  });

  it('a leaf without the intermediate that links it to the root', () => {
    expect(failure(pki.client.cert)).toBe('unknown_issuer');
  });

  it('an expired leaf, and a leaf not valid yet', () => {
    expect(failure(pki.expired.cert)).toBe('expired');
    expect(failure(pki.alice.cert, trust, new Date('2001-01-01T00:00:00Z'))).toBe('not_yet_valid');
  });

  it('an expired intermediate fails the chain although the leaf is still valid', () => {
    const afterIntermediate = new Date(Date.parse(new X509Certificate(pki.intermediate.cert).validTo) + 1000);
    expect(afterIntermediate.getTime()).toBeLessThan(Date.parse(new X509Certificate(pki.client.cert).validTo));
    const r = verifyClientChain(pki.chains.client, trust, afterIntermediate);
    expect(r).toMatchObject({ ok: false, reason: 'expired', detail: expect.stringContaining('Intermediate CA') });
  });

  it('check_validity=false accepts an expired certificate', () => {
    expect(failure(pki.expired.cert, { ...trust, checkValidity: false })).toBe('ok');
  });

  it('a leaf signed by a certificate that is not a CA (CA:FALSE), even though that one chains to the root', () => {
    expect(failure(pki.chains.forged)).toBe('issuer_not_ca');
  });

  it('a CA certificate presented as the client certificate', () => {
    expect(failure(pki.intermediate.cert)).toBe('leaf_is_ca');
  });

  it('an extendedKeyUsage without clientAuth (a server certificate)', () => {
    expect(failure(pki.serverEku.cert)).toBe('client_auth_not_allowed');
    expect(failure(pki.server.cert)).toBe('client_auth_not_allowed');
  });

  it('a chain longer than max_chain_depth', () => {
    expect(failure(pki.chains.client, { ...trust, maxDepth: 1 })).toBe('chain_too_deep');
    expect(failure(pki.chains.client, { ...trust, maxDepth: 2 })).toBe('ok');
  });

  it("a signature that does not verify: an anchor with the issuer's name but another key", () => {
    const impostor = new X509Certificate(pki.impostorCa.cert);
    const alice = new X509Certificate(pki.alice.cert);
    expect(alice.checkIssued(impostor)).toBe(true); // names match: only the signature tells them apart
    expect(failure(pki.alice.cert, { ...trust, anchors: [impostor] })).toBe('unknown_issuer');
  });

  it('malformed input: empty, not PEM, broken base64', () => {
    expect(failure('')).toBe('malformed_chain');
    expect(failure('hello')).toBe('malformed_chain');
    expect(failure(pki.alice.cert.replace(/\n[A-Za-z0-9+/]{64}\n/, `\n${'A'.repeat(64)}\n`))).toBe('malformed_chain');
  });

  it(`more than ${MAX_CHAIN_CERTIFICATES} certificates, or a huge PEM, is refused before parsing`, () => {
    expect(failure(pki.alice.cert.repeat(MAX_CHAIN_CERTIFICATES + 1))).toBe('malformed_chain');
    expect(failure(pki.alice.cert + ' '.repeat(70 * 1024))).toBe('malformed_chain');
  });
});

describe('names', () => {
  it('subject CN: escaped values are unescaped; zero or several CNs give no CN', () => {
    expect(parseSubject('O=Acme\nCN=svc\\, eu')).toEqual({ cn: 'svc, eu' });
    expect(parseSubject('O=Acme\nCN=a + OU=x')).toEqual({ cn: 'a' });
    expect(parseSubject('O=Acme')).toEqual({ cn: undefined });
    expect(parseSubject('CN=a\nCN=b')).toEqual({ cn: undefined });
    expect(parseSubject('CN=caf\\C3\\A9')).toEqual({ cn: 'café' });
  });

  it('subjectAltName: JSON-quoted values (commas inside) are read exactly; other types ignored; garbage throws', () => {
    expect(parseSubjectAltNames('DNS:a.example, DNS:"b, c", IP Address:10.0.0.1, email:x@y, URI:urn:x:1')).toEqual({
      dns: ['a.example', 'b, c'],
      email: ['x@y'],
      uri: ['urn:x:1'],
    });
    expect(parseSubjectAltNames(undefined)).toEqual({ dns: [], email: [], uri: [] });
    expect(() => parseSubjectAltNames('DNS:"unterminated')).toThrow();
    expect(() => parseSubjectAltNames('nonsense')).toThrow();
  });

  it('allow-list: exact CN or SAN value; DNS case-insensitive; empty list allows all', () => {
    const subject = { cn: 'client-1' };
    const sans = { dns: ['Client-1.Example.com'], email: ['client1@example.com'], uri: ['spiffe://example.com/x'] };
    expect(new SubjectAllowList([]).allows(subject, sans)).toBe(true);
    expect(new SubjectAllowList(['client-1']).allows(subject, sans)).toBe(true);
    expect(new SubjectAllowList(['client-1.example.com']).allows(subject, sans)).toBe(true);
    expect(new SubjectAllowList(['spiffe://example.com/x']).allows(subject, sans)).toBe(true);
    expect(
      new SubjectAllowList(['CLIENT-1', 'Client1@example.com', 'spiffe://example.com']).allows(subject, sans),
    ).toBe(false);
  });

  it('consumer candidates follow consumer_by order, without duplicates, capped', () => {
    const subject = { cn: 'svc' };
    const sans = { dns: ['svc', 'b'], email: ['c@d'], uri: ['u:1'] };
    expect(consumerCandidates(['cn', 'san'], subject, sans, 10)).toEqual(['svc', 'b', 'c@d', 'u:1']);
    expect(consumerCandidates(['san'], subject, sans, 2)).toEqual(['svc', 'b']);
    expect(consumerCandidates(['cn'], { cn: undefined }, sans, 10)).toEqual([]);
  });
});

describe('assessClientCertificate', () => {
  const allowAll = new SubjectAllowList([]);
  it('no TLS connection: no certificate possible, whatever a header says', () => {
    expect(
      assessClientCertificate(
        { connectionTls: false, forwardedHttps: false, chainPem: undefined },
        trust,
        allowAll,
        NOW,
      ),
    ).toMatchObject({
      ok: false,
      reason: 'not_tls',
      presented: false,
    });
    const viaLb = assessClientCertificate(
      { connectionTls: false, forwardedHttps: true, chainPem: undefined },
      trust,
      allowAll,
      NOW,
    );
    expect(viaLb).toMatchObject({
      ok: false,
      reason: 'not_tls',
      detail: expect.stringMatching(/proxy in front of Kong/),
    });
  });

  it('TLS without a certificate; a certificate that verifies but is not on the allow-list; one that is', () => {
    expect(
      assessClientCertificate(
        { connectionTls: true, forwardedHttps: false, chainPem: undefined },
        trust,
        allowAll,
        NOW,
      ),
    ).toMatchObject({
      ok: false,
      reason: 'no_certificate',
      presented: false,
    });
    const onlyBob = new SubjectAllowList(['bob']);
    expect(
      assessClientCertificate(
        { connectionTls: true, forwardedHttps: false, chainPem: pki.alice.cert },
        trust,
        onlyBob,
        NOW,
      ),
    ).toMatchObject({
      ok: false,
      reason: 'subject_not_allowed',
      presented: true,
    });
    const alice = new SubjectAllowList(['alice']);
    expect(
      assessClientCertificate(
        { connectionTls: true, forwardedHttps: false, chainPem: pki.alice.cert },
        trust,
        alice,
        NOW,
      ),
    ).toMatchObject({ ok: true });
  });

  it('an invalid certificate is reported as presented', () => {
    expect(
      assessClientCertificate(
        { connectionTls: true, forwardedHttps: false, chainPem: pki.stranger.cert },
        trust,
        allowAll,
        NOW,
      ),
    ).toMatchObject({
      ok: false,
      reason: 'unknown_issuer',
      presented: true,
    });
  });
});
