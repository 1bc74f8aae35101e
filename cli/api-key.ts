// `bulwark api-key`: API key operations for bulwark-api-key (issue, rotate, revoke, list), over the plugin's own
// key-admin.ts module. The key is printed once: on stderr (with --json: in the JSON on stdout), and stored nowhere;
// stdout carries what to paste into kong.yml (declarative) or the id (redis). The pepper is read from an environment
// variable (--pepper-env), never an argument: shell history.
import * as fs from 'node:fs';
import { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import { stringify as toYaml } from 'yaml';
import {
  AdminError,
  declarativeEntries,
  findDeclarative,
  issueKey,
  listed,
  listRedis,
  redisRecordById,
  rotateRecord,
  writeRedisRecord,
  type AdminRedis,
  type Issued,
  type ListedKey,
} from '../plugins/bulwark-api-key/key-admin';
import { parseTimestamp, RecordError, serializeKeyRecord, type KeyRecord } from '../plugins/bulwark-api-key/key-record';
import { collect, runCommand, type CliIo, type CliResult } from './command';
import { EXIT } from './output';

export type { CliResult };

export interface CliDeps {
  now: () => number;
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
  connectRedis: (url: string) => { client: AdminRedis; close: () => Promise<void> };
}

interface Args {
  command: string;
  one: Map<string, string>;
  many: Map<string, string[]>;
  flags: Set<string>;
}

/** The parsed options of a subcommand, by their long names (`--expires-in-days` → `expires-in-days`). */
function argsOf(command: string, cmd: Command): Args {
  const args: Args = { command, one: new Map(), many: new Map(), flags: new Set() };
  const values = cmd.opts<Record<string, unknown>>();
  for (const o of cmd.options) {
    const name = o.long!.slice(2);
    const v = values[o.attributeName()];
    if (v === undefined) continue;
    if (Array.isArray(v)) args.many.set(name, v as string[]);
    else if (v === true) args.flags.add(name);
    else args.one.set(name, String(v));
  }
  return args;
}

function required(args: Args, name: string): string {
  const v = args.one.get(name);
  if (v === undefined || v === '') throw new AdminError(`--${name} is required`);
  return v;
}

function integerArg(args: Args, name: string, fallback: number, min: number, max: number): number {
  const v = args.one.get(name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new AdminError(`--${name}: an integer from ${min} to ${max}`);
  return Number(v);
}

function timeArg(args: Args, name: string): number | undefined {
  try {
    return parseTimestamp(args.one.get(name), `--${name}`);
  } catch (err) {
    if (err instanceof RecordError) throw new AdminError(err.message);
    throw err;
  }
}

function pepperOf(args: Args, deps: CliDeps): string | undefined {
  const name = args.one.get('pepper-env');
  if (name === undefined) return undefined;
  const v = deps.env[name];
  if (v === undefined || v === '') throw new AdminError(`--pepper-env: environment variable ${name} is not set`);
  return v;
}

function metadataOf(args: Args): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.many.get('meta') ?? []) {
    const eq = m.indexOf('=');
    if (eq <= 0) throw new AdminError(`--meta ${m}: expected key=value`);
    out[m.slice(0, eq)] = m.slice(eq + 1);
  }
  return out;
}

/** The prefix of a key, from its record's display prefix (`bwk_live_AbCd` → `bwk_live`). */
function prefixOf(r: KeyRecord, args: Args): string {
  const given = args.one.get('prefix');
  if (given !== undefined) return given;
  const d = r.displayPrefix;
  const cut = d === undefined ? -1 : d.lastIndexOf('_');
  if (d === undefined || cut <= 0) throw new AdminError(`key ${r.id} has no display_prefix: give --prefix`);
  return d.slice(0, cut);
}

function entryYaml(records: KeyRecord[]): string {
  return toYaml(records.map(serializeKeyRecord));
}

function keyNotice(issued: Issued): string {
  return `API key ${issued.record.id} (shown once; give it to the client, it is stored nowhere):\n${issued.key}\n`;
}

function table(rows: ListedKey[]): string {
  if (rows.length === 0) return '(no keys)\n';
  const cols = [
    'id',
    'display_prefix',
    'consumer',
    'scopes',
    'labels',
    'not_before',
    'expires_at',
    'disabled',
    'last_used',
  ] as const;
  const cell = (r: ListedKey, c: (typeof cols)[number]): string => {
    const v = r[c];
    if (v === undefined) return '-';
    return Array.isArray(v) ? (v.length === 0 ? '-' : v.join(',')) : String(v);
  };
  const lines = [cols.join('\t'), ...rows.map((r) => cols.map((c) => cell(r, c)).join('\t'))];
  return `${lines.join('\n')}\n`;
}

