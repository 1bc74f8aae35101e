// The decision for one request: pure apart from the injected body reader, so every rule is unit-testable and
// the handler stays a thin RPC layer. Order (cheap rejects first, body read last and only when needed):
//   OpenAPI: operation (404/405) → Content-Length (400/413) → parameters → body presence (without
//   Content-Length: read, 413) → Content-Type (415; 400 when ambiguous) → body (413/400).
//   JSON Schema: Content-Length → query and headers → body presence → Content-Type (415) → body.
// All parameter and body violations of a request are reported together with 400. What is accepted must be what
// upstream parsers read (README "What is checked is what the upstream parses").
import type { OperationDeprecation } from './deprecation';
import type { ValidateFunction } from 'ajv';
import { isJsonMediaType, mediaRangeSpecificity, parseMediaType, type MediaType } from '../lib/media-type';
import { headerValues, type HeaderMultimap } from '../lib/pdk';
import { percentDecode, splitRawQuery } from '../lib/percent-encoding';
import { kongStringBytes } from '../lib/kong-strings';
import type { CompiledJsonSchemas } from './json-schema-mode';
import { findOperation, type CompiledApi, type CompiledOperation, type MediaEntry } from './openapi';
import {
  deserializeCookieParam,
  deserializeHeaderParam,
  deserializePathParam,
  deserializeQueryParam,
  bracketedAliases,
  indexQuery,
  parseCookies,
  type Deserialized,
  type ParamLocation,
} from './parameters';
import { normalizePathSegments, type RawPathParams } from './path-router';
import {
  bodyPresence,
  type BodyPresence,
  codePointLength,
  decodeFormBody,
  decodeJsonBody,
  decodeMultipartBody,
  type BodyLimits,
  type Decoded,
  type FormFields,
} from './request-body';
import { ajvViolations, VALIDATION_FAILED, type Rejection, type Violation } from './violations';
import { parseGuardedJson, describeJsonGuardError } from '../lib/json-guard';

export interface RequestSnapshot {
  method: string;
  /** Raw path and query as received (`kong.request.get_path_with_query`). */
  pathWithQuery: string;
  headers: HeaderMultimap;
}

/** Reads the body with an explicit limit (kong.request.getRawBody(limit)). Called at most once. */
export type BodyReader = (limit: number) => Promise<Uint8Array>;

/**
 * The operation the matcher resolved, as security events carry it (lib/security-event.ts `operation`): the
 * document's operationId and path template (below the server base path), and its `deprecated` flag.
 */
export interface MatchedOperation {
  id?: string;
  path_template: string;
  deprecated?: boolean;
}

/** `matched` (OpenAPI only): the resolved operation, or null when none matched (404/405, or let through). */
export type Verdict =
  | {
      action: 'pass';
      operation?: string;
      matched?: MatchedOperation | null;
      unmatched?: 'no-path' | 'no-method';
      deprecation?: OperationDeprecation;
    }
  | { action: 'reject'; operation?: string; matched?: MatchedOperation | null; rejection: Rejection };

export function matchedOperation(op: CompiledOperation): MatchedOperation {
  return {
    ...(op.operationId !== undefined ? { id: op.operationId } : {}),
    path_template: op.template,
    ...(op.deprecation?.deprecated === true ? { deprecated: true } : {}),
  };
}

export interface OpenApiPolicy {
  api: CompiledApi;
  unknownOperations: 'reject' | 'allow' | 'log';
  /** RFC 9745 / RFC 8594 headers on responses of deprecated operations. */
  deprecationHeaders?: boolean;
  /** Query parameters the operation does not declare are rejected. */
  rejectUnknownQuery: boolean;
}

const MESSAGES = {
  notFound: 'No API operation matches the request path',
  methodNotAllowed: 'Method not allowed',
  tooLarge: 'Request size limit exceeded',
  mediaType: 'Unsupported media type',
} as const;

