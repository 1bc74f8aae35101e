// Redaction of an OpenAPI document before it is published: pure, run once per plugin instance (config.ts).
//
// 1. `x-internal: true` (Redocly's remove-x-internal semantics): any object carrying it is removed from the map or
//    list that holds it — path items, operations, parameters, schemas and their properties, servers, tags,
//    responses, examples… — and so is every `$ref` that pointed at a removed component.
// 2. Internal `servers` (x-internal, or a host that only resolves inside a network: localhost, private and
//    loopback addresses, *.internal, *.local, *.svc, *.cluster.local, *.corp, *.lan) are replaced by the public base
//    URL (or removed when none is configured).
// 3. Example values that look like secrets are scrubbed: Bulwark API keys (bulwark-api-key's published pattern),
//    JWTs, PEM private keys, AWS access key ids, GitHub tokens, and any example value of a password-like field.
// 4. The `x-` extensions the operator lists are removed everywhere.
// 5. Components and tags nothing refers to any more are pruned (so an internal operation's schemas go with it).
import { keyPattern } from '../bulwark-api-key/key-format';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const REDACTED = '[REDACTED]';
export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface RedactOptions {
  /** Replaces every internal server; undefined: internal servers are removed. */
  publicBaseUrl?: string | undefined;
  /** `x-` extensions removed wherever they appear. */
  removeExtensions: readonly string[];
  /** API-key prefixes whose keys are scrubbed (bulwark-api-key's `key_prefixes`). */
  apiKeyPrefixes: readonly string[];
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const JWT_RE = /\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;
// Linear: each alternative consumes a character that cannot start the END marker's run of dashes twice.
const PRIVATE_KEY_RE =
  /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----(?:[^-]|-(?!----END))*(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----)?/g;
const AWS_KEY_ID_RE = /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g;
const GITHUB_TOKEN_RE = /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g;
/**
 * Field names whose example values are secrets whatever they look like. Deliberately narrow: names such as
 * `apiKey` or `token` also name non-secret things (USPTO's document lists data sets under `apiKey`); key- and
 * token-shaped values are caught by their patterns instead.
 */
const SECRET_NAME_RE =
  /^(?:.*[_-])?(?:pass(?:word|wd|phrase)?|pwd|secret|client[_-]?secret|private[_-]?key|secret[_-]?key)$/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME_RE.test(name);
}

/** The patterns a string is scrubbed of (bulwark-api-key's published key pattern first). */
export function secretPatterns(apiKeyPrefixes: readonly string[]): RegExp[] {
  const patterns = [JWT_RE, PRIVATE_KEY_RE, AWS_KEY_ID_RE, GITHUB_TOKEN_RE];
  if (apiKeyPrefixes.length > 0) patterns.unshift(new RegExp(keyPattern(apiKeyPrefixes), 'g'));
  return patterns;
}

export function scrubString(text: string, patterns: readonly RegExp[]): string {
  let out = text;
  for (const re of patterns) out = out.replace(re, REDACTED);
  return out;
}

/** Every string in `value` scrubbed; every value of a secret-named property replaced. */
function scrubExampleValue(value: JsonValue, patterns: readonly RegExp[]): JsonValue {
  if (typeof value === 'string') return scrubString(value, patterns);
  if (Array.isArray(value)) return value.map((v) => scrubExampleValue(v, patterns));
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretName(k) && v !== null && typeof v !== 'boolean' ? REDACTED : scrubExampleValue(v, patterns);
    }
    return out;
  }
  return value;
}

const EXAMPLE_KEYS = new Set(['example', 'examples', 'default', 'x-example', 'x-examples', 'const', 'enum']);

/** Whether a schema, parameter or header describes a secret (its name or its format says so). */
function describesSecret(node: JsonObject, name: string | undefined): boolean {
  if (name !== undefined && isSecretName(name)) return true;
  if (node.format === 'password') return true;
  const schema = node.schema;
  return isObject(schema) && schema.format === 'password';
}

