// Hashed secrets (client secrets, API keys, passwords): a self-describing string format, hashing, and a
// constant-time check.
//
// Why: a secret stored in kong.yml (or Kong's database) must not be usable by whoever reads the file. Kong
// OSS stores key-auth keys in plaintext and basic-auth passwords as salted SHA-1 (kong/plugins/basic-auth/
// crypto.lua); Bulwark stores a slow, salted hash only.
//
// Format (modelled on the PHC string format, standard base64 without padding):
//   $scrypt$N=16384,r=8,p=1$<salt>$<hash>
//   $pbkdf2-sha256$i=600000$<salt>$<hash>
// The salt is per secret (16 bytes or more), the hash 32 to 64 bytes.
//
// Cost limits: a hash string below the minimum cost is refused (a weak hash of a human-chosen secret falls
// to an offline attack); one above the maximum is refused too (every token request would pay it, and a
// huge scrypt memory cost is a denial of service on the plugin server).
import { pbkdf2, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export type SecretHashAlgorithm = 'scrypt' | 'pbkdf2-sha256';

export interface ScryptParams {
  algorithm: 'scrypt';
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

export interface Pbkdf2Params {
  algorithm: 'pbkdf2-sha256';
  iterations: number;
}

export type SecretHashParams = ScryptParams | Pbkdf2Params;

export type ParsedSecretHash = SecretHashParams & { salt: Buffer; hash: Buffer };

export const SCRYPT_DEFAULTS: ScryptParams = Object.freeze({ algorithm: 'scrypt', N: 16384, r: 8, p: 1 });
export const PBKDF2_DEFAULTS: Pbkdf2Params = Object.freeze({ algorithm: 'pbkdf2-sha256', iterations: 600_000 });

export const LIMITS = Object.freeze({
  scryptMinN: 16384,
  scryptMaxN: 1 << 20,
  scryptMinR: 8,
  scryptMaxR: 32,
  scryptMaxP: 16,
  /** 128·N·r·p bytes: capped so that one check cannot take more than this much memory. */
  scryptMaxMemory: 256 * 1024 * 1024,
  pbkdf2MinIterations: 100_000,
  pbkdf2MaxIterations: 10_000_000,
  minSaltBytes: 16,
  maxSaltBytes: 64,
  minHashBytes: 32,
  maxHashBytes: 64,
});

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const B64 = /^[A-Za-z0-9+/]+$/;

/** Why a hash string was refused; the message never contains the string itself. */
export class SecretHashFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretHashFormatError';
  }
}

function b64decode(text: string, what: string): Buffer {
  if (!B64.test(text) || text.length % 4 === 1)
    throw new SecretHashFormatError(`${what} is not base64 (standard alphabet, no padding)`);
  return Buffer.from(text, 'base64');
}