function reject(status: number, message: string, violations: Violation[], operation?: string): Verdict {
  return { action: 'reject', operation, rejection: { status, message, violations } };
}

/** A refusal of a request that matched no operation (404/405): `matched` null. */
function withoutOperation(status: number, message: string, violations: Violation[]): Verdict {
  return { action: 'reject', matched: null, rejection: { status, message, violations } };
}

function splitPathWithQuery(pathWithQuery: string): { rawPath: string; rawQuery: string } {
  const q = pathWithQuery.indexOf('?');
  return q === -1
    ? { rawPath: pathWithQuery, rawQuery: '' }
    : { rawPath: pathWithQuery.slice(0, q), rawQuery: pathWithQuery.slice(q + 1) };
}

function tooLarge(limits: BodyLimits, operation?: string): Verdict {
  return reject(
    413,
    MESSAGES.tooLarge,
    [{ root: 'body', steps: [], rule: 'max-body-size', detail: `body larger than ${limits.maxBodySize} bytes` }],
    operation,
  );
}

/** Reads the body within the limit: bodies Kong keeps in memory come back whatever their size, so check again. */
async function readWithin(readBody: BodyReader, limits: BodyLimits): Promise<Uint8Array | undefined> {
  const bytes = await readBody(limits.maxBodySize);
  return bytes.length > limits.maxBodySize ? undefined : bytes;
}

const MIB = 1024 * 1024;

/**
 * The read limit for a body whose length no header announces (chunked, or HTTP/2 without Content-Length).
 * Kong's get_raw_body(limit) returns nil for a spooled body over the limit, which the plugin protocol turns
 * into a Lua error (500) before we can answer: reading up to a margin over max_body_size lets such a body get
 * its 413. Beyond the margin Kong still ends the request with 500 (refused either way); nginx's
 * client_max_body_size (Kong: nginx_http_client_max_body_size) should be set to this limit or less.
 */
export function unframedReadLimit(limits: BodyLimits): number {
  return Math.min(64 * MIB, Math.max(4 * limits.maxBodySize, MIB));
}

type BodyState = { present: false } | { present: true; bytes?: Uint8Array } | { tooLarge: true };

/**
 * Whether the request has a body. With Content-Length, the header says so; without (chunked, HTTP/2), the
 * body itself does: it is read (one getRawBody) and a request with an empty body has none.
 */
async function bodyState(
  presence: Extract<BodyPresence, { ok: true }>,
  readBody: BodyReader,
  limits: BodyLimits,
): Promise<BodyState> {
  if (presence.present !== 'unknown') return presence.present ? { present: true } : { present: false };
  const bytes = await readBody(unframedReadLimit(limits));
  if (bytes.length > limits.maxBodySize) return { tooLarge: true };
  return bytes.length === 0 ? { present: false } : { present: true, bytes };
}

function queryViolationsOfLimits(
  rawQuery: string,
  limits: BodyLimits,
): { pairs: ReturnType<typeof splitRawQuery>; violation?: Violation } {
  const pairs = splitRawQuery(rawQuery);
  if (pairs.length > limits.maxParameters) {
    return {
      pairs,
      violation: {
        root: 'query',
        steps: [],
        rule: 'max-parameters',
        detail: `more than ${limits.maxParameters} query parameters`,
      },
    };
  }
  for (const p of pairs) {
    const name = percentDecode(p.rawName, true) ?? '';
    if (codePointLength(name) > limits.json.maxKeyLength) {
      return {
        pairs,
        violation: {
          root: 'query',
          steps: [],
          rule: 'max-key-length',
          detail: `parameter name longer than ${limits.json.maxKeyLength} characters`,
        },
      };
    }
    const value = percentDecode(p.rawValue ?? '', true) ?? '';
    if (codePointLength(value) > limits.json.maxStringLength) {
      return {
        pairs,
        violation: {
          root: 'query',
          steps: [name],
          rule: 'max-string-length',
          detail: `value longer than ${limits.json.maxStringLength} characters`,
        },
      };
    }
  }
  return { pairs };
}

