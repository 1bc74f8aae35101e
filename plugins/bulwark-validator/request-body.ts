// Request bodies: presence and size from the headers (before anything is read), and decoding of the bytes
// into the value a schema validates: JSON through the hardened scanner, form-urlencoded and multipart with the
// same limits on member count and lengths.
import { describeJsonGuardError, parseGuardedJson, type JsonLimits } from '../lib/json-guard';
import type { HeaderMultimap } from '../lib/pdk';
import { headerValues } from '../lib/pdk';
import { parseMultipart } from '../lib/multipart';
import { percentDecode, splitRawQuery } from '../lib/percent-encoding';
import type { MediaType } from '../lib/media-type';
import type { Violation } from './violations';
import { buildDeepValue, parseBracketName, type SchemaResolver } from './bracket-names';

export interface BodyLimits {
  /** Largest body read, in bytes (413 above). */
  maxBodySize: number;
  json: JsonLimits;
  /** Most query parameters, form fields or multipart parts. */
  maxParameters: number;
}

export type BodyPresence =
  | { ok: true; present: false }
  | { ok: true; present: true; length: number }
  | { ok: true; present: 'unknown' }
  | { ok: false; violation: Violation };

/**
 * What the headers say about the body: Content-Length gives its size (0: none). Without Content-Length the
 * headers cannot tell (chunked; HTTP/2 and HTTP/3 may send a body with neither header, RFC 9113 §8.1.1), so
 * the caller decides from the body itself. A malformed or conflicting Content-Length is a violation
 * (RFC 9110 §8.6).
 */
export function bodyPresence(headers: HeaderMultimap): BodyPresence {
  const lengths = headerValues(headers, 'content-length')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim());
  if (lengths.length > 0) {
    if (!lengths.every((v) => /^\d{1,15}$/.test(v)) || new Set(lengths).size !== 1) {
      return {
        ok: false,
        violation: {
          root: 'header',
          steps: ['content-length'],
          rule: 'content-length',
          detail: 'invalid Content-Length',
        },
      };
    }
    const length = Number(lengths[0]);
    return length === 0 ? { ok: true, present: false } : { ok: true, present: true, length };
  }
  return { ok: true, present: 'unknown' };
}

/** How form and multipart fields map onto the schema's properties. */
export interface FormFields {
  /** Properties whose schema is an array: every occurrence is collected. */
  arrays: ReadonlySet<string>;
  /** Properties holding JSON (object/array-of-object schemas, or encoding contentType JSON). */
  json: ReadonlySet<string>;
  /** Properties that are files (format binary/byte, contentMediaType/contentEncoding): kept as latin1 text. */
  binary: ReadonlySet<string>;
  /** The schema's declared property names: `name[…]` for one of them is an alias unless it is in `deep`. */
  properties?: ReadonlySet<string>;
  /** Properties encoded `style: deepObject` (`metadata[k]=v`, `line_items[0][price]=v`) → their schema. */
  deep?: ReadonlyMap<string, unknown>;
  /** Follows `$ref`s in those schemas. */
  resolve?: SchemaResolver;
}

export const NO_FORM_FIELDS: FormFields = { arrays: new Set(), json: new Set(), binary: new Set() };

export type Decoded = { ok: true; value: unknown } | { ok: false; violations: Violation[] };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function jsonViolation(bytes: Uint8Array, limits: JsonLimits, steps: (string | number)[]): Decoded {
  const r = parseGuardedJson(bytes, limits);
  if (r.ok) return r;
  return {
    ok: false,
    violations: [
      { root: 'body', steps: [...steps, ...r.error.path], rule: r.error.rule, detail: describeJsonGuardError(r.error) },
    ],
  };
}

export function decodeJsonBody(bytes: Uint8Array, limits: JsonLimits): Decoded {
  return jsonViolation(bytes, limits, []);
}

function bodyViolation(rule: string, detail: string, steps: (string | number)[] = []): Decoded {
  return { ok: false, violations: [{ root: 'body', steps, rule, detail }] };
}

/** Collect field values into the object a schema sees (arrays where the schema asks for them). */
function addField(obj: Record<string, unknown>, fields: FormFields, name: string, value: unknown): void {
  if (fields.arrays.has(name)) {
    const list = (obj[name] as unknown[] | undefined) ?? [];
    list.push(value);
    obj[name] = list;
  } else if (Object.prototype.hasOwnProperty.call(obj, name)) {
    // A scalar field given twice: keep both so that the type check reports it.
    const prev = obj[name];
    obj[name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  } else {
    obj[name] = value;
  }
}

/** Length in Unicode code points (what JSON Schema's maxLength counts), without building an array. */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const p = s.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) n--;
    }
  }
  return n;
}

function checkField(name: string, length: number, limits: BodyLimits): Decoded | undefined {
  if (codePointLength(name) > limits.json.maxKeyLength)
    return bodyViolation('max-key-length', `field name longer than ${limits.json.maxKeyLength} characters`);
  if (length > limits.json.maxStringLength)
    return bodyViolation('max-string-length', `field value longer than ${limits.json.maxStringLength} characters`, [
      name,
    ]);
  return undefined;
}

