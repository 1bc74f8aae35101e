// Builds the values CRS rules read from a request snapshot: query and form arguments (URL-decoded to bytes, as
// ModSecurity does: `%A0` stays the byte 0xA0, an invalid escape stays as sent), multipart fields and file names,
// JSON leaves named ModSecurity-style (`json.items.array_0.name`), argument names, cookies, the configured headers
// (never Authorization), the path. Caps on value count and bytes apply here; what exceeds them is reported to the
// caller, which refuses or scans the prefix (config on_limit).
import { describeJsonGuardError, parseGuardedJson } from '../lib/json-guard';
import { parseMediaType } from '../lib/media-type';
import { parseMultipart } from '../lib/multipart';
import { splitRawQuery } from '../lib/percent-encoding';
import type { HeaderMultimap } from '../lib/pdk';
import { headerValues } from '../lib/pdk';
import type { LimitAction, ScanLimits } from './config';
import { bytesToByteString, type Collection, type RequestValue } from './crs/model';
import { kongStringByteString } from '../lib/kong-strings';
import { urlDecode } from './crs/transforms';
import { REASON, type ThreatProtectionReason } from './reasons';

export interface RequestSnapshot {
  method: string;
  pathWithQuery: string;
  headers: HeaderMultimap;
  /** Raw body bytes, when read. */
  body?: Uint8Array;
}

export type ModelResult =
  | { ok: true; values: RequestValue[]; unscanned: string[] }
  | { ok: false; status: 400 | 413; reason: ThreatProtectionReason; detail: string };

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

export function buildRequestModel(
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