/** Parse a JSON-content parameter (`content: {application/json: …}`) with the same hardening as bodies. */
function parseJsonParam(text: string, loc: ParamLocation, name: string, limits: BodyLimits, out: Violation[]): unknown {
  // The bytes the client sent (a header's bytes that are not UTF-8 arrive escaped: plugins/lib/kong-strings.ts), so
  // the guard's strict UTF-8 check refuses them instead of reading U+FFFD.
  const r = parseGuardedJson(kongStringBytes(text), limits.json);
  if (r.ok) return r.value;
  out.push({ root: loc, steps: [name, ...r.error.path], rule: r.error.rule, detail: describeJsonGuardError(r.error) });
  return undefined;
}

function parameterViolations(
  op: CompiledOperation,
  rawPathParams: Record<string, string>,
  pairs: ReturnType<typeof splitRawQuery>,
  headers: HeaderMultimap,
  limits: BodyLimits,
  rejectUnknownQuery: boolean,
): Violation[] {
  const violations: Violation[] = [];
  const data: Record<ParamLocation, Record<string, unknown>> = { path: {}, query: {}, header: {}, cookie: {} };
  const query = indexQuery(pairs);
  if (query === undefined)
    return [
      { root: 'query', steps: [], rule: 'percent-encoding', detail: 'malformed percent-encoding in a parameter name' },
    ];
  const claimed = new Set<string>();
  let cookies: Map<string, string> | undefined;
  const styleFailed = new Set<string>();
  for (const spec of op.params) {
    let r: Deserialized | 'absent';
    switch (spec.in) {
      case 'path': {
        const raw = rawPathParams[spec.name];
        r = raw === undefined ? 'absent' : deserializePathParam(spec, raw);
        break;
      }
      case 'query':
        r = deserializeQueryParam(spec, query, claimed);
        break;
      case 'header':
        r = deserializeHeaderParam(spec, headerValues(headers, spec.name));
        break;
      case 'cookie':
        cookies ??= parseCookies(headerValues(headers, 'cookie'));
        r = deserializeCookieParam(spec, cookies);
        break;
    }
    if (r === 'absent') continue;
    if (!r.ok) {
      violations.push({
        root: spec.in,
        steps: [spec.name],
        rule: spec.in === 'query' && r.reason === 'empty value not allowed' ? 'allowEmptyValue' : 'style',
        detail: r.reason,
      });
      styleFailed.add(`${spec.in}/${spec.name}`);
      continue;
    }
    let value = r.value;
    if (spec.json && typeof value === 'string') {
      const before = violations.length;
      value = parseJsonParam(value, spec.in, spec.name, limits, violations);
      if (violations.length > before) {
        styleFailed.add(`${spec.in}/${spec.name}`);
        continue;
      }
    }
    data[spec.in][spec.name] = value;
  }
  const declared = new Set<string>();
  for (const spec of op.params) {
    if (spec.in !== 'query' || spec.style === 'deepObject') continue;
    declared.add(spec.name);
    // A parameter declared as `ids[]` (PHP-style documents): qs reads `ids[0]` as the same `ids`.
    const open = spec.name.indexOf('[');
    if (open > 0) declared.add(spec.name.slice(0, open));
    if (spec.shape === 'object' && spec.style === 'form' && spec.explode)
      for (const p of spec.objectProperties) declared.add(p);
  }
  const aliases = new Set(bracketedAliases(query, declared, claimed));
  for (const name of aliases) {
    const base = name.slice(0, name.indexOf('['));
    violations.push({
      root: 'query',
      steps: [name],
      rule: 'bracketed-alias',
      detail: `read as the parameter "${base}" by qs (Express) and PHP; not described by the API`,
    });
  }
  if (rejectUnknownQuery) {
    for (const name of query.byName.keys()) {
      if (claimed.has(name) || aliases.has(name)) continue;
      violations.push({
        root: 'query',
        steps: [name],
        rule: 'unknown-parameter',
        detail: 'parameter not defined for this operation',
      });
    }
  }
  if (op.validateParams !== undefined && !op.validateParams(data)) {
    for (const v of ajvViolations(op.validateParams.errors, undefined)) {
      // A parameter whose text could not even be deserialised is reported once, as such.
      if (v.rule === 'required' && styleFailed.has(`${v.root}/${String(v.steps[0])}`)) continue;
      violations.push(v);
    }
  }
  return violations;
}

