// scripts/oauth2-client-secret.ts: the hash it prints is accepted by the plugin and verifies the secret.
import { run, MIN_SECRET_LENGTH } from '../../../../scripts/oauth2-client-secret';
import { parseSecretHash, verifySecret } from '../../../../plugins/lib/secret-hash';

const noStdin = async () => undefined;

describe('oauth2-client-secret', () => {
  test('a secret argument → one hash line on stdout that verifies it', async () => {
    const r = await run(['my-long-client-secret-value'], noStdin);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^\$scrypt\$N=16384,r=8,p=1\$[^\s]+\n$/);
    expect(await verifySecret('my-long-client-secret-value', parseSecretHash(r.out.trim()))).toBe(true);
  });

  test('"-" reads the secret from stdin (trailing newline dropped); --pbkdf2 switches the algorithm', async () => {
    const r = await run(['--pbkdf2', '-'], async () => 'from-stdin-secret-123\n');
    expect(r.out).toMatch(/^\$pbkdf2-sha256\$i=600000\$/);
    expect(await verifySecret('from-stdin-secret-123', parseSecretHash(r.out.trim()))).toBe(true);
  });

  test('no secret → a strong random one, printed once on stderr, its hash on stdout', async () => {
    const r = await run([], noStdin);
    const secret = r.err.trim().split('\n').pop()!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.out).not.toContain(secret);
    expect(await verifySecret(secret, parseSecretHash(r.out.trim()))).toBe(true);
    const j = JSON.parse((await run(['--json'], noStdin)).out) as { client_secret: string; client_secret_hash: string };
    expect(await verifySecret(j.client_secret, parseSecretHash(j.client_secret_hash))).toBe(true);
  });

  test('refuses short secrets, control characters, unknown options', async () => {
    expect((await run(['x'.repeat(MIN_SECRET_LENGTH - 1)], noStdin)).code).toBe(2);
    expect((await run(['abcdefghijklmnop\u0007q'], noStdin)).code).toBe(2);
    expect((await run(['--md5'], noStdin)).code).toBe(2);
    expect((await run(['-'], noStdin)).code).toBe(2);
  });
});
