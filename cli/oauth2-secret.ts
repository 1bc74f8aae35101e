// `bulwark oauth2-secret`: the hash of an OAuth client secret for bulwark-oauth2's `clients[].client_secret_hash`.
//   [secret]        the client secret to hash (prefer stdin: an argument lands in the shell history)
//   -               read the secret from stdin (one line; a trailing newline is dropped)
//   (no secret, stdin a terminal)  generate a strong random secret, print it ONCE on stderr
//   --pbkdf2        PBKDF2-SHA256 (600000 iterations) instead of scrypt (N=16384, r=8, p=1)
//   --json          print {"client_secret": ..., "client_secret_hash": ...} (generated secrets only) on stdout
// The hash string goes to stdout alone, ready to paste into kong.yml.
import { Command } from 'commander';
import {
  generateSecret,
  hashSecret,
  PBKDF2_DEFAULTS,
  SCRYPT_DEFAULTS,
  type SecretHashParams,
} from '../plugins/lib/secret-hash';
import { runCommand, type CliIo, type CliResult } from './command';

export type { CliResult };

export const MIN_SECRET_LENGTH = 16;

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** What the command prints for the parsed arguments. `stdin` is undefined when stdin is a terminal. */
async function hashCommand(
  positional: string[],
  opts: { pbkdf2?: boolean; json?: boolean },
  stdin: () => Promise<string | undefined>,
): Promise<CliResult> {
  const params: SecretHashParams = opts.pbkdf2 ? PBKDF2_DEFAULTS : SCRYPT_DEFAULTS;
  const json = opts.json === true;
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

/** The `oauth2-secret` command; its result goes to `io`. */
export function oauth2SecretCommand(io: CliIo, stdin: () => Promise<string | undefined>): Command {
  return new Command('oauth2-secret')
    .description(
      "hash an OAuth client secret for bulwark-oauth2's clients[].client_secret_hash (generates one if none is given)",
    )
    .argument(
      '[secret]',
      "the secret, or '-' to read it from stdin (prefer stdin: arguments land in the shell history)",
    )
    .option('--pbkdf2', 'PBKDF2-SHA256 (600000 iterations) instead of scrypt (N=16384, r=8, p=1)')
    .option('--json', 'print {"client_secret", "client_secret_hash"} on stdout (client_secret only when generated)')
    .action(async (secret: string | undefined, opts: { pbkdf2?: boolean; json?: boolean }) => {
      const r = await hashCommand(secret === undefined ? [] : [secret], opts, stdin);
      io.err(r.err);
      io.out(r.out);
      io.setCode(r.code);
    });
}

/** The CLI without process I/O (`args`: the arguments after `oauth2-secret`). */
export function run(args: string[], stdin: () => Promise<string | undefined>): Promise<CliResult> {
  return runCommand((io) => oauth2SecretCommand(io, stdin), args);
}

/** stdin, or undefined when it is a terminal. */
export const processStdin = async (): Promise<string | undefined> => (process.stdin.isTTY ? undefined : readStdin());