function chooseMedia(entries: readonly MediaEntry[], mt: MediaType): MediaEntry | undefined {
  let best: MediaEntry | undefined;
  let bestScore = -1;
  for (const e of entries) {
    const score = mediaRangeSpecificity(e.range, mt);
    if (score > bestScore) {
      best = e;
      bestScore = score;
    }
  }
  return best;
}

type BodyKind = 'json' | 'form' | 'multipart' | 'other';

function bodyKind(mt: MediaType): BodyKind {
  if (isJsonMediaType(mt)) return 'json';
  if (mt.essence === 'application/x-www-form-urlencoded') return 'form';
  if (mt.essence === 'multipart/form-data') return 'multipart';
  return 'other';
}

function decodeBody(kind: BodyKind, bytes: Uint8Array, mt: MediaType, fields: FormFields, limits: BodyLimits): Decoded {
  switch (kind) {
    case 'json':
      return decodeJsonBody(bytes, limits.json);
    case 'form':
      return decodeFormBody(bytes, fields, limits);
    case 'multipart':
      return decodeMultipartBody(bytes, mt, fields, limits);
    case 'other':
      return { ok: true, value: undefined };
  }
}

function runValidator(validate: ValidateFunction, value: unknown): Violation[] {
  return validate(value) ? [] : ajvViolations(validate.errors, 'body');
}

/** The request's media type; `ambiguous` (400, not 415) when receivers could read it differently. */
function contentTypeOf(headers: HeaderMultimap): { mt?: MediaType; violation?: Violation; ambiguous?: true } {
  const values = headerValues(headers, 'content-type');
  if (values.length === 0)
    return {
      violation: {
        root: 'header',
        steps: ['content-type'],
        rule: 'required',
        detail: 'a request with a body needs a Content-Type',
      },
    };
  if (values.length > 1)
    return {
      violation: { root: 'header', steps: ['content-type'], rule: 'media-type', detail: 'more than one Content-Type' },
    };
  const mt = parseMediaType(values[0]!);
  if (mt === undefined)
    return {
      violation: { root: 'header', steps: ['content-type'], rule: 'media-type', detail: 'malformed Content-Type' },
    };
  if (mt.repeatedParams !== undefined) {
    // `boundary=a; boundary=b`: we would read the last, busboy (multer) reads the first.
    const detail = `Content-Type gives the parameter ${mt.repeatedParams.join(', ')} more than once (ambiguous)`;
    return { violation: { root: 'header', steps: ['content-type'], rule: 'media-type', detail }, ambiguous: true };
  }
  return { mt };
}