function b64encode(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

function parseParamList(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of text.split(',')) {
    const m = /^([A-Za-z]+)=([1-9][0-9]{0,9})$/.exec(part);
    if (!m) throw new SecretHashFormatError(`malformed parameter "${part.slice(0, 20)}"`);
    if (out.has(m[1]!)) throw new SecretHashFormatError(`parameter ${m[1]} given twice`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

function checkScrypt(N: number, r: number, p: number): void {
  if ((N & (N - 1)) !== 0) throw new SecretHashFormatError('scrypt N must be a power of two');
  if (N < LIMITS.scryptMinN || N > LIMITS.scryptMaxN)
    throw new SecretHashFormatError(`scrypt N must be between ${LIMITS.scryptMinN} and ${LIMITS.scryptMaxN}`);
  if (r < LIMITS.scryptMinR || r > LIMITS.scryptMaxR)
    throw new SecretHashFormatError(`scrypt r must be between ${LIMITS.scryptMinR} and ${LIMITS.scryptMaxR}`);
  if (p < 1 || p > LIMITS.scryptMaxP)
    throw new SecretHashFormatError(`scrypt p must be between 1 and ${LIMITS.scryptMaxP}`);
  if (128 * N * r * p > LIMITS.scryptMaxMemory)
    throw new SecretHashFormatError('scrypt parameters need more than 256 MiB');
}

function checkPbkdf2(iterations: number): void {
  if (iterations < LIMITS.pbkdf2MinIterations || iterations > LIMITS.pbkdf2MaxIterations) {
    throw new SecretHashFormatError(
      `pbkdf2-sha256 iterations must be between ${LIMITS.pbkdf2MinIterations} and ${LIMITS.pbkdf2MaxIterations}`,
    );
  }
}

/**
 * Parse and check a hash string. Throws SecretHashFormatError for anything else, including a plaintext
 * secret (which is exactly what this refuses to accept).
 */
export function parseSecretHash(text: string): ParsedSecretHash {
  if (typeof text !== 'string' || !text.startsWith('$')) {
    throw new SecretHashFormatError(
      'not a hash string: expected "$scrypt$N=…,r=…,p=…$salt$hash" or "$pbkdf2-sha256$i=…$salt$hash" (create one with oauth2-client-secret)',
    );
  }
  const parts = text.split('$');
  // ['', algorithm, params, salt, hash]
  if (parts.length !== 5 || parts[0] !== '')
    throw new SecretHashFormatError('expected 4 "$"-separated sections: $algorithm$params$salt$hash');
  const [, algorithm, paramText, saltText, hashText] = parts as [string, string, string, string, string];
  const params = parseParamList(paramText);
  const salt = b64decode(saltText, 'salt');
  const hash = b64decode(hashText, 'hash');
  if (salt.length < LIMITS.minSaltBytes || salt.length > LIMITS.maxSaltBytes) {
    throw new SecretHashFormatError(`salt must be ${LIMITS.minSaltBytes} to ${LIMITS.maxSaltBytes} bytes`);
  }
  if (hash.length < LIMITS.minHashBytes || hash.length > LIMITS.maxHashBytes) {
    throw new SecretHashFormatError(`hash must be ${LIMITS.minHashBytes} to ${LIMITS.maxHashBytes} bytes`);
  }
  const expectKeys = (keys: string[]) => {
    const got = [...params.keys()].sort().join(',');
    if (got !== [...keys].sort().join(','))
      throw new SecretHashFormatError(`${algorithm} needs exactly the parameters ${keys.join(', ')}`);
  };
  if (algorithm === 'scrypt') {
    expectKeys(['N', 'r', 'p']);
    const N = params.get('N')!;
    const r = params.get('r')!;
    const p = params.get('p')!;
    checkScrypt(N, r, p);
    return { algorithm, N, r, p, salt, hash };
  }
  if (algorithm === 'pbkdf2-sha256') {
    expectKeys(['i']);
    const iterations = params.get('i')!;
    checkPbkdf2(iterations);
    return { algorithm, iterations, salt, hash };
  }
  throw new SecretHashFormatError(
    `unsupported algorithm "${algorithm.slice(0, 20)}" (supported: scrypt, pbkdf2-sha256)`,
  );
}

export function formatSecretHash(parsed: ParsedSecretHash): string {
  const params = parsed.algorithm === 'scrypt' ? `N=${parsed.N},r=${parsed.r},p=${parsed.p}` : `i=${parsed.iterations}`;
  return `$${parsed.algorithm}$${params}$${b64encode(parsed.salt)}$${b64encode(parsed.hash)}`;
}

/** Derive the hash of `secret` with the given parameters and salt (off the event loop: libuv thread pool). */
export function deriveSecretHash(
  secret: string | Buffer,
  params: SecretHashParams,
  salt: Buffer,
  length: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, key: Buffer) => (err ? reject(err) : resolve(key));
    if (params.algorithm === 'scrypt') {
      const options: ScryptOptions = {
        N: params.N,
        r: params.r,
        p: params.p,
        maxmem: 128 * params.N * params.r * params.p + 1024 * 1024,
      };
      scrypt(secret, salt, length, options, done);
    } else {
      pbkdf2(secret, salt, params.iterations, length, 'sha256', done);
    }
  });
}

/** Hash a secret with a fresh random salt and return the hash string. Parameters are checked against LIMITS. */
export async function hashSecret(secret: string, params: SecretHashParams = SCRYPT_DEFAULTS): Promise<string> {
  if (params.algorithm === 'scrypt') checkScrypt(params.N, params.r, params.p);
  else checkPbkdf2(params.iterations);
  const salt = randomBytes(SALT_BYTES);
  const hash = await deriveSecretHash(secret, params, salt, HASH_BYTES);
  return formatSecretHash({ ...params, salt, hash } as ParsedSecretHash);
}

/**
 * True when `secret` matches the stored hash. The comparison is constant-time in the hash bytes
 * (timingSafeEqual over equal-length buffers); the derivation itself takes the same time for any secret.
 */
export async function verifySecret(secret: string | Buffer, stored: ParsedSecretHash): Promise<boolean> {
  const derived = await deriveSecretHash(secret, stored, stored.salt, stored.hash.length);
  return timingSafeEqual(derived, stored.hash);
}

/**
 * A hash with the same parameters and sizes as `like`, of no secret at all (random bytes): checking an
 * unknown id's secret against it costs what a real check costs, so response times do not reveal which ids
 * exist. It never matches (a 2^-256 chance).
 */
export function randomSecretHashLike(like: ParsedSecretHash): ParsedSecretHash {
  return { ...like, salt: randomBytes(like.salt.length), hash: randomBytes(like.hash.length) };
}

/** A strong random secret: 32 bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}