async function withRedis<T>(
  args: Args,
  deps: CliDeps,
  fn: (redis: AdminRedis, prefix: string) => Promise<T>,
): Promise<T> {
  const prefix = args.one.get('redis-prefix') ?? 'bulwark-ak';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix))
    throw new AdminError('--redis-prefix: letters, digits, "_", "." and "-" only');
  const { client, close } = deps.connectRedis(args.one.get('redis') ?? 'redis://127.0.0.1:6379');
  try {
    return await fn(client, prefix);
  } finally {
    await close();
  }
}

/** What one subcommand prints. */
async function execute(args: Args, deps: CliDeps): Promise<CliResult> {
  const json = args.flags.has('json');
  const now = deps.now();
  try {
    const store = required(args, 'store');
    if (store !== 'declarative' && store !== 'redis') throw new AdminError('--store: declarative or redis');
    const pepper = pepperOf(args, deps);
    switch (args.command) {
      case 'issue': {
        const expiresInDays = args.one.has('expires-in-days')
          ? integerArg(args, 'expires-in-days', 0, 1, 36500)
          : undefined;
        const expiresAt =
          timeArg(args, 'expires-at') ?? (expiresInDays !== undefined ? now + expiresInDays * 86_400_000 : undefined);
        if (args.one.has('expires-at') && expiresInDays !== undefined)
          throw new AdminError('give --expires-at or --expires-in-days, not both');
        const notBefore = timeArg(args, 'not-before');
        const issued = issueKey(
          {
            prefix: required(args, 'prefix'),
            ...(args.one.has('id') ? { id: args.one.get('id')! } : {}),
            ...(args.one.has('consumer') ? { consumer: args.one.get('consumer')! } : {}),
            scopes: args.many.get('scope') ?? [],
            labels: args.many.get('label') ?? [],
            metadata: metadataOf(args),
            ...(notBefore !== undefined ? { notBefore } : {}),
            ...(expiresAt !== undefined ? { expiresAt: Math.ceil(expiresAt / 1000) * 1000 } : {}),
            ...(pepper !== undefined ? { pepper } : {}),
          },
          now,
        );
        if (store === 'redis') await withRedis(args, deps, (r, p) => writeRedisRecord(r, p, issued.record, true));
        if (json)
          return {
            out: `${JSON.stringify({ key: issued.key, entry: serializeKeyRecord(issued.record) })}\n`,
            err: '',
            code: 0,
          };
        const out =
          store === 'declarative'
            ? entryYaml([issued.record])
            : `issued ${issued.record.id} ${issued.record.displayPrefix}\n`;
        return { out, err: keyNotice(issued), code: 0 };
      }
      case 'rotate': {
        const id = required(args, 'id');
        const graceMs = integerArg(args, 'grace-seconds', 86_400, 0, 365 * 86_400) * 1000;
        const newId = args.one.get('new-id');
        const rotate = (old: KeyRecord) => rotateRecord(old, prefixOf(old, args), graceMs, now, pepper, newId);
        let result: ReturnType<typeof rotateRecord>;
        if (store === 'redis') {
          result = await withRedis(args, deps, async (r, p) => {
            const res = rotate(await redisRecordById(r, p, id));
            await writeRedisRecord(r, p, res.issued.record, true);
            await writeRedisRecord(r, p, res.old, false);
            return res;
          });
        } else {
          result = rotate(findDeclarative(deps.readFile(required(args, 'config')), id).record);
        }
        const entries = [result.issued.record, result.old];
        if (json)
          return {
            out: `${JSON.stringify({ key: result.issued.key, entries: entries.map(serializeKeyRecord) })}\n`,
            err: '',
            code: 0,
          };
        const out =
          store === 'declarative'
            ? `# add the new entry and replace entry ${id} (it now expires at the end of the grace period):\n${entryYaml(entries)}`
            : `issued ${result.issued.record.id} ${result.issued.record.displayPrefix}\n${id} expires_at ${serializeKeyRecord(result.old).expires_at as string}\n`;
        return { out, err: keyNotice(result.issued), code: 0 };
      }
      case 'revoke': {
        const id = required(args, 'id');
        let revoked: KeyRecord;
        if (store === 'redis') {
          revoked = await withRedis(args, deps, async (r, p) => {
            const rec = { ...(await redisRecordById(r, p, id)), disabled: true };
            await writeRedisRecord(r, p, rec, false);
            return rec;
          });
        } else {
          revoked = { ...findDeclarative(deps.readFile(required(args, 'config')), id).record, disabled: true };
        }
        if (json) return { out: `${JSON.stringify({ entry: serializeKeyRecord(revoked) })}\n`, err: '', code: 0 };
        const out =
          store === 'declarative'
            ? `# replace entry ${id} (or delete it):\n${entryYaml([revoked])}`
            : `revoked ${id}\n`;
        return { out, err: '', code: 0 };
      }
      case 'list': {
        const rows =
          store === 'redis'
            ? await withRedis(args, deps, (r, p) => listRedis(r, p))
            : declarativeEntries(deps.readFile(required(args, 'config'))).map((e) =>
                listed(e.record, { location: e.location }),
              );
        return { out: json ? `${JSON.stringify(rows)}\n` : table(rows), err: '', code: 0 };
      }
      default:
        return { out: '', err: `unknown command ${args.command}\n`, code: EXIT.usage };
    }
  } catch (err) {
    if (err instanceof AdminError || err instanceof RecordError)
      return { out: '', err: `error: ${err.message}\n`, code: EXIT.usage };
    return { out: '', err: `error: ${err instanceof Error ? err.message : String(err)}\n`, code: EXIT.findings };
  }
}

