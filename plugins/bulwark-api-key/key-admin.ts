// Key operations for operators (issue, rotate, revoke, list), for both stores, without process I/O: the thin
// script scripts/api-key.ts (and the `bulwark` tool of #21) parse arguments and print what these return.
//   declarative  nothing is written: issue prints a config entry; rotate, revoke and list read the operator's
//                kong.yml (read-only) and print the entries to change. The file stays under the operator's GitOps.
//   redis        records are written under the plugin's key prefix (layout in key-store.ts).
// The key itself is returned once, by issue and rotate, and never stored, listed or logged. Listings show ids,
// display prefixes, consumer, scopes, labels, validity and (Redis) last use; never a key, never a hash.
import type { Redis } from 'ioredis';
import { parse as parseYaml } from 'yaml';
import { generateKey, displayPrefix, isValidPrefix, randomBase62 } from './key-format';
import { formatTimestamp, hashKey, KEY_ID_RE, parseKeyRecord, serializeKeyRecord, type KeyRecord } from './key-record';
import { redisKeys } from './key-store';

export interface IssueOptions {
  prefix: string;
  id?: string;
  consumer?: string;
  scopes?: string[];
  labels?: string[];
  notBefore?: number;
  expiresAt?: number;
  metadata?: Record<string, string>;
  pepper?: string;
}

export interface Issued {
  /** The key: shown once, stored nowhere. */
  key: string;
  record: KeyRecord;
}

export class AdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminError';
  }
}

export function newKeyId(): string {
  return `key_${randomBase62(16)}`;
}

/** A new key and its record (validated exactly as the plugin reads records). */
export function issueKey(o: IssueOptions, now: number): Issued {
  if (!isValidPrefix(o.prefix))
    throw new AdminError(`invalid prefix "${o.prefix}": lower-case words of letters and digits joined by "_"`);
  const id = o.id ?? newKeyId();
  if (!KEY_ID_RE.test(id)) throw new AdminError(`invalid id "${id}": letters, digits, "_", "." and "-" only (1-64)`);
  const key = generateKey(o.prefix);
  const draft: KeyRecord = {
    id,
    hash: hashKey(key, o.pepper),
    displayPrefix: displayPrefix(key),
    scopes: o.scopes ?? [],
    labels: o.labels ?? [],
    disabled: false,
    metadata: o.metadata ?? {},
    createdAt: Math.floor(now / 1000) * 1000,
    ...(o.consumer !== undefined ? { consumer: o.consumer } : {}),
    ...(o.notBefore !== undefined ? { notBefore: o.notBefore } : {}),
    ...(o.expiresAt !== undefined ? { expiresAt: o.expiresAt } : {}),
  };
  // Round trip through the plugin's own parser: whatever the CLI writes, the plugin accepts.
  const record = parseKeyRecord(serializeKeyRecord(draft), 'key');
  return { key, record };
}

/** The successor of `old` (same consumer, scopes, labels, metadata) and `old` expiring at now + grace. */
export function rotateRecord(
  old: KeyRecord,
  prefix: string,
  graceMs: number,
  now: number,
  pepper?: string,
  newId?: string,
): { issued: Issued; old: KeyRecord } {
  if (old.disabled) throw new AdminError(`key ${old.id} is revoked: issue a new key instead of rotating it`);
  const issued = issueKey(
    {
      prefix,
      ...(newId !== undefined ? { id: newId } : {}),
      ...(old.consumer !== undefined ? { consumer: old.consumer } : {}),
      scopes: old.scopes,
      labels: old.labels,
      metadata: old.metadata,
      ...(pepper !== undefined ? { pepper } : {}),
    },
    now,
  );
  const graceEnd = Math.ceil((now + graceMs) / 1000) * 1000;
  const expiresAt = old.expiresAt !== undefined && old.expiresAt < graceEnd ? old.expiresAt : graceEnd;
  return { issued, old: { ...old, expiresAt } };
}

export interface ListedKey {
  id: string;
  display_prefix?: string;
  consumer?: string;
  scopes: string[];
  labels: string[];
  not_before?: string;
  expires_at?: string;
  disabled: boolean;
  created_at?: string;
  last_used?: string;
  /** Where the entry is (declarative: the plugin entry in the file). */
  location?: string;
}

export function listed(r: KeyRecord, extra: { lastUsed?: string; location?: string } = {}): ListedKey {
  const s = serializeKeyRecord(r);
  return {
    id: r.id,
    ...(r.displayPrefix !== undefined ? { display_prefix: r.displayPrefix } : {}),
    ...(r.consumer !== undefined ? { consumer: r.consumer } : {}),
    scopes: r.scopes,
    labels: r.labels,
    ...(s.not_before !== undefined ? { not_before: s.not_before as string } : {}),
    ...(s.expires_at !== undefined ? { expires_at: s.expires_at as string } : {}),
    disabled: r.disabled,
    ...(s.created_at !== undefined ? { created_at: s.created_at as string } : {}),
    ...(extra.lastUsed !== undefined ? { last_used: extra.lastUsed } : {}),
    ...(extra.location !== undefined ? { location: extra.location } : {}),
  };
}

