// REFERENCE COPY, not shipped: plugins/bulwark-threat-protection/request-model.ts as it was on main 640331a, before
// the request model was rewritten for speed (issue #17), with the helpers it called then (kongStringByteString,
// urlDecode, splitRawQuery, headerValues, bytesToByteString) inlined below and the JSON guard frozen in
// ./json-guard.ts. Frozen as the oracle: spec/plugins/bulwark-threat-protection/request-model-equivalence.test.ts
// checks that the shipped builder returns exactly what this one returns, and scripts/bench/request-model.ts measures
// both in one run. Do not optimise or fix it here; change the shipped one.
//
// Builds the values CRS rules read from a request snapshot: query and form arguments (URL-decoded to bytes, as
// ModSecurity does: `%A0` stays the byte 0xA0, an invalid escape stays as sent), multipart fields and file names,
// JSON leaves named ModSecurity-style (`json.items.array_0.name`), argument names, cookies, the configured headers
// (never Authorization), the path. Caps on value count and bytes apply here; what exceeds them is reported to the
// caller, which refuses or scans the prefix (config on_limit).
import { describeJsonGuardError, parseGuardedJson } from './json-guard';
import { parseMediaType } from '../../../plugins/lib/media-type';
import { parseMultipart } from '../../../plugins/lib/multipart';
import type { HeaderMultimap } from '../../../plugins/lib/pdk';
import type { LimitAction, ScanLimits } from '../../../plugins/bulwark-threat-protection/config';
import type { Collection, RequestValue } from '../../../plugins/bulwark-threat-protection/crs/model';
import { REASON } from '../../../plugins/bulwark-threat-protection/reasons';
import type { ModelResult, RequestSnapshot } from '../../../plugins/bulwark-threat-protection/request-model';

// --- helpers as they were on 640331a ---

function bytesToByteString(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function headerValues(headers: HeaderMultimap, name: string): string[] {
  const lower = name.toLowerCase();
  let value: unknown = Object.prototype.hasOwnProperty.call(headers, lower) ? headers[lower] : undefined;
  if (value === undefined) {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === lower) {
        value = headers[key];
        break;
      }
    }
  }
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

interface RawQueryPair {
  rawName: string;
  rawValue: string | undefined;
}

function splitRawQuery(raw: string): RawQueryPair[] {
  const pairs: RawQueryPair[] = [];
  if (raw === '') return pairs;
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    if (eq === -1) pairs.push({ rawName: piece, rawValue: undefined });
    else pairs.push({ rawName: piece.slice(0, eq), rawValue: piece.slice(eq + 1) });
  }
  return pairs;
}

const isHexDigit = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const hexDigitValue = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);

function urlDecode(s: string): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) out += ' ';
    else if (c === 0x25) {
      if (i + 2 < s.length && isHexDigit(s.charCodeAt(i + 1)) && isHexDigit(s.charCodeAt(i + 2))) {
        out += String.fromCharCode((hexDigitValue(s.charCodeAt(i + 1)) << 4) | hexDigitValue(s.charCodeAt(i + 2)));
        i += 2;
      } else out += '%';
    } else out += s[i];
  }
  return out;
}

const ESCAPED_BYTE = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;
const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

function kongStringByteString(s: string): string {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) < 0x80) i++;
  if (i === s.length) return s;
  if (!ESCAPED_BYTE.test(s)) return Buffer.from(s, 'utf8').toString('latin1');
  let out = s.slice(0, i);
  let run = i;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff) {
      if (i > run && isHighSurrogate(s.charCodeAt(i - 1))) continue;
      if (i > run) out += Buffer.from(s.slice(run, i), 'utf8').toString('latin1');
      out += String.fromCharCode(c - 0xdc00);
      run = i + 1;
    }
  }
  if (run < s.length) out += Buffer.from(s.slice(run), 'utf8').toString('latin1');
  return out;
}

// --- the builder as it was on 640331a ---

class Limited extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

class BadBody extends Error {}

/** Collects values under the caps. */
class ValueSink {
  readonly values: RequestValue[] = [];
  readonly unscanned: string[] = [];
  private bytes = 0;
  constructor(
    private readonly limits: ScanLimits,
    private readonly onLimit: LimitAction,
  ) {}

  /** `requestLine`: a part of the request line, which nginx already bounds (large_client_header_buffers, 8 KB by
   * default): exempt from max_value_bytes, so that a long query is judged by its arguments. */
  add(collection: Collection, name: string, value: string, requestLine = false): void {
    if (value === '') return;
    const where = name === '' ? collection : `${collection}:${name.slice(0, 128)}`;
    if (this.values.length >= this.limits.maxValues) {
      if (this.onLimit === 'refuse') throw new Limited(`more than ${this.limits.maxValues} values`);
      if (this.unscanned.length < 10) this.unscanned.push(where);
      return;
    }
    let v = value;
    if (!requestLine && v.length > this.limits.maxValueBytes) {
      if (this.onLimit === 'refuse') throw new Limited(`${where} is longer than ${this.limits.maxValueBytes} bytes`);
      v = v.slice(0, this.limits.maxValueBytes);
      if (this.unscanned.length < 10) this.unscanned.push(`${where} (after ${this.limits.maxValueBytes} bytes)`);
    }
    if (this.bytes + v.length > this.limits.maxRequestBytes) {
      if (this.onLimit === 'refuse') throw new Limited(`more than ${this.limits.maxRequestBytes} bytes to scan`);
      if (this.unscanned.length < 10) this.unscanned.push(where);
      return;
    }
    this.bytes += v.length;
    this.values.push({ collection, name, value: v });
  }
}

