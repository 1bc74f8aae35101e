#!/usr/bin/env node
// bulwark-jwt verification cost, side by side in one run, per algorithm:
//   jose     — jose.jwtVerify(token, key) alone (signature + jose's claim checks)
//   full     — bulwark-jwt verifyToken with the verified-token cache disabled (parse, duplicate-member scan,
//              issuer/alg/key selection, jose compactVerify, claim checks)
//   cached   — verifyToken on a repeated token (SHA-256 of the token, cache hit, claims and scopes re-checked)
// Rounds alternate the three so machine noise (2 shared cores) hits all of them alike; the medians of the
// rounds are printed, with the ratios jose/cached and full/cached.
// Usage: node dist/js/scripts/bench/jwt.js [iterationsPerRound=300] [rounds=7]
import { generateKeyPairSync } from 'node:crypto';
import { parseJwtConfig } from '../../plugins/bulwark-jwt/config';
import { verifyToken } from '../../plugins/bulwark-jwt/verifier';
import { jose } from '../../plugins/lib/jose';
import { median } from './stats';

const iterations = Number(process.argv[2] ?? 300);
const rounds = Number(process.argv[3] ?? 7);

type Case = { alg: string; keyType: 'rsa' | 'ec' | 'ed25519' | 'hs' };
const CASES: Case[] = [
  { alg: 'RS256', keyType: 'rsa' },
  { alg: 'PS256', keyType: 'rsa' },
  { alg: 'ES256', keyType: 'ec' },
  { alg: 'EdDSA', keyType: 'ed25519' },
  { alg: 'HS256', keyType: 'hs' },
];
const SECRET = 'a-bench-secret-of-32-bytes-or-more!!';

async function timeIt(n: number, f: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f();
  return Number(process.hrtime.bigint() - start) / 1000 / n; // µs per op
}

async function main(): Promise<void> {
  const j = jose();
  process.stdout.write(
    `bulwark-jwt verify bench: ${iterations} ops x ${rounds} rounds per variant, medians (µs/op), node ${process.version}\n`,
  );
  process.stdout.write('alg     jose.jwtVerify  verifyToken(full)  verifyToken(cached)  jose/cached  full/cached\n');
  for (const c of CASES) {
    let issuerKeys: Record<string, unknown>;
    let signKey: unknown;
    let verifyKey: unknown;
    if (c.keyType === 'hs') {
      signKey = verifyKey = new TextEncoder().encode(SECRET);
      issuerKeys = { secrets: [SECRET] };
    } else {
      const pair =
        c.keyType === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : c.keyType === 'ec'
            ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
            : generateKeyPairSync('ed25519');
      signKey = pair.privateKey;
      verifyKey = await j.importJWK(pair.publicKey.export({ format: 'jwk' }) as never, c.alg);
      issuerKeys = { keys: [pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()] };
    }
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'https://idp.bench',
      aud: 'api',
      sub: 'alice',
      scope: 'orders:read orders:write',
      iat: now,
      exp: now + 3600,
    };
    const token = await new j.SignJWT(claims).setProtectedHeader({ alg: c.alg, typ: 'at+jwt' }).sign(signKey as never);
    const issuer = { issuer: 'https://idp.bench', audiences: ['api'], algorithms: [c.alg], ...issuerKeys };
    const uncached = parseJwtConfig({
      issuers: [issuer],
      token_cache: { max_entries: 0 },
      scopes: { required: ['orders:read'] },
    });
    const cached = parseJwtConfig({ issuers: [issuer], scopes: { required: ['orders:read'] } });

    // Sanity: every variant accepts the token.
    await j.jwtVerify(token, verifyKey as never, { algorithms: [c.alg], issuer: 'https://idp.bench', audience: 'api' });
    for (const conf of [uncached, cached]) {
      const v = await verifyToken(token, conf);
      if (!v.ok) throw new Error(`bench token rejected: ${v.rejection.detail}`);
    }

    const r = { jose: [] as number[], full: [] as number[], cached: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      r.jose.push(
        await timeIt(iterations, () =>
          j.jwtVerify(token, verifyKey as never, { algorithms: [c.alg], issuer: 'https://idp.bench', audience: 'api' }),
        ),
      );
      r.full.push(await timeIt(iterations, () => verifyToken(token, uncached)));
      r.cached.push(await timeIt(iterations * 10, () => verifyToken(token, cached)));
    }
    const [mj, mf, mc] = [median(r.jose), median(r.full), median(r.cached)];
    process.stdout.write(
      `${c.alg.padEnd(7)} ${mj.toFixed(1).padStart(14)}  ${mf.toFixed(1).padStart(17)}  ${mc.toFixed(2).padStart(19)}  ${(mj / mc).toFixed(0).padStart(10)}x  ${(mf / mc).toFixed(0).padStart(10)}x\n`,
    );
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
