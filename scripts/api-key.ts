#!/usr/bin/env node
// API key operations for bulwark-api-key (the `bulwark` tool of #21 will wrap the same module, key-admin.ts).
//
// Usage: node dist/js/scripts/api-key.js <command> --store declarative|redis [options]
//   issue   --prefix P [--id ID] [--consumer C] [--scope S]... [--label L]... [--meta k=v]...
//           [--not-before T] [--expires-at T | --expires-in-days N]
//   rotate  --id ID [--grace-seconds N (default 86400)] [--new-id ID] [--prefix P]
//   revoke  --id ID
//   list
// Store options:
//   --store declarative   --config kong.yml (rotate, revoke, list: read only; the entries to change are printed)
//   --store redis         --redis redis://[user:pass@]host:port[/db] (default redis://127.0.0.1:6379; rediss:// for
//                         TLS)  --redis-prefix P (the plugin's redis.key_prefix, default bulwark-ak)
// --pepper-env NAME   the plugin's pepper, read from this environment variable (never an argument: shell history)
// --json              machine-readable output on stdout
// T is an ISO 8601 UTC time (2026-12-31T00:00:00Z). The key is printed once: on stderr (with --json: in the JSON on
// stdout), and stored nowhere; stdout carries what to paste into kong.yml (declarative) or the id (redis).
import * as fs from 'node:fs';
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
import { exitWith, type CliResult } from './cli';

export interface CliDeps {
  now: () => number;
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
  connectRedis: (url: string) => { client: AdminRedis; close: () => Promise<void> };
}

export const USAGE = `usage: api-key <issue|rotate|revoke|list> --store declarative|redis [options]
  issue   --prefix P [--id ID] [--consumer C] [--scope S]... [--label L]... [--meta k=v]...
          [--not-before T] [--expires-at T | --expires-in-days N]
  rotate  --id ID [--grace-seconds N] [--new-id ID] [--prefix P]
  revoke  --id ID
  list
  declarative: --config kong.yml (rotate, revoke, list)   redis: --redis URL --redis-prefix P
  --pepper-env NAME  --json
`;

const MULTI = new Set(['scope', 'label', 'meta']);
const FLAGS = new Set(['json', 'help']);
const KNOWN = new Set([
  'store',
  'prefix',
  'id',
  'consumer',
  'scope',
  'label',
  'meta',
  'not-before',
  'expires-at',
  'expires-in-days',
  'grace-seconds',
  'new-id',
  'config',
  'redis',
  'redis-prefix',
  'pepper-env',
  'json',
  'help',
]);

interface Args {
  command: string;
  one: Map<string, string>;
  many: Map<string, string[]>;
  flags: Set<string>;
}

function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  const args: Args = { command: command ?? '', one: new Map(), many: new Map(), flags: new Set() };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--')) throw new AdminError(`unexpected argument ${a}`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (!KNOWN.has(name)) throw new AdminError(`unknown option --${name}`);
    if (FLAGS.has(name)) {
      args.flags.add(name);
      continue;
    }
    if (value === undefined) {
      value = rest[++i];
      if (value === undefined) throw new AdminError(`--${name} needs a value`);
    }
    if (MULTI.has(name)) args.many.set(name, [...(args.many.get(name) ?? []), value]);
    else if (args.one.has(name)) throw new AdminError(`--${name} given twice`);
    else args.one.set(name, value);
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

/** The CLI without process I/O. */
export async function run(argv: string[], deps: CliDeps): Promise<CliResult> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    return { out: '', err: `${(err as Error).message}\n${USAGE}`, code: 2 };
  }
  if (args.flags.has('help') || args.command === '' || args.command === 'help') return { out: USAGE, err: '', code: 0 };
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
        return { out: '', err: `unknown command ${args.command}\n${USAGE}`, code: 2 };
    }
  } catch (err) {
    if (err instanceof AdminError || err instanceof RecordError)
      return { out: '', err: `error: ${err.message}\n`, code: 2 };
    return { out: '', err: `error: ${err instanceof Error ? err.message : String(err)}\n`, code: 1 };
  }
}

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

if (require.main === module) {
  exitWith(
    run(process.argv.slice(2), {
      now: Date.now,
      env: process.env,
      readFile: (p) => fs.readFileSync(p, 'utf8'),
      connectRedis,
    }),
  );
}
