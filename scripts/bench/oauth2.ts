#!/usr/bin/env node
// bulwark-oauth2 micro-benchmarks, measured side by side in one run (the machine is shared: compare ratios,
// not absolute figures):
// 1. secret check of a KNOWN client id with a wrong secret vs an UNKNOWN id (checked against the dummy hash):
//    the ratio should be ~1.0, i.e. timing does not tell which ids exist;
// 2. signing an RFC 9068 access token with jose per algorithm (RS256, ES256, EdDSA).
// Usage: node dist/js/scripts/bench/oauth2.js [rounds=20]
import { generateKeyPairSync } from 'node:crypto';
import { hashSecret, parseSecretHash, randomSecretHashLike, verifySecret } from '../../plugins/lib/secret-hash';
import { buildKeyRing } from '../../plugins/bulwark-oauth2/keys';
import { buildClaims, signAccessToken } from '../../plugins/bulwark-oauth2/access-token';

async function timeMs(fn: () => Promise<unknown>, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 20);
  const known = parseSecretHash(await hashSecret('the-real-client-secret'));
  const dummy = randomSecretHashLike(known);
  // Interleave to share the machine's noise between both sides.
  let knownMs = 0;
  let unknownMs = 0;
  for (let i = 0; i < rounds; i++) {
    knownMs += await timeMs(() => verifySecret('a-wrong-guess-000000', known), 1);
    unknownMs += await timeMs(() => verifySecret('a-wrong-guess-000000', dummy), 1);
  }
  knownMs /= rounds;
  unknownMs /= rounds;
  process.stdout.write(
    `secret check (scrypt N=16384,r=8,p=1): known id ${knownMs.toFixed(1)} ms, unknown id ${unknownMs.toFixed(1)} ms, ratio ${(unknownMs / knownMs).toFixed(2)}\n`,
  );

  const claims = buildClaims({
    issuer: 'https://as.example',
    clientId: 'c',
    audience: ['api'],
    scopes: ['read'],
    ttlSeconds: 300,
    nowMs: Date.now(),
  });
  const keys = {
    RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    EdDSA: generateKeyPairSync('ed25519').privateKey,
  };
  for (const [alg, key] of Object.entries(keys)) {
    const ring = buildKeyRing([key.export({ format: 'pem', type: 'pkcs8' }).toString()], undefined);
    await signAccessToken(claims, ring.active); // warm-up (jose load, key conversion)
    const ms = await timeMs(() => signAccessToken(claims, ring.active), rounds * 10);
    process.stdout.write(`sign ${alg}: ${(ms * 1000).toFixed(0)} µs per token\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