/** `a=1&b=%27` → (name, value) byte strings, decoded once like ModSecurity's argument parser. */
function addUrlEncoded(sink: ValueSink, text: string, values: Collection, names: Collection): void {
  for (const { rawName, rawValue } of splitRawQuery(text)) {
    const name = urlDecode(rawName);
    sink.add(names, '', name);
    sink.add(values, name, urlDecode(rawValue ?? ''));
  }
}

function addJson(sink: ValueSink, value: unknown, name: string): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => addJson(sink, v, `${name}.array_${i}`));
    return;
  }
  if (typeof value === 'object') {
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const child = `${name}.${kongStringByteString(key)}`;
      sink.add('ARGS_POST_NAMES', '', child);
      addJson(sink, v, child);
    }
    return;
  }
  sink.add('ARGS_POST', name, typeof value === 'string' ? kongStringByteString(value) : String(value));
}

function addCookies(sink: ValueSink, headers: HeaderMultimap): void {
  for (const header of headerValues(headers, 'cookie')) {
    for (const piece of kongStringByteString(header).split(';')) {
      const eq = piece.indexOf('=');
      const name = (eq === -1 ? piece : piece.slice(0, eq)).trim();
      const value = eq === -1 ? '' : piece.slice(eq + 1).trim();
      if (name === '' && value === '') continue;
      sink.add('REQUEST_COOKIES_NAMES', '', name);
      sink.add('REQUEST_COOKIES', name, value);
    }
  }
}

function addBody(sink: ValueSink, snapshot: RequestSnapshot, limits: ScanLimits): void {
  const body = snapshot.body;
  if (body === undefined || body.byteLength === 0) return;
  const raw = bytesToByteString(body);
  const contentType = headerValues(snapshot.headers, 'content-type')[0];
  const media = contentType === undefined ? undefined : parseMediaType(contentType);
  const essence = media?.essence;
  // REQUEST_BODY as ModSecurity fills it: for URL-encoded bodies, and here also for bodies no parser reads (fail
  // closed: an upstream may parse what the gateway does not). JSON and multipart are scanned as their values.
  if (media === undefined || essence === 'application/x-www-form-urlencoded') sink.add('REQUEST_BODY', '', raw);
  if (media === undefined) return;
  if (essence === 'application/x-www-form-urlencoded') {
    addUrlEncoded(sink, raw, 'ARGS_POST', 'ARGS_POST_NAMES');
  } else if (essence === 'application/json' || media.subtype.endsWith('+json')) {
    const parsed = parseGuardedJson(body, limits.json);
    if (!parsed.ok) throw new BadBody(`JSON body: ${describeJsonGuardError(parsed.error)}`);
    addJson(sink, parsed.value, 'json');
  } else if (essence === 'multipart/form-data') {
    const boundary = media.params.boundary;
    if (boundary === undefined) throw new BadBody('multipart body without a boundary');
    const parsed = parseMultipart(body, boundary, { maxParts: limits.maxValues, maxHeaderBytes: 8192 });
    if (!parsed.ok) throw new BadBody(`multipart body: ${parsed.reason}`);
    for (const part of parsed.parts) {
      const name = kongStringByteString(part.name);
      sink.add('ARGS_POST_NAMES', '', name);
      if (part.filename !== undefined) {
        sink.add('FILES_NAMES', '', name);
        sink.add('FILES', name, kongStringByteString(part.filename));
      } else sink.add('ARGS_POST', name, bytesToByteString(part.body));
    }
  } else sink.add('REQUEST_BODY', '', raw);
}

export function referenceBuildRequestModel(
  snapshot: RequestSnapshot,
  scannedHeaders: readonly string[],
  limits: ScanLimits,
  onLimit: LimitAction,
): ModelResult {
  const sink = new ValueSink(limits, onLimit);
  try {
    const uri = kongStringByteString(snapshot.pathWithQuery);
    const q = uri.indexOf('?');
    const path = q === -1 ? uri : uri.slice(0, q);
    const query = q === -1 ? '' : uri.slice(q + 1);
    sink.add('REQUEST_METHOD', '', snapshot.method);
    sink.add('REQUEST_FILENAME', '', path, true);
    sink.add('REQUEST_BASENAME', '', path.slice(path.lastIndexOf('/') + 1), true);
    sink.add('REQUEST_URI', '', uri, true);
    sink.add('REQUEST_URI_RAW', '', uri, true);
    sink.add('QUERY_STRING', '', query, true);
    addUrlEncoded(sink, query, 'ARGS_GET', 'ARGS_GET_NAMES');
    addCookies(sink, snapshot.headers);
    for (const name of scannedHeaders) {
      for (const value of headerValues(snapshot.headers, name))
        sink.add('REQUEST_HEADERS', name, kongStringByteString(value));
    }
    addBody(sink, snapshot, limits);
  } catch (err) {
    if (err instanceof Limited) return { ok: false, status: 413, reason: REASON.scanLimitExceeded, detail: err.detail };
    if (err instanceof BadBody) return { ok: false, status: 400, reason: REASON.malformedBody, detail: err.message };
    throw err;
  }
  return { ok: true, values: sink.values, unscanned: sink.unscanned };
}
