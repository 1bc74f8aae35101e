#!/usr/bin/env node
// Creates the hash of an OAuth client secret for bulwark-oauth2's `clients[].client_secret_hash`.
//
// Usage: node dist/js/scripts/oauth2-client-secret.js [options] [secret]
//   secret          the client secret to hash (prefer stdin: an argument lands in the shell history)
//   -               read the secret from stdin (one line; a trailing newline is dropped)
//   (no secret, stdin a terminal)  generate a strong random secret, print it ONCE on stderr
//   --pbkdf2        PBKDF2-SHA256 (600000 iterations) instead of scrypt (N=16384, r=8, p=1)
//   --json          print {"client_secret": ..., "client_secret_hash": ...} (generated secrets only) on stdout
// The hash string goes to stdout alone, ready to paste into kong.yml.
import {
  generateSecret,
  hashSecret,
  PBKDF2_DEFAULTS,
  SCRYPT_DEFAULTS,
  type SecretHashParams,
} from '../plugins/lib/secret-hash';
import { exitWith, type CliResult } from './cli';

export const MIN_SECRET_LENGTH = 16;

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** The CLI without process I/O, for tests. `stdin` is undefined when stdin is a terminal. */
export async function run(args: string[], stdin: () => Promise<string | undefined>): Promise<CliResult> {
  let params: SecretHashParams = SCRYPT_DEFAULTS;
  let json = false;
  const positional: string[] = [];
  for (const a of args) {
    if (a === '--pbkdf2') params = PBKDF2_DEFAULTS;
    else if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') {
      return { out: 'usage: oauth2-client-secret [--pbkdf2] [--json] [secret | -]\n', err: '', code: 0 };
    } else if (a.startsWith('--')) return { out: '', err: `unknown option ${a}\n`, code: 2 };
    else positional.push(a);
  }
  if (positional.length > 1) return { out: '', err: 'give at most one secret\n', code: 2 };

  let secret: string | undefined = positional[0];
  let generated = false;
  if (secret === '-' || secret === undefined) {
    const input = await stdin();
    if (input !== undefined) secret = input.replace(/\r?\n$/, '');
    else if (positional[0] === '-') return { out: '', err: 'no secret on stdin\n', code: 2 };
    else secret = undefined;
  }
  if (secret === undefined || (secret === '' && positional.length === 0)) {
    secret = generateSecret();
    generated = true;
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    return {
      out: '',
      err: `a client secret needs at least ${MIN_SECRET_LENGTH} characters (omit it to generate one)\n`,
      code: 2,
    };
  }
  if (/[\x00-\x1f\x7f]/.test(secret)) return { out: '', err: 'the secret contains control characters\n', code: 2 };

  const hash = await hashSecret(secret, params);
  if (json) {
    const obj: Record<string, string> = { client_secret_hash: hash };
    if (generated) obj.client_secret = secret;
    return { out: `${JSON.stringify(obj)}\n`, err: '', code: 0 };
  }
  const err = generated
    ? `Generated client secret (shown once; give it to the client, it is not stored):\n${secret}\n`
    : '';
  return { out: `${hash}\n`, err, code: 0 };
}

if (require.main === module) {
  const stdin = async (): Promise<string | undefined> => (process.stdin.isTTY ? undefined : readStdin());
  exitWith(run(process.argv.slice(2), stdin));
}
