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
import { describeJsonGuardError, walkJson, type JsonVisitor } from '../lib/json-guard';
import { parseMediaType } from '../lib/media-type';
import { parseMultipart } from '../lib/multipart';
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
}

/** Where a value is, for a refusal's detail or the unscanned list (built only then). */
function where(collection: Collection, name: string): string {
  return name === '' ? collection : `${collection}:${name.slice(0, 128)}`;
}

/**
 * `a=1&b=%27` → (name, value) byte strings, decoded once like ModSecurity's argument parser; pieces split on '&'
 * (empty ones skipped), the name up to the first '='.
 */
function addUrlEncoded(sink: ValueSink, text: string, values: Collection, names: Collection): void {
  const n = text.length;
  let eq = -1; // the first '=' at or after `start` (n: none); each search starts past the last one, so linear time
  for (let start = 0; start < n;) {
    let end = text.indexOf('&', start);
    if (end === -1) end = n;
    if (end > start) {
      if (eq < start) {
        eq = text.indexOf('=', start);
        if (eq === -1) eq = n;
      }
      const hasValue = eq < end;
      const name = urlDecode(text.slice(start, hasValue ? eq : end));
      sink.add(names, '', name);
      sink.add(values, name, hasValue ? urlDecode(text.slice(eq + 1, end)) : '');
    }
    start = end + 1;
  }
}

/**
 * A JSON body's member names (ARGS_POST_NAMES) and leaves (ARGS_POST), named ModSecurity-style from `json`
 * (`json.items.array_0.name`), collected while the guard scans the body. Entries are buffered (the body must pass
 * the guard before any is scanned) in the order JavaScript enumerates the parsed object: members named by an array
 * index ("0", "17") first, ascending, then the others as written.
 */
class JsonFlattener implements JsonVisitor {
  /** Entry k: names[k] and values[k]; an undefined value makes it a member name (ARGS_POST_NAMES) entry. */
  readonly names: string[] = [];
  readonly values: (string | undefined)[] = [];
  /** Per open container: its name, the next element index (arrays) or -1 (objects), where its members start in
   * memberStarts/memberKeys, and whether a member name is an array index (objects). */
  private readonly containerNames: string[] = [];
  private readonly nextIndex: number[] = [];
  private readonly memberBase: number[] = [];
  private readonly indexKeys: boolean[] = [];
  /** Per member of the open objects: its first entry, and its name. */
  private readonly memberStarts: number[] = [];
  private readonly memberKeys: string[] = [];
  /** The name of the member whose value comes next. */
  private memberName = '';

  private valueName(): string {
    const top = this.containerNames.length - 1;
    if (top < 0) return 'json';
    const index = this.nextIndex[top]!;
    if (index < 0) return this.memberName;
    this.nextIndex[top] = index + 1;
    return `${this.containerNames[top]}.array_${index}`;
  }

  private open(index: number): void {
    this.containerNames.push(this.valueName());
    this.nextIndex.push(index);
    this.memberBase.push(this.memberStarts.length);
    this.indexKeys.push(false);
  }

  openObject(): void {
    this.open(-1);
  }

  openArray(): void {
    this.open(0);
  }

  close(): void {
    this.containerNames.pop();
    this.nextIndex.pop();
    const base = this.memberBase.pop()!;
    if (this.indexKeys.pop()!) this.reorderMembers(base);
    this.memberStarts.length = base;
    this.memberKeys.length = base;
  }

  key(name: string): void {
    const top = this.containerNames.length - 1;
    const child = `${this.containerNames[top]}.${name}`;
    this.memberStarts.push(this.names.length);
    this.memberKeys.push(name);
    if (!this.indexKeys[top] && isArrayIndex(name)) this.indexKeys[top] = true;
    this.names.push(child);
    this.values.push(undefined);
    this.memberName = child;
  }

  string(value: string): void {
    const name = this.valueName();
    if (value === '') return;
    this.names.push(name);
    this.values.push(value);
  }

  number(text: string): void {
    this.names.push(this.valueName());
    this.values.push(numberText(text));
  }

  literal(value: boolean | null): void {
    const name = this.valueName();
    if (value === null) return;
    this.names.push(name);
    this.values.push(value ? 'true' : 'false');
  }

  /** The members from memberStarts[base] of the object being closed, array-index names first (ascending). */
  private reorderMembers(base: number): void {
    const count = this.memberStarts.length - base;
    const ranges: { key: string; start: number; end: number }[] = [];
    for (let k = 0; k < count; k++) {
      const start = this.memberStarts[base + k]!;
      const end = k + 1 < count ? this.memberStarts[base + k + 1]! : this.names.length;
      ranges.push({ key: this.memberKeys[base + k]!, start, end });
    }
    const indexed = ranges.filter((r) => isArrayIndex(r.key)).sort((a, b) => Number(a.key) - Number(b.key));
    const ordered = [...indexed, ...ranges.filter((r) => !isArrayIndex(r.key))];
    const first = ranges[0]!.start;
    const names = ordered.flatMap((r) => this.names.slice(r.start, r.end));
    const values = ordered.flatMap((r) => this.values.slice(r.start, r.end));
    this.names.splice(first, names.length, ...names);
    this.values.splice(first, values.length, ...values);
  }
}

/** Whether a member name is an array index (a canonical integer below 2^32 - 1), which JavaScript lists first. */
function isArrayIndex(name: string): boolean {
  const n = name.length;
  if (n === 0 || n > 10) return false;
  const c0 = name.charCodeAt(0);
  if (c0 === 0x30) return n === 1;
  for (let k = 0; k < n; k++) {
    const c = name.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false;
  }
  return Number(name) <= 4294967294;
}

/** `String(JSON.parse(text))` for a JSON number: integers of up to 15 digits print as written (except -0). */
function numberText(text: string): string {
  if (text.length <= 15 && text !== '-0') {
    let plain = true;
    for (let k = 0; k < text.length; k++) {
      const c = text.charCodeAt(k);
      if (c === 0x2e || c === 0x65 || c === 0x45) {
        plain = false;
        break;
      }
    }
    if (plain) return text;
  }
  return String(Number(text));
}

function addJson(sink: ValueSink, body: Uint8Array, limits: ScanLimits): void {
  const json = new JsonFlattener();
  const scanned = walkJson(body, limits.json, json);
  if (!scanned.ok) throw new BadBody(`JSON body: ${describeJsonGuardError(scanned.error)}`);
  const { names, values } = json;
  for (let k = 0; k < names.length; k++) {
    const value = values[k];
    if (value === undefined) sink.add('ARGS_POST_NAMES', '', names[k]!);
    else sink.add('ARGS_POST', names[k]!, value);
  }
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
  const contentType = headerValues(snapshot.headers, 'content-type')[0];
  const media = contentType === undefined ? undefined : parseMediaType(contentType);
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
