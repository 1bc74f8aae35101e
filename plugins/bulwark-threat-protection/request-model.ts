// Builds the values CRS rules read from a request snapshot: query and form arguments (URL-decoded to bytes, as
// ModSecurity does: `%A0` stays the byte 0xA0, an invalid escape stays as sent), multipart fields and file names,
// JSON leaves named ModSecurity-style (`json.items.array_0.name`), argument names, cookies, the configured headers
// (never Authorization), the path. Caps on value count and bytes apply here; what exceeds them is reported to the
// caller, which refuses or scans the prefix (config on_limit).
//
// Cost matters here (issue #17: every request pays it before evaluation): a JSON body is flattened in the guard's
// one pass (walkJson: no JSON.parse, no object graph, strings taken as the client's bytes without decoding and
// encoding them again), and nothing is allocated per value beyond the value itself. The previous builder is kept as
// the oracle in scripts/bench/request-model-reference; spec/plugins/bulwark-threat-protection/
// request-model-equivalence.test.ts checks this one returns exactly what it returns.
import { describeJsonGuardError, parseGuardedJson, walkJson, type JsonVisitor } from '../lib/json-guard';
import { parseMediaType, type MediaType } from '../lib/media-type';
import { parseMultipart } from '../lib/multipart';
import { forEachRawPair } from '../lib/percent-encoding';
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
    if (this.values.length >= this.limits.maxValues) {
      if (this.onLimit === 'refuse') throw new Limited(`more than ${this.limits.maxValues} values`);
      if (this.unscanned.length < 10) this.unscanned.push(where(collection, name));
      return;
    }
    let v = value;
    if (!requestLine && v.length > this.limits.maxValueBytes) {
      const at = where(collection, name);
      if (this.onLimit === 'refuse') throw new Limited(`${at} is longer than ${this.limits.maxValueBytes} bytes`);
      v = v.slice(0, this.limits.maxValueBytes);
      if (this.unscanned.length < 10) this.unscanned.push(`${at} (after ${this.limits.maxValueBytes} bytes)`);
    }
    if (this.bytes + v.length > this.limits.maxRequestBytes) {
      if (this.onLimit === 'refuse') throw new Limited(`more than ${this.limits.maxRequestBytes} bytes to scan`);
      if (this.unscanned.length < 10) this.unscanned.push(where(collection, name));
      return;
    }
    this.bytes += v.length;
    this.values.push({ collection, name, value: v });
  }

  /** A refusal found while a body was still being parsed: thrown once it has parsed (a malformed body is refused
   * as malformed, whatever its values). */
  private pendingRefusal: Limited | undefined;

  /** `add` for a value of a body not yet parsed to its end: after a refusal, the values that follow are dropped. */
  addBeforeParsed(collection: Collection, name: string, value: string): void {
    if (this.pendingRefusal !== undefined) return;
    try {
      this.add(collection, name, value);
    } catch (err) {
      if (!(err instanceof Limited)) throw err;
      this.pendingRefusal = err;
    }
  }

  /** The body has parsed: its refusal, if any, now. */
  refuseIfLimited(): void {
    if (this.pendingRefusal !== undefined) throw this.pendingRefusal;
  }

  mark(): SinkMark {
    return { values: this.values.length, unscanned: this.unscanned.length, bytes: this.bytes };
  }

  reset(to: SinkMark): void {
    this.values.length = to.values;
    this.unscanned.length = to.unscanned;
    this.bytes = to.bytes;
    this.pendingRefusal = undefined;
  }
}

/** The sink's state at a point, to go back to. */
interface SinkMark {
  values: number;
  unscanned: number;
  bytes: number;
}

/** Where a value is, for a refusal's detail or the unscanned list (built only then). */
function where(collection: Collection, name: string): string {
  return name === '' ? collection : `${collection}:${name.slice(0, 128)}`;
}

