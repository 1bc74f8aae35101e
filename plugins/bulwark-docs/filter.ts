// Per-caller filtering of the redacted document: which operations a caller may see, and the document cut down to
// them. Pure.
//
// `scopes` mode: an operation is visible when one of its security requirement alternatives (the operation's
// `security`, else the document's) is met by the caller's identity: every scope it lists is among the identity's
// scopes. An operation without security requirements, or with an empty alternative `{}`, is public: everybody sees
// it. An alternative that lists no scopes (`api_key: []`) is met by any authenticated identity. Which credential
// kind authenticated the caller is not compared with the scheme's type: the route's authentication plugins decide
// what credential is accepted; the document decides what it grants.
//
// `authz` mode: an operation is visible when the route's bulwark-authz rules allow the caller to call it
// (`allowedOperations`, matched onto the document's operations by visibleByAllowed below): the authorization the
// gateway enforces, not the document's own security requirements.
import type { BulwarkIdentity } from '../lib/identity';
import { serverBasePath } from '../bulwark-validator/path-router';
import { isObject, operations, pruneUnused, type JsonObject, type JsonValue } from './redact';

export type Requirement = { scheme: string; scopes: string[] }[];

export interface OperationAccess {
  /** `GET /pets/{id}` (webhooks: `webhook POST name`). */
  key: string;
  method: string;
  path: string;
  section: 'paths' | 'webhooks';
  /** Alternatives (OR) of requirements (AND); empty list: public. */
  alternatives: Requirement[];
}

export function operationKey(section: 'paths' | 'webhooks', method: string, path: string): string {
  return `${section === 'webhooks' ? 'webhook ' : ''}${method.toUpperCase()} ${path}`;
}

function requirements(security: JsonValue | undefined): Requirement[] | undefined {
  if (!Array.isArray(security)) return undefined;
  return security.filter(isObject).map((req) =>
    Object.entries(req).map(([scheme, scopes]) => ({
      scheme,
      scopes: Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [],
    })),
  );
}

/** What each operation of the (redacted) document requires. */
export function operationAccess(doc: JsonObject): OperationAccess[] {
  const root = requirements(doc.security) ?? [];
  return operations(doc).map(({ section, path, method, operation }) => ({
    key: operationKey(section, method, path),
    method: method.toUpperCase(),
    path,
    section,
    alternatives: requirements(operation.security) ?? root,
  }));
}

/** An identity that authenticated the request, or undefined (anonymous callers see only public operations). */
export function authenticated(identity: BulwarkIdentity | undefined): BulwarkIdentity | undefined {
  return identity?.authenticated === true ? identity : undefined;
}

export function isPublic(op: OperationAccess): boolean {
  return op.alternatives.length === 0 || op.alternatives.some((alt) => alt.length === 0);
}

/** The keys of the operations `identity` may call by the document's security requirements (scopes mode). */
export function visibleByScopes(ops: readonly OperationAccess[], identity: BulwarkIdentity | undefined): string[] {
  const caller = authenticated(identity);
  const scopes = new Set(caller?.scopes ?? []);
  return ops
    .filter(
      (op) =>
        isPublic(op) ||
        (caller !== undefined && op.alternatives.some((alt) => alt.every((r) => r.scopes.every((s) => scopes.has(s))))),
    )
    .map((op) => op.key);
}

/** `doc` with only the operations in `visible` (by key), then pruned of what only the others used. */
export function filterDocument(doc: JsonObject, visible: ReadonlySet<string>): JsonObject {
  const out: JsonObject = { ...doc };
  for (const section of ['paths', 'webhooks'] as const) {
    const items = doc[section];
    if (!isObject(items)) continue;
    const kept: JsonObject = {};
    for (const [path, item] of Object.entries(items)) {
      if (!isObject(item)) continue;
      const copy: JsonObject = { ...item };
      let any = false;
      for (const [k, v] of Object.entries(item)) {
        if (!isObject(v) || !/^(get|put|post|delete|options|head|patch|trace)$/.test(k)) continue;
        if (visible.has(operationKey(section, k, path))) any = true;
        else delete copy[k];
      }
      if (any) kept[path] = copy;
    }
    // OAS 3.0 requires `paths`, even empty; webhooks only when some are left.
    if (section === 'paths' || Object.keys(kept).length > 0) out[section] = kept;
    else delete out[section];
  }
  return pruneUnused(out);
}