export async function validateOpenApiRequest(
  policy: OpenApiPolicy,
  req: RequestSnapshot,
  readBody: BodyReader,
  limits: BodyLimits,
): Promise<Verdict> {
  const { rawPath, rawQuery } = splitPathWithQuery(req.pathWithQuery);
  const method = req.method.toUpperCase();
  const segments = normalizePathSegments(rawPath);
  const match = segments === undefined ? ({ kind: 'no-path' } as const) : findOperation(policy.api, method, segments);
  if (match.kind !== 'found') {
    if (policy.unknownOperations !== 'reject') return { action: 'pass', matched: null, unmatched: match.kind };
    if (match.kind === 'no-path') {
      return withoutOperation(404, MESSAGES.notFound, [
        { root: 'request', steps: ['path'], rule: 'unknown-path', detail: 'the API description defines no such path' },
      ]);
    }
    const verdict = withoutOperation(405, MESSAGES.methodNotAllowed, [
      { root: 'request', steps: ['method'], rule: 'unknown-method', detail: `allowed: ${match.allow.join(', ')}` },
    ]);
    if (verdict.action === 'reject') verdict.rejection.headers = { Allow: match.allow.join(', ') };
    return verdict;
  }
  const verdict = await validateOperation(
    policy,
    match.operation,
    match.rawPathParams,
    rawQuery,
    req,
    readBody,
    limits,
  );
  verdict.matched = matchedOperation(match.operation);
  return verdict;
}

/** The checks of a request whose operation was found, in the order of the file header. */
async function validateOperation(
  policy: OpenApiPolicy,
  op: CompiledOperation,
  rawPathParams: RawPathParams,
  rawQuery: string,
  req: RequestSnapshot,
  readBody: BodyReader,
  limits: BodyLimits,
): Promise<Verdict> {
  const presence = bodyPresence(req.headers);
  if (!presence.ok) return reject(400, VALIDATION_FAILED, [presence.violation], op.label);
  if (presence.present === true && presence.length > limits.maxBodySize) return tooLarge(limits, op.label);

  const { pairs, violation: queryLimit } = queryViolationsOfLimits(rawQuery, limits);
  if (queryLimit !== undefined) return reject(400, VALIDATION_FAILED, [queryLimit], op.label);
  const violations = parameterViolations(op, rawPathParams, pairs, req.headers, limits, policy.rejectUnknownQuery);

  const body = await bodyState(presence, readBody, limits);
  if ('tooLarge' in body) return tooLarge(limits, op.label);
  if (op.body === undefined) {
    if (body.present)
      violations.push({
        root: 'body',
        steps: [],
        rule: 'unexpected-body',
        detail: 'this operation defines no request body',
      });
  } else if (!body.present) {
    if (op.body.required)
      violations.push({ root: 'body', steps: [], rule: 'required', detail: 'this operation requires a request body' });
  } else if (op.body.media.length > 0) {
    const ct = contentTypeOf(req.headers);
    if (ct.ambiguous) return reject(400, VALIDATION_FAILED, [ct.violation!], op.label);
    const entry = ct.mt === undefined ? undefined : chooseMedia(op.body.media, ct.mt);
    if (ct.mt === undefined || entry === undefined) {
      const expected = op.body.media.map((m) => m.range).join(', ');
      const v = ct.violation ?? {
        root: 'header',
        steps: ['content-type'],
        rule: 'media-type',
        detail: `expected one of: ${expected}`,
      };
      return reject(415, MESSAGES.mediaType, [v], op.label);
    }
    const kind = bodyKind(ct.mt);
    const validate =
      kind === 'json' ? entry.validateJson : kind === 'form' || kind === 'multipart' ? entry.validateForm : undefined;
    if (validate !== undefined) {
      const bytes = body.bytes ?? (await readWithin(readBody, limits));
      if (bytes === undefined) return tooLarge(limits, op.label);
      const decoded = decodeBody(kind, bytes, ct.mt, entry.form, limits);
      if (!decoded.ok) violations.push(...decoded.violations);
      else violations.push(...runValidator(validate, decoded.value));
    }
  }
  if (violations.length > 0) return reject(400, VALIDATION_FAILED, violations, op.label);
  return { action: 'pass', operation: op.label, ...(op.deprecation ? { deprecation: op.deprecation } : {}) };
}

export interface JsonSchemaPolicy {
  schemas: CompiledJsonSchemas;
  /** Media ranges a body may have (JSON types). */
  contentTypes: readonly string[];
  bodyRequired: boolean;
}

