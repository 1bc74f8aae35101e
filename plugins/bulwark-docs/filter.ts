// Per-caller filtering of the redacted document: which operations a caller may see, and the document cut down to
// them. Pure.
//
// `scopes` mode: an operation is visible when one of its security requirement alternatives (the operation's
// `security`, else the document's) is met by the caller's identity: every scope it lists is among the identity's
// scopes. An operation without security requirements, or with an empty alternative `{}`, is public: everybody sees
// it. An alternative that lists no scopes (`api_key: []`) is met by any authenticated identity. Which credential
// kind authenticated the caller is not compared with the scheme's type: the route's authentication plugins decide
// what credential is accepted; the document decides what it grants.
import type { BulwarkIdentity } from '../lib/identity';
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

/**
 * An operation a policy allows: bulwark-authz's `allowedOperations(rules, identity)` entries, structurally (method or
 * `*`, and the path template as clients send it: server base path + document path).
 */
export interface AllowedOperationLike {
  method: string;
  path_template: string;
}

/**
 * The seam for an `authz` filter mode (bulwark-authz is not on main yet): the keys of the operations a policy allows,
 * matched on method (or `*`) and full template (each of `basePaths` + the document path).
 */
export function visibleByAllowed(
  ops: readonly OperationAccess[],
  allowed: readonly AllowedOperationLike[],
  basePaths: readonly string[],
): string[] {
  const granted = new Set(allowed.map((a) => `${a.method.toUpperCase()} ${a.path_template}`));
  return ops
    .filter(
      (op) =>
        op.section === 'paths' &&
        basePaths.some((base) => granted.has(`${op.method} ${base}${op.path}`) || granted.has(`* ${base}${op.path}`)),
    )
    .map((op) => op.key);
}