/** What the route's authorization allows: bulwark-authz's `allowedOperations(rules, identity)` entries. */
export interface AllowedOperationLike {
  /** `GET`, …, or `*` (every method). */
  method: string;
  /** The path template as clients send it (server base path + document path), `{params}` of any name. */
  path_template: string;
  access: 'always' | 'conditional';
}

/** How much of a document operation's requests an allowed template covers. */
export type Coverage = 'all' | 'some' | 'none';

const PURE_VARIABLE = /^\{[^{}]*\}$/;
const variablesUnnamed = (segment: string): string => segment.replace(/\{[^{}]*\}/g, '{}');

function segmentCoverage(allowed: string, documented: string): Coverage {
  if (variablesUnnamed(allowed) === variablesUnnamed(documented)) return 'all';
  if (PURE_VARIABLE.test(allowed)) return documented === '' ? 'none' : 'all';
  // Two different literals never meet; a literal or a mixed segment against a variable matches some values.
  if (!allowed.includes('{') && !documented.includes('{')) return 'none';
  return 'some';
}

/**
 * Whether the requests of a documented template (`/orders/{id}`) are all, some or none of the requests an allowed
 * template matches, segment by segment as bulwark-authz matches paths (`{param}` fills exactly one segment, names
 * do not matter): `/orders/{orderId}` covers all of them, `/orders/mine` some, `/orders` none.
 */
export function templateCoverage(allowed: string, documented: string): Coverage {
  const a = allowed.split('/');
  const d = documented.split('/');
  if (a.length !== d.length) return 'none';
  let out: Coverage = 'all';
  for (let i = 0; i < a.length; i++) {
    const c = segmentCoverage(a[i]!, d[i]!);
    if (c === 'none') return 'none';
    if (c === 'some') out = 'some';
  }
  return out;
}

/** The path templates clients call an operation at: each server base path (operation, path item, document) + path. */
export function operationTemplates(doc: JsonObject): Map<string, string[]> {
  const bases = (servers: JsonValue | undefined, inherited: string[]): string[] => {
    if (!Array.isArray(servers)) return inherited;
    const found = new Set<string>();
    for (const s of servers) if (isObject(s) && typeof s.url === 'string') found.add(serverBasePath(s.url));
    return found.size === 0 ? inherited : [...found];
  };
  const root = bases(doc.servers, ['']);
  const out = new Map<string, string[]>();
  for (const { section, path, method, operation } of operations(doc)) {
    if (section !== 'paths') continue;
    const item = isObject(doc.paths) ? doc.paths[path] : undefined;
    const own = bases(operation.servers, bases(isObject(item) ? item.servers : undefined, root));
    out.set(
      operationKey(section, method, path),
      own.map((base) => base + path),
    );
  }
  return out;
}

/**
 * `authz` mode: the keys of the operations the route's authorization allows the caller. An operation is `always`
 * allowed when an `always` entry of its method (or `*`) covers all of its requests; `conditional` when some entry
 * covers some or all of them only for some requests (`conditional` entries, or a template that covers some values
 * of the operation's path). Conditional operations are listed with `conditional: 'list'` (the caller may call them,
 * for some objects), left out with `'hide'`. Webhooks are never called by the caller: left out. `templates` gives
 * each operation's full templates (operationTemplates of the document before redaction: same keys).
 */
export function visibleByAllowed(
  ops: readonly OperationAccess[],
  allowed: readonly AllowedOperationLike[],
  templates: ReadonlyMap<string, readonly string[]>,
  conditional: 'list' | 'hide',
): string[] {
  const visible: string[] = [];
  for (const op of ops) {
    if (op.section !== 'paths') continue;
    const full = templates.get(op.key) ?? [op.path];
    let access: 'always' | 'conditional' | undefined;
    for (const a of allowed) {
      if (a.method !== '*' && a.method.toUpperCase() !== op.method) continue;
      for (const t of full) {
        const c = templateCoverage(a.path_template, t);
        if (c === 'none') continue;
        if (c === 'all' && a.access === 'always') access = 'always';
        else access ??= 'conditional';
      }
      if (access === 'always') break;
    }
    if (access === 'always' || (access === 'conditional' && conditional === 'list')) visible.push(op.key);
  }
  return visible;
}
