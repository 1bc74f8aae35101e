// Operation matching: method + path template → the rules of that operation, through an index (one segment trie
// per method), so a decision costs the length of the path, not the number of rules.
//
// Templates are OpenAPI path templates compiled by bulwark-validator's path router (`{param}` fills one segment;
// a segment mixing text and variables is an RE2 regex, linear time), and request paths are normalised by the same
// router (dot segments, repeated slashes, escapes of unreserved characters), so `/users/./B/orders` or
// `/users/%42/orders` reach the rules of `/users/{id}/orders` with the same decoded value.
import {
  compileTemplate,
  matchTemplate,
  normalizePathSegments,
  type PathTemplate,
} from '../bulwark-validator/path-router';
import { percentDecode } from '../lib/percent-encoding';

export const ANY_METHOD = '*';

interface TrieNode<T> {
  literal: Map<string, TrieNode<T>>;
  variable: TrieNode<T> | undefined;
  mixed: { matcher: PathTemplate['segments'][number]; node: TrieNode<T> }[];
  /** Entries whose template ends here. */
  entries: { template: PathTemplate; value: T }[];
}

function node<T>(): TrieNode<T> {
  return { literal: new Map(), variable: undefined, mixed: [], entries: [] };
}

export interface OperationMatch<T> {
  value: T;
  /** Decoded values of the template variables. */
  params: Record<string, string>;
}

/** Template variables must be plain names, each once: `{id}` twice in one template is ambiguous. */
export function templateProblem(template: string): string | undefined {
  if (!template.startsWith('/')) return 'must start with /';
  if (/[?#\s]/.test(template)) return 'must not contain ?, # or white space';
  const names = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!);
  for (const n of names) if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(n)) return `invalid parameter name {${n}}`;
  if (new Set(names).size !== names.length) return 'a parameter appears twice';
  const rest = template.replace(/\{[^{}]*\}/g, '');
  if (rest.includes('{') || rest.includes('}')) return 'unbalanced braces';
  return undefined;
}

/**
 * Rules indexed by method, then by path segment. Several entries may match one request (`/users/me` and
 * `/users/{id}`): all are returned, in insertion order, and the caller's precedence decides.
 */
export class OperationIndex<T> {
  private readonly byMethod = new Map<string, TrieNode<T>>();
  private size = 0;

  add(methods: readonly string[], template: string, value: T): void {
    const compiled = compileTemplate(template);
    for (const method of methods.length === 0 ? [ANY_METHOD] : methods) {
      let at: TrieNode<T> | undefined = this.byMethod.get(method);
      if (at === undefined) {
        at = node<T>();
        this.byMethod.set(method, at);
      }
      for (const seg of compiled.segments) {
        if (seg.kind === 'literal') {
          let next: TrieNode<T> | undefined = at.literal.get(seg.value);
          if (next === undefined) at.literal.set(seg.value, (next = node<T>()));
          at = next;
        } else if (seg.kind === 'variable') {
          at = at.variable ??= node<T>();
        } else {
          const next = node<T>();
          at.mixed.push({ matcher: seg, node: next });
          at = next;
        }
      }
      at.entries.push({ template: compiled, value });
      this.size++;
    }
  }

  get entryCount(): number {
    return this.size;
  }

  /** Entries whose method and template match; undefined when the path is not a valid origin-form path. */
  match(method: string, rawPath: string): OperationMatch<T>[] | undefined {
    const segments = normalizePathSegments(rawPath);
    if (segments === undefined) return undefined;
    const found: { template: PathTemplate; value: T }[] = [];
    for (const m of method === ANY_METHOD ? [ANY_METHOD] : [method, ANY_METHOD]) {
      const root = this.byMethod.get(m);
      if (root !== undefined) collect(root, segments, 0, found);
    }
    const out: OperationMatch<T>[] = [];
    for (const f of found) {
      const raw = matchTemplate(f.template, segments, 0);
      if (raw === undefined) continue;
      const params: Record<string, string> = Object.create(null) as Record<string, string>;
      let ok = true;
      for (const [k, v] of Object.entries(raw)) {
        const decoded = percentDecode(v);
        if (decoded === undefined) ok = false;
        else params[k] = decoded;
      }
      if (ok) out.push({ value: f.value, params });
    }
    return out;
  }
}

function collect<T>(
  at: TrieNode<T>,
  segments: readonly string[],
  i: number,
  out: { template: PathTemplate; value: T }[],
): void {
  if (i === segments.length) {
    out.push(...at.entries);
    return;
  }
  const seg = segments[i]!;
  const decoded = percentDecode(seg);
  if (decoded !== undefined) {
    const lit = at.literal.get(decoded);
    if (lit !== undefined) collect(lit, segments, i + 1, out);
  }
  if (at.variable !== undefined && seg !== '') collect(at.variable, segments, i + 1, out);
  for (const m of at.mixed) {
    if (m.matcher.kind === 'mixed' && decoded !== undefined && m.matcher.regex.exec(decoded) !== null)
      collect(m.node, segments, i + 1, out);
  }
}
