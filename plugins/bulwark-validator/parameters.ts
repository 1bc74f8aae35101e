// Parameter deserialisation (OAS 3.1 §4.8.12.4 "Style Values" and its examples table): from the raw strings
// of the request to the JSON value the parameter's schema validates. Values stay strings; Ajv's type coercion
// turns "7" into 7 where the schema asks for a number. Splitting happens on the RAW text, so an encoded
// delimiter (`%2C`) is data, a literal one (`,`) is a delimiter (RFC 6570).
import { percentDecode, type RawQueryPair } from '../lib/percent-encoding';
import { buildDeepValue, parseBracketName, type SchemaResolver } from './bracket-names';

/** Most bracket levels in one deepObject query name (`a[b][c]…`). */
const MAX_DEEP_LEVELS = 16;

export type ParamLocation = 'path' | 'query' | 'header' | 'cookie';
export type ParamStyle = 'simple' | 'label' | 'matrix' | 'form' | 'spaceDelimited' | 'pipeDelimited' | 'deepObject';
/** The shape the schema asks for, which decides how the raw text is split. */
export type ParamShape = 'primitive' | 'array' | 'object';

export interface ParamSpec {
  name: string;
  in: ParamLocation;
  required: boolean;
  style: ParamStyle;
  explode: boolean;
  shape: ParamShape;
  /** query only: whether `?name=` (empty value) is acceptable (OAS `allowEmptyValue`, default false). */
  allowEmptyValue: boolean;
  /** Property names of an object-shaped parameter (form + explode spreads them over the query). */
  objectProperties: string[];
  /** An object parameter accepts members beyond `objectProperties`. */
  objectOpen: boolean;
  /** Parameter defined with `content: {application/json: ...}`: the value is JSON text. */
  json: boolean;
  /** deepObject: the parameter's schema and a `$ref` resolver, to shape `name[a][0]=…` (bracket-names.ts). */
  deepSchema?: unknown;
  resolve?: SchemaResolver;
}

/** Styles each location allows, and its default (OAS 3.1 §4.8.12.4). */
export const STYLES: Record<ParamLocation, { allowed: readonly ParamStyle[]; default: ParamStyle }> = {
  path: { allowed: ['simple', 'label', 'matrix'], default: 'simple' },
  query: { allowed: ['form', 'spaceDelimited', 'pipeDelimited', 'deepObject'], default: 'form' },
  header: { allowed: ['simple'], default: 'simple' },
  cookie: { allowed: ['form'], default: 'form' },
};

export type Deserialized = { ok: true; value: unknown } | { ok: false; reason: string };

const bad = (reason: string): Deserialized => ({ ok: false, reason });

