// The published documents of one plugin instance: the redacted document (once), and per caller the serialised,
// filtered document, cached per (document version, visible operation set) so that serving docs costs a set
// computation and a cache hit, not a walk and a JSON.stringify of the whole document. Pure (no PDK).
import * as crypto from 'node:crypto';
import { allowedOperations } from '../bulwark-authz/allowed-operations';
import type { AuthzRule } from '../bulwark-authz/config';
import type { BulwarkIdentity } from '../lib/identity';
import { filterDocument, operationAccess, visibleByAllowed, visibleByScopes, type OperationAccess } from './filter';
import type { JsonObject } from './redact';

export type FilterMode = 'none' | 'scopes' | 'authz';

/** `filter: authz`: the route's rules (compiled by bulwark-authz) and how they map onto the document. */
export interface AuthzFilter {
  rules: readonly AuthzRule[];
  /** Each operation's full path templates (filter.ts operationTemplates). */
  templates: ReadonlyMap<string, readonly string[]>;
  conditional: 'list' | 'hide';
}

/** Distinct visible sets kept per instance (each a serialised document). */
export const PUBLISHED_CACHE_SIZE = 64;

export interface PublishedDocument {
  body: string;
  /** Strong validator: the document version and the visible set (RFC 9110 §8.8.3). */
  etag: string;
  /** True when the body depends on the caller (Cache-Control: private). */
  perCaller: boolean;
  /** How many operations the caller sees. */
  operations: number;
}

function digest(text: string): string {
  return crypto.createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

export class DocumentPublisher {
  /** Digest of the redacted document: changes whenever the published content may change. */
  readonly version: string;
  readonly operations: readonly OperationAccess[];
  private readonly cache = new Map<string, PublishedDocument>();

  constructor(
    private readonly redacted: JsonObject,
    readonly mode: FilterMode,
    private readonly authz?: AuthzFilter,
  ) {
    if (mode === 'authz' && authz === undefined) throw new Error('filter authz needs the rules');
    this.version = digest(JSON.stringify(redacted));
    this.operations = operationAccess(redacted);
  }

  /** The operation keys `identity` sees. */
  visibleKeys(identity: BulwarkIdentity | undefined): string[] {
    if (this.mode === 'none') return this.operations.map((op) => op.key);
    if (this.mode === 'authz') {
      const { rules, templates, conditional } = this.authz!;
      const allowed = allowedOperations({ rules: rules as AuthzRule[] }, identity);
      return visibleByAllowed(this.operations, allowed, templates, conditional);
    }
    return visibleByScopes(this.operations, identity);
  }

  /** The document for `identity` (from the cache when its visible set was served before). */
  documentFor(identity: BulwarkIdentity | undefined): PublishedDocument {
    const keys = this.visibleKeys(identity);
    const setId = this.mode === 'none' ? 'all' : digest(keys.join('\n'));
    const cacheKey = `${this.version}.${setId}`;
    const hit = this.cache.get(cacheKey);
    if (hit !== undefined) {
      this.cache.delete(cacheKey); // most recently used last
      this.cache.set(cacheKey, hit);
      return hit;
    }
    const doc = this.mode === 'none' ? this.redacted : filterDocument(this.redacted, new Set(keys));
    const published: PublishedDocument = {
      body: JSON.stringify(doc),
      etag: `"${cacheKey}"`,
      perCaller: this.mode !== 'none',
      operations: keys.length,
    };
    this.cache.set(cacheKey, published);
    if (this.cache.size > PUBLISHED_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
    return published;
  }

  /** For tests: how many visible sets are cached. */
  get cachedSets(): number {
    return this.cache.size;
  }
}

/** RFC 9110 §13.1.2 If-None-Match: `*` or a list of entity tags, weak comparison. */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const trimmed = header.trim();
  if (trimmed === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return trimmed
    .slice(0, 8192)
    .split(',')
    .some((tag) => tag.trim().replace(/^W\//, '') === bare);
}