/**
 * Scrub in place: every string of the document is cleaned of secret patterns (descriptions included: a key pasted
 * into a description leaks as well as one in an example); the examples of secret-described nodes are replaced.
 */
function scrubTree(node: JsonValue, patterns: readonly RegExp[], name?: string): JsonValue {
  if (typeof node === 'string') return scrubString(node, patterns);
  if (Array.isArray(node)) return node.map((v) => scrubTree(v, patterns));
  if (!isObject(node)) return node;
  const secret = describesSecret(node, typeof node.name === 'string' ? node.name : name);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (EXAMPLE_KEYS.has(k)) {
      if (secret && k !== 'enum') {
        out[k] = k === 'examples' && isObject(v) ? redactExamplesMap(v) : REDACTED;
      } else {
        out[k] = scrubExampleValue(v, patterns);
      }
      continue;
    }
    if (k === 'properties' && isObject(v)) {
      const props: JsonObject = {};
      for (const [pk, pv] of Object.entries(v)) props[pk] = scrubTree(pv, patterns, pk);
      out[k] = props;
      continue;
    }
    out[k] = scrubTree(v, patterns);
  }
  return out;
}

/** A map of Example Objects whose values all describe a secret: keep the names and summaries, drop the values. */
function redactExamplesMap(examples: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(examples)) {
    out[k] = isObject(v) && !('$ref' in v) ? { ...v, value: REDACTED } : isObject(v) ? v : REDACTED;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- x-internal ----

/** Removes, in place, every object marked `x-internal: true` below `node` (not `node` itself). */
function removeInternal(node: JsonValue): JsonValue {
  if (Array.isArray(node)) {
    return node.filter((v) => !(isObject(v) && v['x-internal'] === true)).map(removeInternal);
  }
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (isObject(v) && v['x-internal'] === true) continue;
    out[k] = removeInternal(v);
  }
  return out;
}

/** JSON pointer of a local `$ref` (`#/components/schemas/Pet` → ['components','schemas','Pet']). */
function refSegments(ref: string): string[] | undefined {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((s) => {
      try {
        return decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~');
      } catch {
        return s;
      }
    });
}

function resolves(doc: JsonObject, ref: string): boolean {
  const segments = refSegments(ref);
  if (segments === undefined) return true; // external: not ours to judge
  let at: JsonValue | undefined = doc;
  for (const s of segments) {
    if (Array.isArray(at)) at = at[Number(s)];
    else if (isObject(at)) at = Object.prototype.hasOwnProperty.call(at, s) ? at[s] : undefined;
    else return false;
    if (at === undefined) return false;
  }
  return true;
}

/** Removes map entries and list items that are a `$ref` to nothing (targets removed as internal). */
function removeDanglingRefs(doc: JsonObject): { doc: JsonObject; removed: number } {
  let removed = 0;
  const dangling = (v: JsonValue) => isObject(v) && typeof v.$ref === 'string' && !resolves(doc, v.$ref);
  const walk = (node: JsonValue): JsonValue => {
    if (Array.isArray(node)) {
      const kept = node.filter((v) => {
        if (!dangling(v)) return true;
        removed++;
        return false;
      });
      return kept.map(walk);
    }
    if (!isObject(node)) return node;
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node)) {
      if (dangling(v)) {
        removed++;
        continue;
      }
      out[k] = walk(v);
    }
    return out;
  };
  return { doc: walk(doc) as JsonObject, removed };
}

// ---------------------------------------------------------------------------------------------- servers ----

const INTERNAL_HOST_SUFFIXES = [
  '.internal',
  '.local',
  '.localdomain',
  '.svc',
  '.cluster.local',
  '.corp',
  '.lan',
  '.intranet',
];

