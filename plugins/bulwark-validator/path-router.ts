// Matching a request path to an OpenAPI path template (OAS 3.1 §4.8.8 "Paths Object": a template variable
// matches one path segment; concrete paths match before templated ones), below the server base paths.
//
// The request path is the RAW path Kong received (`get_path_with_query`), normalised here the way nginx and
// Kong do before routing (RFC 3986 §6.2.2: percent-escapes of unreserved characters decoded, dot segments
// removed, repeated slashes merged), so that `/v1/./pets` or `/v1/p%65ts` cannot reach a different operation
// than the one validated. Parameter values keep their raw form: the style parsers need to see which
// delimiters were literal.
//
// A segment mixing variables and text (`{a}-{b}.json`) is matched by a regular expression built from the
// template, run on RE2JS (linear time): on a backtracking engine, `([^/]+?)-([^/]+?)-([^/]+?)\.json$` against a
// long segment of dashes is polynomial and would block the event loop every plugin shares.
import { RE2JS } from 're2js';
import { decodeUnreserved, percentDecode } from '../lib/percent-encoding';

export type SegmentMatcher =
  | { kind: 'literal'; value: string }
  | { kind: 'variable'; name: string; allowed?: ReadonlySet<string> }
  | { kind: 'mixed'; regex: RE2JS; names: string[] };

export interface PathTemplate {
  template: string;
  segments: SegmentMatcher[];
}

const VAR = /\{([^{}]+)\}/g;

/** `/pets/{petId}` → matchers; `{name}` must fill a whole segment or be mixed with literal text. */
export function compileTemplate(
  template: string,
  variables?: Record<string, ReadonlySet<string> | undefined>,
): PathTemplate {
  const segments: SegmentMatcher[] = [];
  const parts = template.split('/').slice(1);
  // A trailing slash is significant in a template (`/pets/` is not `/pets`), but the empty root template "/"
  // has no segment at all.
  if (template === '/' || template === '') return { template, segments };
  for (const part of parts) {
    const whole = /^\{([^{}]+)\}$/.exec(part);
    if (whole !== null) {
      segments.push({ kind: 'variable', name: whole[1]!, allowed: variables?.[whole[1]!] });
    } else if (part.includes('{')) {
      const names: string[] = [];
      let source = '^';
      let last = 0;
      for (const m of part.matchAll(VAR)) {
        source += RE2JS.quote(part.slice(last, m.index)) + '([^/]+?)';
        names.push(m[1]!);
        last = m.index! + m[0].length;
      }
      source += RE2JS.quote(part.slice(last)) + '$';
      segments.push({ kind: 'mixed', regex: RE2JS.compile(source, RE2JS.DOTALL), names });
    } else {
      segments.push({ kind: 'literal', value: part });
    }
  }
  return { template, segments };
}

/** Specificity key: literal 0 < mixed 1 < variable 2, position by position (lower sorts first). */
function rank(t: PathTemplate): number[] {
  return t.segments.map((s) => (s.kind === 'literal' ? 0 : s.kind === 'mixed' ? 1 : 2));
}

export function compareSpecificity(a: PathTemplate, b: PathTemplate): number {
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
  return ra.length - rb.length;
}

/**
 * Normalised raw segments of a raw request path; undefined when it cannot be a valid origin-form path.
 * Dot segments are resolved, empty segments merged, except that a trailing slash is kept as a final "".
 */
export function normalizePathSegments(rawPath: string): string[] | undefined {
  if (!rawPath.startsWith('/')) return undefined;
  const raw = rawPath.split('/').slice(1);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const seg = decodeUnreserved(raw[i]!);
    const last = i === raw.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..') out.pop();
      if (last) out.push('');
      continue;
    }
    if (seg === '') {
      if (last && out.length > 0) out.push('');
      continue;
    }
    out.push(seg);
  }
  return out;
}

/** Raw (still percent-encoded) values of the template variables, by name. */
export type RawPathParams = Record<string, string>;

function matchSegment(m: SegmentMatcher, seg: string, params: RawPathParams): boolean {
  switch (m.kind) {
    case 'literal':
      return percentDecode(seg) === m.value;
    case 'variable':
      if (seg === '') return false;
      if (m.allowed !== undefined && !m.allowed.has(percentDecode(seg) ?? '')) return false;
      params[m.name] = seg;
      return true;
    case 'mixed': {
      const decoded = percentDecode(seg);
      if (decoded === undefined) return false;
      const r = m.regex.exec(decoded);
      if (r === null) return false;
      m.names.forEach((name, i) => (params[name] = encodeURIComponent(r[i + 1]!)));
      return true;
    }
  }
}

/** Match `segments` from `offset` against the whole template. */
export function matchTemplate(t: PathTemplate, segments: readonly string[], offset: number): RawPathParams | undefined {
  if (t.segments.length === 0) {
    // The root template "/" matches the base path with or without its trailing slash.
    const rest = segments.length - offset;
    return rest === 0 || (rest === 1 && segments[offset] === '') ? (Object.create(null) as RawPathParams) : undefined;
  }
  if (segments.length - offset !== t.segments.length) return undefined;
  const params: RawPathParams = Object.create(null) as RawPathParams;
  for (let i = 0; i < t.segments.length; i++) {
    if (!matchSegment(t.segments[i]!, segments[offset + i]!, params)) return undefined;
  }
  return params;
}

/** Whether `base` matches the start of `segments` (base paths have no trailing slash). */
export function matchPrefix(base: PathTemplate, segments: readonly string[]): boolean {
  if (segments.length < base.segments.length) return false;
  const params: RawPathParams = Object.create(null) as RawPathParams;
  for (let i = 0; i < base.segments.length; i++)
    if (!matchSegment(base.segments[i]!, segments[i]!, params)) return false;
  return true;
}

/**
 * The base path of a Server Object URL: `http://petstore.swagger.io/v1` → `/v1`,
 * `{scheme}://developer.uspto.gov/ds-api` → `/ds-api`, `/api` → `/api`, no trailing slash.
 */
export function serverBasePath(url: string): string {
  let rest = url.trim();
  const scheme = /^[A-Za-z{][A-Za-z0-9+.\-{}]*:\/\//.exec(rest);
  if (scheme !== null) {
    rest = rest.slice(scheme[0].length);
    const slash = rest.indexOf('/');
    rest = slash === -1 ? '' : rest.slice(slash);
  } else if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    rest = slash === -1 ? '' : rest.slice(slash);
  }
  rest = rest.split(/[?#]/)[0]!;
  if (rest !== '' && !rest.startsWith('/')) rest = `/${rest}`;
  while (rest.endsWith('/')) rest = rest.slice(0, -1);
  return rest;
}