/** `a=1&b=%27` → (name, value) byte strings, decoded once like ModSecurity's argument parser. */
function addUrlEncoded(sink: ValueSink, text: string, values: Collection, names: Collection): void {
  forEachRawPair(text, '&', (rawName, rawValue) => {
    const name = urlDecode(rawName);
    sink.add(names, '', name);
    sink.add(values, name, rawValue === undefined ? '' : urlDecode(rawValue));
  });
}

/**
 * A JSON body's member names (ARGS_POST_NAMES) and leaves (ARGS_POST), named ModSecurity-style from `json`
 * (`json.items.array_0.name`), straight into the sink while the guard scans the body, in document order. That is
 * the order JavaScript enumerates the parsed value (which the model has always used) unless an object has a member
 * named by an array index ("0", "17"), which JavaScript lists first: then `reorderNeeded` is set, and the caller
 * builds that body's entries from the parsed value instead.
 */
class JsonFlattener implements JsonVisitor {
  /** An object had a member named by an array index: these entries are not in JavaScript's order. */
  reorderNeeded = false;
  /** Per open container: its name, the next element index (arrays) or -1 (objects). */
  private readonly containerNames: string[] = [];
  private readonly nextIndex: number[] = [];
  /** The name of the member whose value comes next. */
  private memberName = '';

  constructor(private readonly sink: ValueSink) {}

  private valueName(): string {
    const top = this.containerNames.length - 1;
    if (top < 0) return 'json';
    const index = this.nextIndex[top]!;
    if (index < 0) return this.memberName;
    this.nextIndex[top] = index + 1;
    return this.containerNames[top]! + (index < ARRAY_SUFFIXES.length ? ARRAY_SUFFIXES[index]! : `.array_${index}`);
  }

  openObject(): void {
    this.containerNames.push(this.valueName());
    this.nextIndex.push(-1);
  }

  openArray(): void {
    this.containerNames.push(this.valueName());
    this.nextIndex.push(0);
  }

  close(): void {
    this.containerNames.pop();
    this.nextIndex.pop();
  }

  key(name: string): void {
    const child = `${this.containerNames[this.containerNames.length - 1]}.${name}`;
    if (isArrayIndex(name)) this.reorderNeeded = true;
    this.sink.addBeforeParsed('ARGS_POST_NAMES', '', child);
    this.memberName = child;
  }

  string(value: string): void {
    const name = this.valueName();
    if (value !== '') this.sink.addBeforeParsed('ARGS_POST', name, value);
  }

  number(text: string, integer: boolean): void {
    this.sink.addBeforeParsed('ARGS_POST', this.valueName(), jsonNumberText(text, integer));
  }

  literal(value: boolean | null): void {
    const name = this.valueName();
    if (value !== null) this.sink.addBeforeParsed('ARGS_POST', name, value ? 'true' : 'false');
  }
}

/**
 * `String(JSON.parse(text))` for a JSON number, without converting where the text is already that: an integer of up
 * to 15 characters (but -0), or a decimal of up to 15 digits without exponent or trailing zero and not below 1e-6
 * (JavaScript writes smaller ones with an exponent). A decimal of at most 15 significant digits is the shortest one
 * that reads back as its double, so JavaScript prints it as written. `integer`: no fraction, no exponent.
 */
export function jsonNumberText(text: string, integer: boolean): string {
  const n = text.length;
  if (integer) return n <= 15 && text !== '-0' ? text : String(Number(text));
  if (n > 16 || text.charCodeAt(n - 1) === 0x30) return String(Number(text));
  let k = text.charCodeAt(0) === 0x2d ? 1 : 0;
  if (n - k - 1 > 15) return String(Number(text)); // more than 15 digits
  if (text.indexOf('e') !== -1 || text.indexOf('E') !== -1) return String(Number(text));
  if (text.charCodeAt(k) === 0x30) {
    // 0.000…: at most five zeros after the point.
    k += 2;
    const firstDigit = k;
    while (k < n && text.charCodeAt(k) === 0x30) k++;
    if (k - firstDigit > 5) return String(Number(text));
  }
  return text;
}

/** `.array_0` … `.array_255`, built once. */
const ARRAY_SUFFIXES: readonly string[] = Array.from({ length: 256 }, (_, i) => `.array_${i}`);

