import { pbkdf2Sync, scryptSync } from 'node:crypto';
import {
  formatSecretHash,
  generateSecret,
  hashSecret,
  parseSecretHash,
  randomSecretHashLike,
  SecretHashFormatError,
  verifySecret,
} from '../../plugins/lib/secret-hash';

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
const SALT = Buffer.alloc(16, 7);

describe('secret hashes', () => {
  test('scrypt: hash then verify; a wrong secret does not verify; each hash has its own salt', async () => {
    const a = await hashSecret('correct horse battery staple');
    const b = await hashSecret('correct horse battery staple');
    expect(a).toMatch(/^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifySecret('correct horse battery staple', parseSecretHash(a))).toBe(true);
    expect(await verifySecret('correct horse battery stapl', parseSecretHash(a))).toBe(false);
    expect(await verifySecret('', parseSecretHash(a))).toBe(false);
  });

  test('pbkdf2-sha256: hash then verify', async () => {
    const h = await hashSecret('s3cret-s3cret-s3cret', { algorithm: 'pbkdf2-sha256', iterations: 100_000 });
    expect(h).toMatch(/^\$pbkdf2-sha256\$i=100000\$/);
    expect(await verifySecret('s3cret-s3cret-s3cret', parseSecretHash(h))).toBe(true);
    expect(await verifySecret('s3cret-s3cret-s3creT', parseSecretHash(h))).toBe(false);
  });

  test('verifies hashes made independently with node:crypto (the format is interoperable)', async () => {
    const s = `$scrypt$N=16384,r=8,p=1$${b64(SALT)}$${b64(scryptSync('pw-pw-pw', SALT, 32, { N: 16384, r: 8, p: 1 }))}`;
    expect(await verifySecret('pw-pw-pw', parseSecretHash(s))).toBe(true);
    const p = `$pbkdf2-sha256$i=100000$${b64(SALT)}$${b64(pbkdf2Sync('pw-pw-pw', SALT, 100000, 64, 'sha256'))}`;
    expect(await verifySecret('pw-pw-pw', parseSecretHash(p))).toBe(true);
    expect(formatSecretHash(parseSecretHash(p))).toBe(p);
  });

  test.each([
    ['plaintext', 'my-client-secret'],
    ['empty', ''],
    ['unknown algorithm', `$bcrypt$r=10$${b64(SALT)}$${b64(Buffer.alloc(32))}`],
    ['md5-crypt style', '$1$abc$def'],
    ['missing section', `$scrypt$N=16384,r=8,p=1$${b64(SALT)}`],
    ['scrypt N too small', `$scrypt$N=1024,r=8,p=1$${b64(SALT)}$${b64(Buffer.alloc(32))}`],
    ['scrypt N not a power of two', `$scrypt$N=20000,r=8,p=1$${b64(SALT)}$${b64(Buffer.alloc(32))}`],
    ['scrypt memory over 256 MiB', `$scrypt$N=1048576,r=8,p=1$${b64(SALT)}$${b64(Buffer.alloc(32))}`],
    ['scrypt missing p', `$scrypt$N=16384,r=8$${b64(SALT)}$${b64(Buffer.alloc(32))}`],
    ['scrypt extra parameter', `$scrypt$N=16384,r=8,p=1,x=1$${b64(SALT)}$${b64(Buffer.alloc(32))}`],
    ['duplicate parameter', `$scrypt$N=16384,N=16384,r=8$${b64(SALT)}$${b64(Buffer.alloc(32))}`],
    ['pbkdf2 too few iterations', `$pbkdf2-sha256$i=1000$${b64(SALT)}$${b64(Buffer.alloc(32))}`],
    ['short salt', `$pbkdf2-sha256$i=600000$${b64(Buffer.alloc(8))}$${b64(Buffer.alloc(32))}`],
    ['short hash', `$pbkdf2-sha256$i=600000$${b64(SALT)}$${b64(Buffer.alloc(16))}`],
    ['not base64', `$pbkdf2-sha256$i=600000$${b64(SALT)}$not*base64`],
    ['leading zero parameter', `$pbkdf2-sha256$i=0600000$${b64(SALT)}$${b64(Buffer.alloc(32))}`],
  ])('refuses %s', (_name, text) => {
    expect(() => parseSecretHash(text)).toThrow(SecretHashFormatError);
  });

  test('error messages never repeat the refused text (it may be a plaintext secret)', () => {
    try {
      parseSecretHash('hunter2-plaintext');
      throw new Error('expected a throw');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  test('a random hash "like" a real one has the same parameters and sizes and never verifies', async () => {
    const real = parseSecretHash(await hashSecret('abcdefghijklmnop'));
    const dummy = randomSecretHashLike(real);
    expect({ ...dummy, salt: undefined, hash: undefined }).toEqual({ ...real, salt: undefined, hash: undefined });
    expect(dummy.hash.length).toBe(real.hash.length);
    expect(dummy.salt.equals(real.salt)).toBe(false);
    expect(await verifySecret('abcdefghijklmnop', dummy)).toBe(false);
  });

  test('hashSecret refuses weak parameters', async () => {
    await expect(hashSecret('x'.repeat(20), { algorithm: 'scrypt', N: 1024, r: 8, p: 1 })).rejects.toThrow(
      SecretHashFormatError,
    );
    await expect(hashSecret('x'.repeat(20), { algorithm: 'pbkdf2-sha256', iterations: 10 })).rejects.toThrow(
      SecretHashFormatError,
    );
  });

  test('generated secrets are 256-bit base64url strings, all different', () => {
    const s = new Set(Array.from({ length: 50 }, generateSecret));
    expect(s.size).toBe(50);
    for (const v of s) expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
