// What is stored about a key: never the key, only its hash, plus the attributes a request needs.
//
// The hash is SHA-256 of the full key, or HMAC-SHA-256 with a pepper (a secret kept in a Kong vault, not in the
// store): a copy of the store alone then cannot even be used to confirm a guessed key. A fast hash is right here
// (unlike passwords): the input carries 190 bits from a CSPRNG, so no dictionary or brute force applies.
// The stored form names its algorithm, `sha256:<64 hex>` or `hmac-sha256:<64 hex>`, so a store written with a pepper
// is never read without it (a mismatch is a configuration error, refused when the instance starts).
//
// The same record shape (snake_case JSON) is used in the declarative config and in Redis, parsed by one function.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type HashAlgorithm = 'sha256' | 'hmac-sha256';

export const KEY_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
export const HASH_RE = /^(sha256|hmac-sha256):([0-9a-f]{64})$/;
/** ISO 8601 UTC timestamps, second precision (what the CLI writes). */
export const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

export const RECORD_LIMITS = {
  scopes: 64,
  labels: 64,
  entryLength: 128,
  metadataEntries: 32,
  metadataKeyLength: 64,
  metadataValueLength: 256,
  consumerLength: 128,
  displayLength: 40,
} as const;

export interface KeyRecord {
  id: string;
  /** `<algorithm>:<hex>` */
  hash: string;
  /** `<prefix>_` + the first random characters, for people (listings); optional. */
  displayPrefix?: string;
  /** Kong consumer id (UUID) or username. */
  consumer?: string;
  scopes: string[];
  labels: string[];
  /** Epoch ms; undefined: no bound. */
  notBefore?: number;
  expiresAt?: number;
  disabled: boolean;
  metadata: Record<string, string>;
  createdAt?: number;
}

/** The stored hash of a key. */
export function hashKey(key: string, pepper: string | undefined): string {
  if (pepper === undefined) return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
  return `hmac-sha256:${createHmac('sha256', pepper).update(key, 'utf8').digest('hex')}`;
}

/** Constant-time comparison of two stored hash strings (equal length by construction; false otherwise). */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export class RecordError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'RecordError';
  }
}

function isRecordObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmptyTable(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (isRecordObject(v) && Object.keys(v).length === 0);
}

function unset(v: unknown): boolean {
  return v === undefined || v === null;
}

function stringList(v: unknown, field: string, max: number): string[] {
  if (unset(v) || isEmptyTable(v)) return [];
  if (!Array.isArray(v)) throw new RecordError(field, 'expected an array of strings');
  if (v.length > max) throw new RecordError(field, `at most ${max} entries`);
  const out: string[] = [];
  v.forEach((e, i) => {
    if (
      typeof e !== 'string' ||
      e.length === 0 ||
      e.length > RECORD_LIMITS.entryLength ||
      /[\s\x00-\x1f\x7f]/.test(e)
    ) {
      throw new RecordError(
        `${field}[${i}]`,
        `expected a non-empty string without spaces, at most ${RECORD_LIMITS.entryLength} characters`,
      );
    }
    if (!out.includes(e)) out.push(e);
  });
  return out;
}

export function parseTimestamp(v: unknown, field: string): number | undefined {
  if (unset(v)) return undefined;
  if (typeof v !== 'string' || !TIMESTAMP_RE.test(v))
    throw new RecordError(field, 'expected an ISO 8601 UTC time like 2026-12-31T23:59:59Z');
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new RecordError(field, 'not a valid date');
  return ms;
}

export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