/** Query → `{name: value}` (repeated names → arrays; `?flag` → ""). */
function queryObject(pairs: ReturnType<typeof splitRawQuery>): {
  value?: Record<string, unknown>;
  violation?: Violation;
} {
  const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const p of pairs) {
    const name = percentDecode(p.rawName, true);
    const value = percentDecode(p.rawValue ?? '', true);
    if (name === undefined || value === undefined)
      return {
        violation: { root: 'query', steps: [], rule: 'percent-encoding', detail: 'malformed percent-encoding' },
      };
    const prev = obj[name];
    obj[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return { value: { ...obj } };
}

/** Headers → `{lower-case name: value}` (repeated headers → arrays). */
function headerObject(headers: HeaderMultimap): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const [name, values] of Object.entries(headers)) {
    const list = Array.isArray(values) ? values : [values];
    obj[name.toLowerCase()] = list.length === 1 ? list[0] : list;
  }
  return obj;
}

export async function validateJsonSchemaRequest(
  policy: JsonSchemaPolicy,
  req: RequestSnapshot,
  readBody: BodyReader,
  limits: BodyLimits,
): Promise<Verdict> {
  const { schemas } = policy;
  const presence = bodyPresence(req.headers);
  if (!presence.ok) return reject(400, VALIDATION_FAILED, [presence.violation]);
  if (schemas.body !== undefined && presence.present === true && presence.length > limits.maxBodySize)
    return tooLarge(limits);
  const violations: Violation[] = [];
  if (schemas.query !== undefined) {
    const { pairs, violation } = queryViolationsOfLimits(splitPathWithQuery(req.pathWithQuery).rawQuery, limits);
    if (violation !== undefined) return reject(400, VALIDATION_FAILED, [violation]);
    const q = queryObject(pairs);
    if (q.violation !== undefined) violations.push(q.violation);
    else {
      for (const name of Object.keys(q.value!)) {
        const open = name.indexOf('[');
        if (
          open <= 0 ||
          schemas.queryProperties?.has(name) === true ||
          schemas.queryProperties?.has(name.slice(0, open)) !== true
        )
          continue;
        violations.push({
          root: 'query',
          steps: [name],
          rule: 'bracketed-alias',
          detail: `read as the parameter "${name.slice(0, open)}" by qs (Express) and PHP; not described by the schema`,
        });
      }
      if (!schemas.query(q.value)) violations.push(...ajvViolations(schemas.query.errors, 'query'));
    }
  }
  if (schemas.headers !== undefined && !schemas.headers(headerObject(req.headers))) {
    violations.push(...ajvViolations(schemas.headers.errors, 'header'));
  }
  if (schemas.body !== undefined) {
    const body = await bodyState(presence, readBody, limits);
    if ('tooLarge' in body) return tooLarge(limits);
    if (!body.present) {
      if (policy.bodyRequired)
        violations.push({ root: 'body', steps: [], rule: 'required', detail: 'a request body is required' });
    } else {
      const ct = contentTypeOf(req.headers);
      if (ct.ambiguous) return reject(400, VALIDATION_FAILED, [ct.violation!]);
      const accepted = ct.mt !== undefined && policy.contentTypes.some((r) => mediaRangeSpecificity(r, ct.mt!) > 0);
      if (!accepted) {
        const v = ct.violation ?? {
          root: 'header',
          steps: ['content-type'],
          rule: 'media-type',
          detail: `expected one of: ${policy.contentTypes.join(', ')}`,
        };
        return reject(415, MESSAGES.mediaType, [v]);
      }
      const bytes = body.bytes ?? (await readWithin(readBody, limits));
      if (bytes === undefined) return tooLarge(limits);
      const decoded = decodeJsonBody(bytes, limits.json);
      if (!decoded.ok) violations.push(...decoded.violations);
      else violations.push(...runValidator(schemas.body, decoded.value));
    }
  }
  if (violations.length > 0) return reject(400, VALIDATION_FAILED, violations);
  return { action: 'pass' };
}