/** Whether a member name is an array index (a canonical integer below 2^32 - 1), which JavaScript lists first. */
function isArrayIndex(name: string): boolean {
  const n = name.length;
  if (n === 0 || n > 10) return false;
  const c0 = name.charCodeAt(0);
  if (c0 < 0x30 || c0 > 0x39) return false;
  if (c0 === 0x30) return n === 1;
  for (let k = 1; k < n; k++) {
    const c = name.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false;
  }
  return n < 10 || Number(name) <= 4294967294;
}

function addJson(sink: ValueSink, body: Uint8Array, limits: ScanLimits): void {
  const before = sink.mark();
  const json = new JsonFlattener(sink);
  const scanned = walkJson(body, limits.json, json);
  if (!scanned.ok) throw new BadBody(`JSON body: ${describeJsonGuardError(scanned.error)}`);
  if (!json.reorderNeeded) {
    sink.refuseIfLimited();
    return;
  }
  // Rare (an object with array-index member names): the entries again, from the parsed value, in its order.
  sink.reset(before);
  const parsed = parseGuardedJson(body, limits.json);
  if (!parsed.ok) throw new Error('a JSON body that passed the guard failed it'); // cannot happen: same bytes
  addParsedJson(sink, parsed.value, 'json');
}

/** The entries of a parsed JSON value, members in JavaScript's order (Object.entries). */
function addParsedJson(sink: ValueSink, value: unknown, name: string): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => addParsedJson(sink, v, `${name}.array_${i}`));
    return;
  }
  if (typeof value === 'object') {
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const child = `${name}.${kongStringByteString(key)}`;
      sink.add('ARGS_POST_NAMES', '', child);
      addParsedJson(sink, v, child);
    }
    return;
  }
  sink.add('ARGS_POST', name, typeof value === 'string' ? kongStringByteString(value) : String(value));
}

/** `a=1; b=2` → (name, value) pairs split on ';', the name up to the first '=', both trimmed; empty pairs skipped. */
function addCookies(sink: ValueSink, headers: HeaderMultimap): void {
  for (const header of headerValues(headers, 'cookie')) {
    forEachRawPair(kongStringByteString(header), ';', (rawName, rawValue) => {
      const name = rawName.trim();
      const value = rawValue === undefined ? '' : rawValue.trim();
      if (name === '' && value === '') return;
      sink.add('REQUEST_COOKIES_NAMES', '', name);
      sink.add('REQUEST_COOKIES', name, value);
    });
  }
}

/** The last Content-Type parsed and its media type (clients send the same few; parseMediaType is pure). */
let lastContentType: string | undefined;
let lastMediaType: MediaType | undefined;

function mediaTypeOf(contentType: string): MediaType | undefined {
  if (contentType !== lastContentType) {
    lastMediaType = parseMediaType(contentType);
    lastContentType = contentType;
  }
  return lastMediaType;
}

function addBody(sink: ValueSink, snapshot: RequestSnapshot, limits: ScanLimits): void {
  const body = snapshot.body;
  if (body === undefined || body.byteLength === 0) return;
  const contentType = headerValues(snapshot.headers, 'content-type')[0];
  const media = contentType === undefined ? undefined : mediaTypeOf(contentType);
  const essence = media?.essence;
  // REQUEST_BODY as ModSecurity fills it: for URL-encoded bodies, and here also for bodies no parser reads (fail
  // closed: an upstream may parse what the gateway does not). JSON and multipart are scanned as their values.
  if (media === undefined) {
    sink.add('REQUEST_BODY', '', bytesToByteString(body));
    return;
  }
  if (essence === 'application/x-www-form-urlencoded') {
    const raw = bytesToByteString(body);
    sink.add('REQUEST_BODY', '', raw);
    addUrlEncoded(sink, raw, 'ARGS_POST', 'ARGS_POST_NAMES');
  } else if (essence === 'application/json' || media.subtype.endsWith('+json')) {
    addJson(sink, body, limits);
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
  } else sink.add('REQUEST_BODY', '', bytesToByteString(body));
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