/** Whether a server URL's host resolves only inside a private network. Relative URLs are the gateway's own. */
export function isInternalHost(url: string): boolean {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/.exec(url.trim());
  if (m === null) return false;
  const host = m[1]!.toLowerCase().replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (!host.includes('.') && !host.includes(':') && !host.includes('{')) return true; // a bare intranet name
  if (INTERNAL_HOST_SUFFIXES.some((s) => host.endsWith(s))) return true;
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4 !== null) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (host.includes(':'))
    return host === '::1' || host.startsWith('fc') || host.startsWith('fd') || host.startsWith('fe80');
  return false;
}

function rewriteServers(servers: JsonValue, publicBaseUrl: string | undefined): JsonValue[] {
  const list = Array.isArray(servers) ? servers : [];
  const out: JsonValue[] = [];
  let replaced = false;
  for (const s of list) {
    if (!isObject(s)) continue;
    const internal = s['x-internal'] === true || (typeof s.url === 'string' && isInternalHost(s.url));
    if (!internal) {
      out.push(s);
      continue;
    }
    if (publicBaseUrl !== undefined && !replaced) {
      out.push({ url: publicBaseUrl });
      replaced = true;
    }
  }
  return out;
}

function rewriteAllServers(doc: JsonObject, publicBaseUrl: string | undefined): void {
  if (doc.servers !== undefined) doc.servers = rewriteServers(doc.servers, publicBaseUrl);
  const items: JsonObject[] = [];
  if (isObject(doc.paths)) for (const item of Object.values(doc.paths)) if (isObject(item)) items.push(item);
  if (isObject(doc.webhooks)) for (const item of Object.values(doc.webhooks)) if (isObject(item)) items.push(item);
  for (const item of items) {
    if (item.servers !== undefined) item.servers = rewriteServers(item.servers, publicBaseUrl);
    for (const m of HTTP_METHODS) {
      const op = item[m];
      if (isObject(op) && op.servers !== undefined) op.servers = rewriteServers(op.servers, publicBaseUrl);
    }
  }
  // A document whose only servers were internal and no public URL: no servers at all means "/" (OAS 3.x), the
  // gateway itself.
  if (Array.isArray(doc.servers) && doc.servers.length === 0) delete doc.servers;
}

// ---------------------------------------------------------------------------------------------- extensions ----