/** A record from its stored JSON form (config entry or Redis value); throws RecordError naming the field. */
export function parseKeyRecord(raw: unknown, at: string): KeyRecord {
  if (!isRecordObject(raw)) throw new RecordError(at, 'expected a record');
  const f = (k: string) => `${at}.${k}`;
  const id = raw.id;
  if (typeof id !== 'string' || !KEY_ID_RE.test(id))
    throw new RecordError(f('id'), 'letters, digits, "_", "." and "-" only (1-64)');
  const hash = raw.hash;
  if (typeof hash !== 'string' || !HASH_RE.test(hash))
    throw new RecordError(f('hash'), 'expected sha256:<64 hex> or hmac-sha256:<64 hex>');
  const record: KeyRecord = {
    id,
    hash,
    scopes: stringList(raw.scopes, f('scopes'), RECORD_LIMITS.scopes),
    labels: stringList(raw.labels, f('labels'), RECORD_LIMITS.labels),
    disabled: false,
    metadata: {},
  };
  if (!unset(raw.disabled)) {
    if (typeof raw.disabled !== 'boolean') throw new RecordError(f('disabled'), 'expected a boolean');
    record.disabled = raw.disabled;
  }
  if (!unset(raw.display_prefix)) {
    const d = raw.display_prefix;
    if (typeof d !== 'string' || d.length > RECORD_LIMITS.displayLength || !/^[A-Za-z0-9_]+$/.test(d)) {
      throw new RecordError(
        f('display_prefix'),
        `letters, digits and "_" only, at most ${RECORD_LIMITS.displayLength}`,
      );
    }
    record.displayPrefix = d;
  }
  if (!unset(raw.consumer)) {
    const c = raw.consumer;
    if (typeof c !== 'string' || c.length === 0 || c.length > RECORD_LIMITS.consumerLength) {
      throw new RecordError(f('consumer'), `expected a consumer id or username (1-${RECORD_LIMITS.consumerLength})`);
    }
    record.consumer = c;
  }
  const nbf = parseTimestamp(raw.not_before, f('not_before'));
  if (nbf !== undefined) record.notBefore = nbf;
  const exp = parseTimestamp(raw.expires_at, f('expires_at'));
  if (exp !== undefined) record.expiresAt = exp;
  const created = parseTimestamp(raw.created_at, f('created_at'));
  if (created !== undefined) record.createdAt = created;
  if (!unset(raw.metadata) && !isEmptyTable(raw.metadata)) {
    if (!isRecordObject(raw.metadata)) throw new RecordError(f('metadata'), 'expected a map of strings');
    const entries = Object.entries(raw.metadata);
    if (entries.length > RECORD_LIMITS.metadataEntries)
      throw new RecordError(f('metadata'), `at most ${RECORD_LIMITS.metadataEntries} entries`);
    for (const [k, v] of entries) {
      if (k.length === 0 || k.length > RECORD_LIMITS.metadataKeyLength)
        throw new RecordError(f('metadata'), `key "${k.slice(0, 64)}": 1-64 characters`);
      if (typeof v !== 'string' || v.length > RECORD_LIMITS.metadataValueLength) {
        throw new RecordError(
          `${f('metadata')}.${k}`,
          `expected a string of at most ${RECORD_LIMITS.metadataValueLength} characters`,
        );
      }
      record.metadata[k] = v;
    }
  }
  return record;
}

/** The stored JSON form of a record (what parseKeyRecord reads). */
export function serializeKeyRecord(r: KeyRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { id: r.id, hash: r.hash };
  if (r.displayPrefix !== undefined) out.display_prefix = r.displayPrefix;
  if (r.consumer !== undefined) out.consumer = r.consumer;
  if (r.scopes.length > 0) out.scopes = [...r.scopes];
  if (r.labels.length > 0) out.labels = [...r.labels];
  if (r.notBefore !== undefined) out.not_before = formatTimestamp(r.notBefore);
  if (r.expiresAt !== undefined) out.expires_at = formatTimestamp(r.expiresAt);
  if (r.disabled) out.disabled = true;
  if (Object.keys(r.metadata).length > 0) out.metadata = { ...r.metadata };
  if (r.createdAt !== undefined) out.created_at = formatTimestamp(r.createdAt);
  return out;
}

export type KeyStatus = 'valid' | 'disabled' | 'expired' | 'not_yet_valid';

/** Whether a known key may be used at `now` (each refusal has its own reason in the log). */
export function keyStatus(r: KeyRecord, now: number): KeyStatus {
  if (r.disabled) return 'disabled';
  if (r.expiresAt !== undefined && now >= r.expiresAt) return 'expired';
  if (r.notBefore !== undefined && now < r.notBefore) return 'not_yet_valid';
  return 'valid';
}
