import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import {
  bigintFromBytes,
  hasRocaFingerprint,
  rocaFalsePositiveLog2,
  rsaKeyObjectProblem,
  rsaPublicKeyProblem,
} from '../../plugins/lib/rsa-key';
import { rocaPrivateJwk, rocaPublicJwk, rocaPublicKey } from '../fixtures/roca';

const good = generateKeyPairSync('rsa', { modulusLength: 2048 });
const goodJwk = good.publicKey.export({ format: 'jwk' });
const n = bigintFromBytes(Buffer.from(goodJwk.n!, 'base64url'));

describe('rsaPublicKeyProblem', () => {
  it('accepts a real 2048-bit key with e = 65537, and the small odd exponents real keys use', () => {
    expect(rsaPublicKeyProblem(n, 65537n)).toBeUndefined();
    for (const e of [3n, 17n, 37n, 0xffffffffn]) expect(rsaPublicKeyProblem(n, e)).toBeUndefined();
    expect(rsaKeyObjectProblem(good.publicKey)).toBeUndefined();
    expect(rsaKeyObjectProblem(good.privateKey)).toBeUndefined();
  });

  it.each([
    ['0', 0n, 'below 3'],
    ['1 (Wycheproof: RSA JWK with e = 1)', 1n, 'RSA public exponent 1 is below 3 (e = 1 makes any "signature" verify)'],
    ['2', 2n, 'below 3'],
    ['4', 4n, 'RSA public exponent 4 is even'],
    ['65536', 65536n, 'is even'],
    ['2^32 + 1', (1n << 32n) | 1n, 'RSA public exponent of 33 bits is too large'],
    ['2^1000 + 1', (1n << 1000n) + 1n, 'RSA public exponent of 1001 bits is too large'],
  ])('refuses e = %s', (_name, e, message) => {
    expect(rsaPublicKeyProblem(n, e)).toContain(message);
  });

  it('refuses moduli that are too small, too large, even, with a small factor, or not above e', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(rsaKeyObjectProblem(small)).toBe('RSA key of 1024 bits is too small (at least 2048)');
    expect(rsaPublicKeyProblem((1n << 16384n) + 1n, 65537n)).toBe('RSA key of 16385 bits is too large (at most 16384)');
    expect(rsaPublicKeyProblem(n + 1n, 65537n)).toBe('RSA modulus is even (not a product of two large primes)');
    const multipleOf701 = (n / 701n) * 701n;
    const oddMultiple = multipleOf701 % 2n === 0n ? multipleOf701 + 701n : multipleOf701;
    expect(rsaPublicKeyProblem(oddMultiple, 65537n)).toMatch(
      /^RSA modulus is divisible by \d+ \(not a product of two large primes\)$/,
    );
    expect(rsaPublicKeyProblem(65537n, 65537n)).toContain('too small');
  });
});

describe('ROCA fingerprint (CVE-2017-15361)', () => {
  it('flags a modulus whose primes have RSALib structure p = k·M + (65537^a mod M)', () => {
    const key = rocaPublicKey();
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(hasRocaFingerprint(bigintFromBytes(Buffer.from(rocaPublicJwk().n, 'base64url')))).toBe(true);
    expect(rsaKeyObjectProblem(key)).toBe(
      'RSA modulus has the ROCA fingerprint (CVE-2017-15361: weak Infineon key generation, factorable)',
    );
    // The private key of a vulnerable chip: its public part is checked too.
    expect(rsaKeyObjectProblem(createPrivateKey({ key: rocaPrivateJwk(), format: 'jwk' }))).toContain('ROCA');
  });

  it('does not flag keys from OpenSSL (a false positive has probability 2^-167 at 2048 bits)', () => {
    expect(rocaFalsePositiveLog2(2048)).toBeLessThan(-160);
    for (let i = 0; i < 4; i++) {
      const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
      expect(hasRocaFingerprint(bigintFromBytes(Buffer.from(jwk.n!, 'base64url')))).toBe(false);
    }
  });

  it('one prime of RSALib structure is not enough: a modulus with one random prime passes', () => {
    // n = p·q with p of ROCA form and q random: n mod r = (65537^a)·q mod r leaves the subgroup for some r.
    const p = bigintFromBytes(Buffer.from(rocaPrivateJwk().p!, 'base64url'));
    const q = bigintFromBytes(Buffer.from(good.privateKey.export({ format: 'jwk' }).p!, 'base64url'));
    expect(hasRocaFingerprint(p * q)).toBe(false);
  });
});
