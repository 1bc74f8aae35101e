// The credential fingerprint of security events (plugins/lib/credential-fingerprint.ts): stable per credential,
// different for different credentials, labelled, and never containing (a part of) the secret.
import { keyFingerprint } from '../../plugins/bulwark-api-key/handler';
import { generateKey, parseKey } from '../../plugins/bulwark-api-key/key-format';
import { clientCaller } from '../../plugins/bulwark-oauth2/handler';
import { jwtFingerprint } from '../../plugins/bulwark-jwt/handler';
import {
  certificateFingerprint,
  fingerprintLabel,
  secretFingerprint,
  FINGERPRINT_MAX_LENGTH,
} from '../../plugins/lib/credential-fingerprint';
import { decisionRecord, parseDecisionRecord, RECORD_LIMITS } from '../../plugins/lib/security-event';
import { tokenFingerprint } from '../../plugins/lib/token-hash';
import { credentialPrefix } from '../../plugins/bulwark-audit/abuse/detectors';

/** Every substring of `secret` of this length: none may appear in a fingerprint. */
function pieces(secret: string, length = 6): string[] {
  const out: string[] = [];
  for (let i = 0; i + length <= secret.length; i++) out.push(secret.slice(i, i + length));
  return out;
}

describe('secretFingerprint', () => {
  const prefixes = new Set(['bwk_live']);
  const keyA = generateKey('bwk_live');
  const keyB = generateKey('bwk_live');

  test('stable per credential, different credentials differ, label kept, 12 digest characters', () => {
    expect(secretFingerprint('bwk_live', keyA)).toBe(secretFingerprint('bwk_live', keyA));
    expect(secretFingerprint('bwk_live', keyA)).not.toBe(secretFingerprint('bwk_live', keyB));
    expect(secretFingerprint('bwk_live', keyA)).toMatch(/^bwk_live:[A-Za-z0-9_-]{12}$/);
    expect(fingerprintLabel(secretFingerprint('bwk_live', keyA))).toBe('bwk_live');
  });

  test('no piece of the secret appears in it (API key body, JWT parts)', () => {
    const fp = keyFingerprint(keyA, parseKey(keyA, prefixes))!;
    const body = keyA.slice('bwk_live_'.length);
    for (const p of pieces(body)) expect(fp).not.toContain(p);
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWEtdG9rZW4tdGhhdC1pcy1sb25n';
    const jfp = jwtFingerprint(token);
    for (const part of token.split('.')) for (const p of pieces(part)) expect(jfp).not.toContain(p);
  });

  test('bulwark-jwt: `jwt:` + the 12 characters its jwt_rejected log line has always carried as `token`', () => {
    const token = 'a.b.c';
    expect(jwtFingerprint(token)).toBe(`jwt:${tokenFingerprint(token)}`);
  });

  test('a label that is not a lower-case word is refused (a plugin bug, never caller data)', () => {
    expect(() => secretFingerprint('Bad Label', 'x')).toThrow(/label/);
    expect(() => secretFingerprint('a:b', 'x')).toThrow(/label/);
  });
});

describe('bulwark-api-key keyFingerprint', () => {
  const prefixes = new Set(['bwk_live']);
  test('a configured prefix labels it; a checksum failure keeps the (configured) prefix; an unknown prefix reads api-key', () => {
    const key = generateKey('bwk_live');
    expect(keyFingerprint(key, parseKey(key, prefixes))).toBe(secretFingerprint('bwk_live', key));
    const typo = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect(parseKey(typo, prefixes)).toEqual({ ok: false, reason: 'checksum' });
    expect(keyFingerprint(typo, parseKey(typo, prefixes))).toBe(secretFingerprint('bwk_live', typo));
    const other = generateKey('bwk_test');
    expect(keyFingerprint(other, parseKey(other, prefixes))).toBe(secretFingerprint('api-key', other));
  });
  test('a malformed value (perhaps a password pasted in the wrong place) has no fingerprint', () => {
    expect(keyFingerprint('hunter2-my-password', parseKey('hunter2-my-password', prefixes))).toBeUndefined();
  });
});

describe('certificateFingerprint', () => {
  test("`mtls:` + the certificate's SHA-256 fingerprint in lower-case hex (what openssl prints, colons removed)", () => {
    const hex = 'AB:CD:' + 'EF:'.repeat(29) + '01';
    expect(certificateFingerprint(hex)).toBe(`mtls:abcd${'ef'.repeat(29)}01`);
    expect(certificateFingerprint(hex).length).toBeLessThanOrEqual(FINGERPRINT_MAX_LENGTH);
    expect(() => certificateFingerprint('abc')).toThrow();
  });
});

describe('bulwark-oauth2 clientCaller', () => {
  test('the client id in the identity fields; a fingerprint only once the secret matched (of its stored hash)', () => {
    expect(clientCaller('orders')).toEqual({
      identity: { credential_kind: 'oauth2-client', credential_id: 'orders', subject: 'orders' },
    });
    const hash = '$scrypt$N=16384,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
    const fp = secretFingerprint('oauth2-client', hash);
    expect(clientCaller('orders', fp).credential_fingerprint).toBe(fp);
  });
});

describe('the decision record carries fingerprint and identity through Kong', () => {
  test('a fingerprint of up to RECORD_LIMITS.fingerprint characters and the event identity survive a round trip', () => {
    expect(RECORD_LIMITS.fingerprint).toBeGreaterThanOrEqual(FINGERPRINT_MAX_LENGTH);
    const fp = certificateFingerprint('a'.repeat(64));
    const record = decisionRecord('deny', {
      reason: 'wrong_secret',
      credential_fingerprint: fp,
      identity: { credential_kind: 'oauth2-client', credential_id: 'orders', subject: 'orders' },
    });
    expect(parseDecisionRecord(JSON.parse(JSON.stringify(record)))).toEqual({
      decision: 'deny',
      reason: 'wrong_secret',
      mode: 'enforce',
      credential_fingerprint: fp,
      identity: { credential_kind: 'oauth2-client', credential_id: 'orders', subject: 'orders' },
    });
  });
  test('an identity of the wrong shape or empty strings is dropped, not trusted', () => {
    const parsed = parseDecisionRecord({ decision: 'allow', reason: 'allowed', identity: { subject: '', x: 1 } });
    expect(parsed).toEqual({ decision: 'allow', reason: 'allowed', mode: 'enforce' });
    expect(parseDecisionRecord({ decision: 'allow', reason: 'allowed', identity: 'orders' })?.identity).toBeUndefined();
  });
});

describe("bulwark-audit's failed_auth_credential detector counts per label", () => {
  const event = (fp: string) => ({
    plugin: 'bulwark-api-key',
    decision: 'deny' as const,
    reason: 'unknown_key',
    status: 401,
    http: { method: 'GET', host: 'h', path: '/' },
    credential_fingerprint: fp,
  });
  test('two keys of one prefix count under one subject, an mTLS fingerprint under mtls', () => {
    const a = secretFingerprint('bwk_live', 'k1');
    const b = secretFingerprint('bwk_live', 'k2');
    expect(credentialPrefix(event(a))).toBe('bulwark-api-key/bwk_live');
    expect(credentialPrefix(event(b))).toBe(credentialPrefix(event(a)));
    expect(credentialPrefix({ ...event(certificateFingerprint('0'.repeat(64))), plugin: 'bulwark-transport' })).toBe(
      'bulwark-transport/mtls',
    );
  });
});