function removeExtensions(node: JsonValue, names: ReadonlySet<string>): JsonValue {
  if (Array.isArray(node)) return node.map((v) => removeExtensions(v, names));
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (names.has(k)) continue;
    out[k] = removeExtensions(v, names);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- pruning ----

const COMPONENT_KINDS = [
  'schemas',
  'responses',
  'parameters',
  'examples',
  'requestBodies',
  'headers',
  'links',
  'callbacks',
  'pathItems',
] as const;

function collectRefs(node: JsonValue, into: string[]): void {
  if (Array.isArray(node)) for (const v of node) collectRefs(v, into);
  else if (isObject(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') into.push(v);
      else collectRefs(v, into);
    }
  }
}

/** Security scheme names any security requirement of the document (root or operation) names. */
function usedSecuritySchemes(doc: JsonObject): Set<string> {
  const used = new Set<string>();
  const addAll = (reqs: JsonValue | undefined) => {
    if (!Array.isArray(reqs)) return;
    for (const r of reqs) if (isObject(r)) for (const name of Object.keys(r)) used.add(name);
  };
  addAll(doc.security);
  for (const op of operations(doc)) addAll(op.operation.security);
  return used;
}

/** Removes unreferenced components (transitively), unused security schemes and tags no operation uses. */
export function pruneUnused(doc: JsonObject): JsonObject {
  const out: JsonObject = { ...doc };
  const components = isObject(doc.components) ? doc.components : undefined;
  if (components !== undefined) {
    const reached = new Set<string>();
    const queue: string[] = [];
    const roots: JsonObject = { ...out };
    delete roots.components;
    collectRefs(roots, queue);
    while (queue.length > 0) {
      const ref = queue.pop()!;
      const seg = refSegments(ref);
      if (seg === undefined || seg[0] !== 'components' || seg.length < 3) continue;
      const key = `${seg[1]}/${seg[2]}`;
      if (reached.has(key)) continue;
      reached.add(key);
      const kind = components[seg[1]!];
      const target = isObject(kind) ? kind[seg[2]!] : undefined;
      if (target !== undefined) collectRefs(target, queue);
    }
    const pruned: JsonObject = {};
    for (const [kind, entries] of Object.entries(components)) {
      if (!isObject(entries) || !(COMPONENT_KINDS as readonly string[]).includes(kind)) {
        pruned[kind] = entries;
        continue;
      }
      const kept: JsonObject = {};
      for (const [name, value] of Object.entries(entries)) if (reached.has(`${kind}/${name}`)) kept[name] = value;
      if (Object.keys(kept).length > 0) pruned[kind] = kept;
    }
    if (isObject(pruned.securitySchemes)) {
      const used = usedSecuritySchemes(out);
      const kept: JsonObject = {};
      for (const [name, value] of Object.entries(pruned.securitySchemes)) if (used.has(name)) kept[name] = value;
      if (Object.keys(kept).length > 0) pruned.securitySchemes = kept;
      else delete pruned.securitySchemes;
    }
    if (Object.keys(pruned).length > 0) out.components = pruned;
    else delete out.components;
  }
  if (Array.isArray(out.tags)) {
    const usedTags = new Set<string>();
    for (const { operation } of operations(out)) {
      if (Array.isArray(operation.tags)) for (const t of operation.tags) if (typeof t === 'string') usedTags.add(t);
    }
    out.tags = out.tags.filter((t) => isObject(t) && typeof t.name === 'string' && usedTags.has(t.name));
    if (out.tags.length === 0) delete out.tags;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- operations ----

export interface OperationRef {
  /** `paths` or `webhooks`. */
  section: 'paths' | 'webhooks';
  path: string;
  method: (typeof HTTP_METHODS)[number];
  operation: JsonObject;
}

/** Every operation of the document (paths and webhooks), in document order. */
export function operations(doc: JsonObject): OperationRef[] {
  const out: OperationRef[] = [];
  for (const section of ['paths', 'webhooks'] as const) {
    const items = doc[section];
    if (!isObject(items)) continue;
    for (const [path, item] of Object.entries(items)) {
      if (!isObject(item)) continue;
      for (const method of HTTP_METHODS) {
        const op = item[method];
        if (isObject(op)) out.push({ section, path, method, operation: op });
      }
    }
  }
  return out;
}

/** A path item with no operation left (all internal) goes too, with its shared parameters. */
function dropEmptyPathItems(doc: JsonObject): void {
  for (const section of ['paths', 'webhooks'] as const) {
    const items = doc[section];
    if (!isObject(items)) continue;
    for (const [path, item] of Object.entries(items)) {
      if (isObject(item) && typeof item.$ref !== 'string' && !HTTP_METHODS.some((m) => isObject(item[m]))) {
        delete items[path];
      }
    }
  }
}

/** The published form of `source`: see the top of this file. `source` is not modified. */
export function redactDocument(source: unknown, options: RedactOptions): JsonObject {
  if (!isObject(source)) throw new Error('the OpenAPI document is not an object');
  let doc = JSON.parse(JSON.stringify(source)) as JsonObject;
  // Servers first: an internal server is replaced, not merely dropped as x-internal would.
  rewriteAllServers(doc, options.publicBaseUrl);
  doc = removeInternal(doc) as JsonObject;
  for (let round = 0; round < 16; round++) {
    const r = removeDanglingRefs(doc);
    doc = r.doc;
    if (r.removed === 0) break;
  }
  dropEmptyPathItems(doc);
  doc = removeExtensions(doc, new Set(['x-internal', ...options.removeExtensions])) as JsonObject;
  doc = scrubTree(doc, secretPatterns(options.apiKeyPrefixes)) as JsonObject;
  return pruneUnused(doc);
}