function decodeAll(parts: string[], plusAsSpace: boolean): string[] | undefined {
  const out: string[] = [];
  for (const p of parts) {
    const d = percentDecode(p, plusAsSpace);
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out;
}

/** `k1,v1,k2,v2` (explode false) or `k1=v1,k2=v2` (explode true, with the given separator) → object. */
function pairsToObject(parts: string[], exploded: boolean, plusAsSpace: boolean): Deserialized {
  const obj: Record<string, string> = Object.create(null) as Record<string, string>;
  if (exploded) {
    for (const p of parts) {
      const eq = p.indexOf('=');
      if (eq <= 0) return bad('expected name=value pairs');
      const k = percentDecode(p.slice(0, eq), plusAsSpace);
      const v = percentDecode(p.slice(eq + 1), plusAsSpace);
      if (k === undefined || v === undefined) return bad('malformed percent-encoding');
      if (k in obj) return bad('a member is given twice');
      obj[k] = v;
    }
  } else {
    if (parts.length % 2 !== 0) return bad('expected name,value pairs');
    const d = decodeAll(parts, plusAsSpace);
    if (d === undefined) return bad('malformed percent-encoding');
    for (let i = 0; i < d.length; i += 2) {
      if (d[i]! in obj) return bad('a member is given twice');
      obj[d[i]!] = d[i + 1]!;
    }
  }
  return { ok: true, value: { ...obj } };
}

function shaped(spec: ParamSpec, raw: string, sep: string, explodeSep: string, plusAsSpace: boolean): Deserialized {
  if (spec.json) {
    const d = percentDecode(raw, plusAsSpace);
    return d === undefined ? bad('malformed percent-encoding') : { ok: true, value: d };
  }
  switch (spec.shape) {
    case 'primitive': {
      const d = percentDecode(raw, plusAsSpace);
      return d === undefined ? bad('malformed percent-encoding') : { ok: true, value: d };
    }
    case 'array': {
      if (raw === '') return { ok: true, value: [] };
      const d = decodeAll(raw.split(spec.explode ? explodeSep : sep), plusAsSpace);
      return d === undefined ? bad('malformed percent-encoding') : { ok: true, value: d };
    }
    case 'object':
      if (raw === '') return { ok: true, value: {} };
      return pairsToObject(raw.split(spec.explode ? explodeSep : sep), spec.explode, plusAsSpace);
  }
}

/** A path parameter from its raw segment (simple `5`, label `.5`, matrix `;id=5`). */
export function deserializePathParam(spec: ParamSpec, raw: string): Deserialized {
  switch (spec.style) {
    case 'label':
      if (!raw.startsWith('.')) return bad("label style: expected a leading '.'");
      return shaped(spec, raw.slice(1), ',', '.', false);
    case 'matrix': {
      if (!raw.startsWith(';')) return bad("matrix style: expected a leading ';'");
      const body = raw.slice(1);
      if (spec.shape === 'object' && spec.explode && !spec.json)
        return pairsToObject(body === '' ? [] : body.split(';'), true, false);
      if (spec.shape === 'array' && spec.explode && !spec.json) {
        const values: string[] = [];
        for (const piece of body.split(';')) {
          const prefix = `${spec.name}=`;
          if (!piece.startsWith(prefix)) return bad(`matrix style: expected ;${spec.name}=… pieces`);
          const d = percentDecode(piece.slice(prefix.length));
          if (d === undefined) return bad('malformed percent-encoding');
          values.push(d);
        }
        return { ok: true, value: values };
      }
      const prefix = `${spec.name}=`;
      if (body === spec.name) return shaped(spec, '', ',', ',', false);
      if (!body.startsWith(prefix)) return bad(`matrix style: expected ;${spec.name}=…`);
      return shaped(spec, body.slice(prefix.length), ',', ',', false);
    }
    default:
      return shaped(spec, raw, ',', ',', false);
  }
}

/** The query pairs with their names decoded; undefined on malformed percent-encoding in a name. */
export interface DecodedQuery {
  /** decoded name → raw values (undefined for a bare `?flag`), in order. */
  byName: Map<string, (string | undefined)[]>;
}

export function indexQuery(pairs: readonly RawQueryPair[]): DecodedQuery | undefined {
  const byName = new Map<string, (string | undefined)[]>();
  for (const p of pairs) {
    const name = percentDecode(p.rawName, true);
    if (name === undefined) return undefined;
    const list = byName.get(name);
    if (list === undefined) byName.set(name, [p.rawValue]);
    else list.push(p.rawValue);
  }
  return { byName };
}

/**
 * Query names that are bracketed aliases of a declared parameter (`limit[]`, `limit[0]`, `limit[x]` when `limit`
 * is declared and not deepObject): qs (Express) and PHP read them as `limit`, so they would reach the upstream
 * unvalidated. `declared` holds the names a bracketed form may not alias.
 */
export function bracketedAliases(
  query: DecodedQuery,
  declared: ReadonlySet<string>,
  claimed: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  for (const name of query.byName.keys()) {
    const open = name.indexOf('[');
    if (open <= 0 || claimed.has(name) || declared.has(name)) continue;
    if (declared.has(name.slice(0, open))) out.push(name);
  }
  return out;
}

/**
 * A query parameter; `absent` when the request does not carry it. `claimed` collects the query names the
 * parameter consumed (for form+explode objects, whose members are top-level query names).
 */
export function deserializeQueryParam(
  spec: ParamSpec,
  query: DecodedQuery,
  claimed: Set<string>,
): Deserialized | 'absent' {
  const values = query.byName.get(spec.name);
  if (spec.shape === 'object' && !spec.json) {
    if (spec.style === 'deepObject') {
      // `created[gte]=5`, `expand[]=a`, `filter[a][b]=1`: read as qs (Express), PHP and Rack read them.
      const entries: { segments: string[]; value: string }[] = [];
      const prefix = `${spec.name}[`;
      for (const [name, vals] of query.byName) {
        if (!name.startsWith(prefix)) continue;
        const parsed = parseBracketName(name);
        if (parsed === undefined || parsed === 'malformed') return bad('deepObject style: malformed name[member]');
        for (const v of vals) {
          const d = percentDecode(v ?? '', true);
          if (d === undefined) return bad('malformed percent-encoding');
          entries.push({ segments: parsed.segments, value: d });
        }
        claimed.add(name);
      }
      if (entries.length > 0 && values !== undefined)
        return bad('deepObject style: the parameter is given both plainly and with [member]');
      if (entries.length > 0) {
        const built = buildDeepValue(entries, spec.deepSchema, spec.resolve ?? ((x) => x), MAX_DEEP_LEVELS);
        return built.ok ? { ok: true, value: built.value } : bad(`deepObject style: ${built.reason}`);
      }
      // A plain `created=5`: the schema decides (Stripe's `created` is anyOf [range object, integer]).
      if (values === undefined) return 'absent';
      claimed.add(spec.name);
      if (values.length > 1) return bad('deepObject style: the parameter is given more than once');
      const d = percentDecode(values[0] ?? '', true);
      return d === undefined ? bad('malformed percent-encoding') : { ok: true, value: d };
    }
    if (spec.style === 'form' && spec.explode) {
      const obj: Record<string, string> = {};
      let found = false;
      for (const [name, vals] of query.byName) {
        const declared = spec.objectProperties.includes(name);
        if (!declared && !(spec.objectOpen && !claimed.has(name))) continue;
        if (vals.length > 1) return bad('form style: a member is given twice');
        const d = percentDecode(vals[0] ?? '', true);
        if (d === undefined) return bad('malformed percent-encoding');
        obj[name] = d;
        found = true;
      }
      return found ? { ok: true, value: obj } : 'absent';
    }
  }
  if (values === undefined) return 'absent';
  claimed.add(spec.name);
  const raws = values.map((v) => v ?? '');
  if (!spec.allowEmptyValue && raws.some((v) => v === '') && spec.shape !== 'array')
    return bad('empty value not allowed');
  if (spec.shape === 'array' && !spec.json) {
    if (spec.style === 'form' && spec.explode) {
      const d = decodeAll(raws, true);
      return d === undefined ? bad('malformed percent-encoding') : { ok: true, value: d };
    }
    if (raws.length > 1) return bad(`${spec.style} style: the parameter is given more than once`);
    const raw = raws[0]!;
    if (raw === '') return { ok: true, value: [] };
    const sep = spec.style === 'spaceDelimited' ? /%20|\+| /i : spec.style === 'pipeDelimited' ? /%7C|\|/i : ',';
    const d = decodeAll(raw.split(sep), true);
    return d === undefined ? bad('malformed percent-encoding') : { ok: true, value: d };
  }
  if (raws.length > 1) {
    // A scalar given twice: hand over the list, the schema's type check reports it.
    const d = decodeAll(raws, true);
    return d === undefined ? bad('malformed percent-encoding') : { ok: true, value: d };
  }
  return shaped(spec, raws[0]!, ',', ',', true);
}

/** A header parameter (simple style) from all instances of the header. */
export function deserializeHeaderParam(spec: ParamSpec, values: readonly string[]): Deserialized | 'absent' {
  if (values.length === 0) return 'absent';
  const joined = values.join(',');
  if (spec.json || spec.shape === 'primitive')
    return { ok: true, value: values.length === 1 ? values[0]! : values.join(', ') };
  const parts = joined.split(',').map((p) => p.trim());
  if (spec.shape === 'array') return { ok: true, value: joined.trim() === '' ? [] : parts };
  if (joined.trim() === '') return { ok: true, value: {} };
  const obj: Record<string, string> = {};
  if (spec.explode) {
    for (const p of parts) {
      const eq = p.indexOf('=');
      if (eq <= 0) return bad('expected name=value pairs');
      obj[p.slice(0, eq)] = p.slice(eq + 1);
    }
  } else {
    if (parts.length % 2 !== 0) return bad('expected name,value pairs');
    for (let i = 0; i < parts.length; i += 2) obj[parts[i]!] = parts[i + 1]!;
  }
  return { ok: true, value: obj };
}

/** Cookie header(s) → name → value (first occurrence wins, as browsers send the most specific first). */
export function parseCookies(headerValues: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const h of headerValues) {
    for (const piece of h.split(';')) {
      const eq = piece.indexOf('=');
      if (eq <= 0) continue;
      const name = piece.slice(0, eq).trim();
      let value = piece.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (name !== '' && !out.has(name)) out.set(name, value);
    }
  }
  return out;
}

/** A cookie parameter (form style): cookie values are opaque and used as sent (RFC 6265 defines no decoding). */
export function deserializeCookieParam(spec: ParamSpec, cookies: Map<string, string>): Deserialized | 'absent' {
  const raw = cookies.get(spec.name);
  if (raw === undefined) return 'absent';
  if (spec.json || spec.shape === 'primitive') return { ok: true, value: raw };
  const parts = raw === '' ? [] : raw.split(',');
  if (spec.shape === 'array') return { ok: true, value: parts };
  if (parts.length % 2 !== 0) return bad('expected name,value pairs');
  const obj: Record<string, string> = {};
  for (let i = 0; i < parts.length; i += 2) obj[parts[i]!] = parts[i + 1]!;
  return { ok: true, value: obj };
}