// ---- declarative: read a kong.yml, never write it

export interface DeclarativeEntry {
  record: KeyRecord;
  /** e.g. `plugins[2] (route orders)` */
  location: string;
}

interface PluginEntity {
  name?: unknown;
  config?: { keys?: unknown };
}

function pluginsOf(doc: unknown): { plugin: PluginEntity; where: string }[] {
  const out: { plugin: PluginEntity; where: string }[] = [];
  const root = doc as Record<string, unknown> | null;
  const add = (list: unknown, where: string) => {
    if (!Array.isArray(list)) return;
    list.forEach((p, i) => {
      if (p !== null && typeof p === 'object' && (p as PluginEntity).name === 'bulwark-api-key')
        out.push({ plugin: p as PluginEntity, where: `${where}plugins[${i}]` });
    });
  };
  if (root === null || typeof root !== 'object') return out;
  add(root.plugins, '');
  for (const kind of ['services', 'routes', 'consumers'] as const) {
    const list = root[kind];
    if (!Array.isArray(list)) continue;
    list.forEach((e, i) => {
      if (e === null || typeof e !== 'object') return;
      const entity = e as Record<string, unknown>;
      add(entity.plugins, `${kind}[${i}].`);
      if (kind === 'services' && Array.isArray(entity.routes)) {
        (entity.routes as unknown[]).forEach((r, j) => {
          if (r !== null && typeof r === 'object')
            add((r as Record<string, unknown>).plugins, `services[${i}].routes[${j}].`);
        });
      }
    });
  }
  return out;
}

/** Every key entry of every bulwark-api-key plugin in a declarative file. */
export function declarativeEntries(yamlText: string): DeclarativeEntry[] {
  const doc: unknown = parseYaml(yamlText);
  const out: DeclarativeEntry[] = [];
  for (const { plugin, where } of pluginsOf(doc)) {
    const keys = plugin.config?.keys;
    if (!Array.isArray(keys)) continue;
    keys.forEach((k, i) => out.push({ record: parseKeyRecord(k, `${where}.config.keys[${i}]`), location: where }));
  }
  return out;
}

export function findDeclarative(yamlText: string, id: string): DeclarativeEntry {
  const found = declarativeEntries(yamlText).filter((e) => e.record.id === id);
  if (found.length === 0) throw new AdminError(`no key with id ${id} in the file`);
  return found[0]!;
}

// ---- redis

/** The commands used (an ioredis client satisfies it; tests may pass a recording one). */
export type AdminRedis = Pick<Redis, 'get' | 'set' | 'sadd' | 'smembers' | 'hget' | 'hmget'>;

export async function redisRecordById(redis: AdminRedis, keyPrefix: string, id: string): Promise<KeyRecord> {
  const hash = await redis.get(redisKeys.id(keyPrefix, id));
  if (hash === null) throw new AdminError(`no key with id ${id} in Redis (prefix ${keyPrefix})`);
  const raw = await redis.get(redisKeys.record(keyPrefix, hash));
  if (raw === null) throw new AdminError(`key ${id}: its record is missing`);
  return parseKeyRecord(JSON.parse(raw), `redis ${id}`);
}

/** Writes a record (and its id index). `create`: refuse an id that exists. */
export async function writeRedisRecord(
  redis: AdminRedis,
  keyPrefix: string,
  r: KeyRecord,
  create: boolean,
): Promise<void> {
  const value = JSON.stringify(serializeKeyRecord(r));
  // The record first, the id index after: the plugin reads by hash only, so a half-written issue is never usable
  // by id before it is usable at all.
  await redis.set(redisKeys.record(keyPrefix, r.hash), value);
  if (create) {
    const ok = await redis.set(redisKeys.id(keyPrefix, r.id), r.hash, 'NX');
    if (ok !== 'OK') throw new AdminError(`a key with id ${r.id} exists already`);
  } else {
    await redis.set(redisKeys.id(keyPrefix, r.id), r.hash);
  }
  await redis.sadd(redisKeys.ids(keyPrefix), r.id);
}

export async function listRedis(redis: AdminRedis, keyPrefix: string, maxKeys = 100_000): Promise<ListedKey[]> {
  const ids = (await redis.smembers(redisKeys.ids(keyPrefix))).sort();
  if (ids.length > maxKeys) throw new AdminError(`${ids.length} keys: more than the ${maxKeys} a listing shows`);
  const out: ListedKey[] = [];
  for (const id of ids) {
    let record: KeyRecord;
    try {
      record = await redisRecordById(redis, keyPrefix, id);
    } catch {
      continue; // an id whose record was removed by hand
    }
    const lastUsed = await redis.hget(redisKeys.lastUsed(keyPrefix), id);
    out.push(listed(record, lastUsed !== null ? { lastUsed } : {}));
  }
  return out;
}

export { formatTimestamp };
