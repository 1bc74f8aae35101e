// Media types (RFC 9110 §8.3.1) and media ranges as OpenAPI `content` maps use them
// (`application/json`, `application/*`, `*/*`, with parameters ignored for matching).

export interface MediaType {
  /** Lower-case `type/subtype`. */
  essence: string;
  type: string;
  subtype: string;
  /** Lower-case parameter names; values unquoted. */
  params: Record<string, string>;
  /**
   * Parameter names given more than once (`boundary=a; boundary=b`): receivers disagree on which one counts
   * (first or last), so a caller that reads one must refuse these.
   */
  repeatedParams?: string[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parse a Content-Type value; undefined when it is not a syntactically valid media type. */
export function parseMediaType(value: string): MediaType | undefined {
  const semi = value.indexOf(';');
  const essence = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  const slash = essence.indexOf('/');
  if (slash <= 0) return undefined;
  const type = essence.slice(0, slash);
  const subtype = essence.slice(slash + 1);
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  let rest = semi === -1 ? '' : value.slice(semi + 1);
  let repeated: string[] | undefined;
  while (rest.trim() !== '') {
    const m =
      /^\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*(?:;|$)/.exec(rest);
    if (m === null) {
      // Tolerate a trailing ';' or empty parameter, as most servers do.
      const t = /^\s*;/.exec(rest);
      if (t === null) return undefined;
      rest = rest.slice(t[0].length);
      continue;
    }
    const name = m[1]!.toLowerCase();
    let v = m[2]!;
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    if (Object.prototype.hasOwnProperty.call(params, name)) (repeated ??= []).push(name);
    params[name] = v;
    rest = rest.slice(m[0].length);
  }
  return repeated === undefined
    ? { essence, type, subtype, params }
    : { essence, type, subtype, params, repeatedParams: repeated };
}

/** application/json, any `+json` structured syntax suffix (RFC 6839), and text/json. */
export function isJsonMediaType(mt: Pick<MediaType, 'type' | 'subtype' | 'essence'>): boolean {
  return mt.essence === 'application/json' || mt.essence === 'text/json' || mt.subtype.endsWith('+json');
}

/**
 * How specifically a media range matches a media type: 3 exact, 2 `type/*`, 1 `*\/*`, -1 no match.
 * Range parameters are ignored (OpenAPI matches on the essence).
 */
export function mediaRangeSpecificity(range: string, mt: Pick<MediaType, 'type' | 'essence'>): number {
  const r = range.split(';')[0]!.trim().toLowerCase();
  if (r === mt.essence) return 3;
  if (r === '*/*') return 1;
  if (r.endsWith('/*') && r.slice(0, -2) === mt.type) return 2;
  return -1;
}
