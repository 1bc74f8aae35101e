// Bracketed field names (`metadata[order_id]=…`, `line_items[0][price]=…`, `tags[]=…`), as Express's `qs`,
// PHP and Rack read them: the upstream sees `metadata` as an object, `line_items` as an array of objects. The
// validator must see the same structure, or refuse: a bracketed name whose base is a declared field but that
// the document does not describe as deepObject (`limit[]=1000` next to a declared `limit`) is an alias that
// these parsers read as `limit` while a validator keyed on the literal name would never check it.
//
// Rules (one reading, refused when ambiguous):
// - `base[seg1][seg2]…`: every segment is bracketed, none contains `[` or `]`; anything else is malformed.
// - At one level, segments are either all `[]` (append; only as the last segment) or all named.
// - A level becomes an array when the schema there is an array (and not an object), or, without a schema
//   answer, when its names are exactly the indices 0..n-1; array indices must be 0..n-1 (no gaps: qs compacts
//   `a[5]` to index 0, Rack keeps the key "5").
// - A name given twice is refused (parsers keep the first, the last, or both).
import { isObject } from './schema-dialect';

export interface BracketName {
  base: string;
  /** The bracketed segments in order; `''` for `[]`. */
  segments: string[];
}

/** `a[b][]` → {base: a, segments: [b, '']}; undefined when the name has no bracket; 'malformed' otherwise. */
export function parseBracketName(name: string): BracketName | undefined | 'malformed' {
  const open = name.indexOf('[');
  if (open === -1) return name.includes(']') ? 'malformed' : undefined;
  if (open === 0) return 'malformed';
  const base = name.slice(0, open);
  if (base.includes(']')) return 'malformed';
  const segments: string[] = [];
  let i = open;
  while (i < name.length) {
    if (name[i] !== '[') return 'malformed';
    const close = name.indexOf(']', i + 1);
    if (close === -1) return 'malformed';
    const seg = name.slice(i + 1, close);
    if (seg.includes('[')) return 'malformed';
    segments.push(seg);
    i = close + 1;
  }
  return { base, segments };
}

type Node = { leaf: string } | { append: string[] } | { members: Map<string, Node> };

export type SchemaResolver = (schema: unknown) => unknown;

export type DeepResult = { ok: true; value: unknown } | { ok: false; reason: string };

const INDEX = /^(0|[1-9][0-9]{0,8})$/;

/** Insert one `segments = value` into the tree rooted at `root` (a members node). */
function insert(root: { members: Map<string, Node> }, segments: readonly string[], value: string): string | undefined {
  let node: { members: Map<string, Node> } = root;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    // `[]` as the last segment is handled one level up (nextIsAppend) or by buildDeepValue.
    if (seg === '') return '`[]` is only allowed as the last segment';
    const existing = node.members.get(seg);
    if (last) {
      if (existing !== undefined) return 'a member is given twice';
      node.members.set(seg, { leaf: value });
      return undefined;
    }
    const nextIsAppend = segments[i + 1] === '';
    if (nextIsAppend) {
      if (i + 1 !== segments.length - 1) return '`[]` is only allowed as the last segment';
      if (existing === undefined) node.members.set(seg, { append: [value] });
      else if ('append' in existing) existing.append.push(value);
      else return 'a member is given both with [] and otherwise';
      return undefined;
    }
    if (existing === undefined) {
      const child = { members: new Map<string, Node>() };
      node.members.set(seg, child);
      node = child;
    } else if ('members' in existing) {
      node = existing;
    } else {
      return 'a member is given both as a value and as an object';
    }
  }
  return undefined;
}

/** The candidate schemas at one place: the schema itself (dereferenced) and its allOf/anyOf/oneOf members. */
function candidates(schema: unknown, resolve: SchemaResolver): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const visit = (s: unknown, depth: number) => {
    const d = resolve(s);
    if (!isObject(d) || depth > 4) return;
    out.push(d);
    for (const k of ['allOf', 'anyOf', 'oneOf']) {
      const list = d[k];
      if (Array.isArray(list)) for (const sub of list) visit(sub, depth + 1);
    }
  };
  visit(schema, 0);
  return out;
}

function typesAt(cands: Record<string, unknown>[]): Set<string> {
  const types = new Set<string>();
  for (const c of cands) {
    if (typeof c.type === 'string') types.add(c.type);
    else if (Array.isArray(c.type)) for (const t of c.type) if (typeof t === 'string') types.add(t);
  }
  return types;
}

function childSchema(cands: Record<string, unknown>[], key: string | number): unknown {
  const subs: unknown[] = [];
  for (const c of cands) {
    if (typeof key === 'number') {
      if ('items' in c && !Array.isArray(c.items)) subs.push(c.items);
    } else if (isObject(c.properties) && key in c.properties) {
      subs.push(c.properties[key]);
    } else if (isObject(c.additionalProperties)) {
      subs.push(c.additionalProperties);
    }
  }
  return subs.length === 0 ? undefined : subs.length === 1 ? subs[0] : { anyOf: subs };
}

function materialise(node: Node, schema: unknown, resolve: SchemaResolver): DeepResult {
  if ('leaf' in node) return { ok: true, value: node.leaf };
  if ('append' in node) return { ok: true, value: node.append };
  const cands = candidates(schema, resolve);
  const types = typesAt(cands);
  const keys = [...node.members.keys()];
  const allIndices = keys.every((k) => INDEX.test(k));
  const asArray =
    types.has('array') && !types.has('object') ? true : types.has('object') && !types.has('array') ? false : allIndices;
  if (asArray) {
    if (!allIndices) return { ok: false, reason: 'array members must be written [0], [1], …' };
    const arr: unknown[] = new Array<unknown>(keys.length);
    for (const k of keys) {
      const idx = Number(k);
      if (idx >= keys.length) return { ok: false, reason: 'array indices must run from 0 without gaps' };
      const r = materialise(node.members.get(k)!, childSchema(cands, idx), resolve);
      if (!r.ok) return r;
      arr[idx] = r.value;
    }
    return { ok: true, value: arr };
  }
  const obj: Record<string, unknown> = {};
  for (const k of keys) {
    const r = materialise(node.members.get(k)!, childSchema(cands, k), resolve);
    if (!r.ok) return r;
    Object.defineProperty(obj, k, { value: r.value, enumerable: true, writable: true, configurable: true });
  }
  return { ok: true, value: obj };
}

/**
 * The value of one deepObject field from its bracketed entries (`segments` after the base name), shaped by
 * the field's schema. `maxDepth` bounds the number of segments.
 */
export function buildDeepValue(
  entries: readonly { segments: readonly string[]; value: string }[],
  schema: unknown,
  resolve: SchemaResolver,
  maxDepth: number,
): DeepResult {
  const root = { members: new Map<string, Node>() };
  const appended: string[] = [];
  for (const e of entries) {
    if (e.segments.length > maxDepth) return { ok: false, reason: `nested deeper than ${maxDepth} levels` };
    if (e.segments.length === 1 && e.segments[0] === '') {
      if (root.members.size > 0) return { ok: false, reason: 'a field is given both with [] and otherwise' };
      appended.push(e.value);
      continue;
    }
    if (appended.length > 0) return { ok: false, reason: 'a field is given both with [] and otherwise' };
    const err = insert(root, e.segments, e.value);
    if (err !== undefined) return { ok: false, reason: err };
  }
  if (appended.length > 0) return { ok: true, value: appended };
  return materialise(root, schema, resolve);
}