export function decodeFormBody(bytes: Uint8Array, fields: FormFields, limits: BodyLimits): Decoded {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return bodyViolation('utf-8', 'form body is not valid UTF-8');
  }
  const pairs = splitRawQuery(text);
  if (pairs.length > limits.maxParameters)
    return bodyViolation('max-parameters', `more than ${limits.maxParameters} form fields`);
  const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const deepEntries = new Map<string, { segments: string[]; value: string }[]>();
  const plainDeep = new Set<string>();
  for (const p of pairs) {
    const name = percentDecode(p.rawName, true);
    const value = percentDecode(p.rawValue ?? '', true);
    if (name === undefined || value === undefined)
      return bodyViolation('percent-encoding', 'malformed percent-encoding in a form field');
    const tooLong = checkField(name, codePointLength(value), limits);
    if (tooLong !== undefined) return tooLong;
    const declared = fields.properties?.has(name) === true;
    const bracket = declared ? undefined : parseBracketName(name);
    if (bracket !== undefined) {
      const base = bracket === 'malformed' ? name.split('[')[0]! : bracket.base;
      if (fields.deep?.has(base) === true) {
        if (bracket === 'malformed') return bodyViolation('deepObject', 'malformed bracketed field name', [name]);
        const list = deepEntries.get(base) ?? [];
        list.push({ segments: bracket.segments, value });
        deepEntries.set(base, list);
        continue;
      }
      if (fields.properties?.has(base) === true) {
        return bodyViolation(
          'bracketed-alias',
          `"${name}" is read as the field "${base}" by qs (Express), PHP and Rack; the document does not describe it that way`,
          [name],
        );
      }
    } else if (fields.deep?.has(name) === true) {
      plainDeep.add(name);
      addField(obj, fields, name, value);
      continue;
    }
    if (fields.json.has(name)) {
      const parsed = jsonViolation(Buffer.from(value, 'utf8'), limits.json, [name]);
      if (!parsed.ok) return parsed;
      addField(obj, fields, name, parsed.value);
    } else {
      addField(obj, fields, name, value);
    }
  }
  for (const [base, entries] of deepEntries) {
    if (plainDeep.has(base))
      return bodyViolation('deepObject', 'a field is given both plainly and with brackets', [base]);
    const built = buildDeepValue(entries, fields.deep!.get(base), fields.resolve ?? ((s) => s), limits.json.maxDepth);
    if (!built.ok) return bodyViolation('deepObject', built.reason, [base]);
    obj[base] = built.value;
  }
  return { ok: true, value: { ...obj } };
}

export function decodeMultipartBody(
  bytes: Uint8Array,
  mediaType: MediaType,
  fields: FormFields,
  limits: BodyLimits,
): Decoded {
  const boundary = mediaType.params.boundary;
  if (boundary === undefined) return bodyViolation('multipart', 'multipart Content-Type without a boundary');
  const parsed = parseMultipart(bytes, boundary, { maxParts: limits.maxParameters, maxHeaderBytes: 8192 });
  if (!parsed.ok) return bodyViolation('multipart', parsed.reason);
  const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const part of parsed.parts) {
    // multer (append-field) reads `tags[]` / `tags[0]` as `tags`, like qs does for form bodies.
    if (fields.properties?.has(part.name) !== true && part.name.includes('[')) {
      const base = part.name.split('[')[0]!;
      if (fields.properties?.has(base) === true) {
        return bodyViolation(
          'bracketed-alias',
          `"${part.name}" is read as the field "${base}" by multer and qs; the document does not describe it that way`,
          [part.name],
        );
      }
    }
    const partType = (part.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    const isJson = fields.json.has(part.name) || partType === 'application/json' || partType.endsWith('+json');
    if (isJson && !fields.binary.has(part.name)) {
      const tooLong = checkField(part.name, 0, limits);
      if (tooLong !== undefined) return tooLong;
      const value = jsonViolation(part.body, limits.json, [part.name]);
      if (!value.ok) return value;
      addField(obj, fields, part.name, value.value);
    } else if (fields.binary.has(part.name) || part.filename !== undefined) {
      // File content: its bytes as a latin1 string, so maxLength counts bytes. Not decoded as text.
      addField(
        obj,
        fields,
        part.name,
        Buffer.from(part.body.buffer, part.body.byteOffset, part.body.byteLength).toString('latin1'),
      );
    } else {
      let text: string;
      try {
        text = strictUtf8.decode(part.body);
      } catch {
        return bodyViolation('utf-8', 'multipart field is not valid UTF-8', [part.name]);
      }
      const tooLong = checkField(part.name, codePointLength(text), limits);
      if (tooLong !== undefined) return tooLong;
      addField(obj, fields, part.name, text);
    }
  }
  return { ok: true, value: { ...obj } };
}