const STORE_OPTIONS = (cmd: Command): Command =>
  cmd
    .addOption(
      new Option('--store <store>', 'where the keys live').choices(['declarative', 'redis']).makeOptionMandatory(),
    )
    .option('--config <file>', 'declarative: the kong.yml holding the plugin entry (rotate, revoke, list)')
    .option(
      '--redis <url>',
      'redis: redis://[user:pass@]host:port[/db], rediss:// for TLS (default redis://127.0.0.1:6379)',
    )
    .option('--redis-prefix <prefix>', "redis: the plugin's redis.key_prefix (default bulwark-ak)")
    .option('--pepper-env <name>', "the plugin's pepper, read from this environment variable (never an argument)")
    .option('--json', 'machine-readable output on stdout');

const TIME = 'ISO 8601 UTC time, e.g. 2026-12-31T00:00:00Z';

/** The `api-key` command tree; each subcommand's result goes to `io`. */
export function apiKeyCommand(io: CliIo, deps: CliDeps): Command {
  const cmd = new Command('api-key').description('issue, rotate, revoke and list bulwark-api-key keys');
  const act = (name: string) => async (_opts: unknown, sub: Command) => {
    const r = await execute(argsOf(name, sub), deps);
    io.err(r.err);
    io.out(r.out);
    io.setCode(r.code);
  };
  STORE_OPTIONS(cmd.command('issue').description('issue a new key (printed once)'))
    .option('--prefix <prefix>', 'key prefix, e.g. bwk_live (required)')
    .option('--id <id>', 'record id (default: generated)')
    .option('--consumer <consumer>', 'Kong consumer the key authenticates as')
    .option('--scope <scope>', 'scope granted (repeatable)', collect)
    .option('--label <label>', 'label (repeatable)', collect)
    .option('--meta <key=value>', 'metadata (repeatable)', collect)
    .option('--not-before <time>', TIME)
    .option('--expires-at <time>', TIME)
    .option('--expires-in-days <days>', 'expiry in days from now (instead of --expires-at)')
    .action(act('issue'));
  STORE_OPTIONS(cmd.command('rotate').description('issue a successor; the old key expires after the grace period'))
    .requiredOption('--id <id>', 'the key to rotate')
    .option('--grace-seconds <n>', 'how long the old key keeps working (default 86400)')
    .option('--new-id <id>', "the successor's id (default: generated)")
    .option('--prefix <prefix>', "the successor's prefix (default: the old key's)")
    .action(act('rotate'));
  STORE_OPTIONS(cmd.command('revoke').description('disable a key'))
    .requiredOption('--id <id>', 'the key to revoke')
    .action(act('revoke'));
  STORE_OPTIONS(
    cmd.command('list').description('list keys: ids, prefixes, scopes, expiry, last use; never secrets'),
  ).action(act('list'));
  return cmd;
}

/** The CLI without process I/O (`argv`: the arguments after `api-key`). */
export function run(argv: string[], deps: CliDeps): Promise<CliResult> {
  return runCommand((io) => apiKeyCommand(io, deps).name('api-key'), argv);
}

export const defaultDeps = (): CliDeps => ({
  now: Date.now,
  env: process.env,
  readFile: (p) => fs.readFileSync(p, 'utf8'),
  connectRedis,
});

export function connectRedis(url: string): { client: AdminRedis; close: () => Promise<void> } {
  const client = new Redis(url, {
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    lazyConnect: false,
    connectionName: 'bulwark-api-key-cli',
  });
  client.on('error', () => undefined); // surfaced by the commands
  return {
    client,
    close: async () => {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
