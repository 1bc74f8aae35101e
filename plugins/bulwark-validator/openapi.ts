// An OpenAPI 3.0/3.1 document loaded into what a request is checked against: a path router and, per
// operation, the parameter specs with ONE validator for all its parameters and one validator per request-body
// media type. A document that does not load is a ConfigError naming where
// (`paths./pets.post.requestBody.content.application/json.schema...`).
//
// How schemas are compiled: the document (with its Schema Objects converted to the Ajv draft, see
// schema-dialect.ts) is added to Ajv under DOCUMENT_ID; each validator is `{$ref: DOCUMENT_ID#<pointer>}`, so a
// `$ref: '#/components/schemas/Pet'` anywhere resolves inside the same document.
//
// When: at load, the document is parsed, converted, every Schema Object is checked against its meta-schema, every
// `pattern` against the RE2 engine and every local `$ref` for a target — all linear walks. Ajv's code generation
// (milliseconds per operation: GitHub's 1,223 operations took 4–7 s, during which the event loop that every
// plugin shares was blocked and Kong gives up on an instance after 10 s) happens per operation on its first
// request, once: all validators of that operation together. An operation whose schemas do not compile answers
// every request with 500 (OperationCompileError, cached: compiled once, never retried). `precompile: true` compiles
// every operation at load instead.
//
// Lenient load (`load_mode: lenient`): meta-schema and RE2 violations are collected as `problems` (logged by
// the handler) instead of refusing the document; Ajv then compiles what it can, operation by operation.
import type { ValidateFunction } from 'ajv';
import { ConfigError } from '../lib/config';
import { readDeprecation, type OperationDeprecation } from './deprecation';
import { parseMediaType, isJsonMediaType } from '../lib/media-type';
import { createAjv, metaSchemaValidator, runBounded, type AjvDialect, type AjvInstance } from './ajv-setup';
import {
  compareSpecificity,
  compileTemplate,
  matchPrefix,
  matchTemplate,
  serverBasePath,
  type PathTemplate,
  type RawPathParams,
} from './path-router';
import { STYLES, type ParamLocation, type ParamShape, type ParamSpec, type ParamStyle } from './parameters';
import type { FormFields } from './request-body';
import {
  convertOas30Schema,
  convertOas31Schema,
  forEachSubschema,
  guardAllNumberText,
  isObject,
  patternProblems,
  pointerToken,
  type JsonObject,
  type SchemaProblem,
} from './schema-dialect';

export const DOCUMENT_ID = 'https://bulwark-validator.invalid/openapi.json';

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** OAS: these header "parameters" are ignored (Accept, Content-Type and Authorization are described elsewhere). */
const IGNORED_HEADER_PARAMS = new Set(['accept', 'content-type', 'authorization']);

const OAS31_DIALECTS = new Set([
  'https://spec.openapis.org/oas/3.1/dialect/base',
  'https://json-schema.org/draft/2020-12/schema',
]);

export type OpenApiVersion = '3.0' | '3.1';

export interface MediaEntry {
  /** The media range as written in the document, lower-case. */
  range: string;
  /** For JSON bodies (no type coercion). */
  validateJson?: ValidateFunction;
  /** For form-urlencoded and multipart bodies (string values coerced like parameters). */
  validateForm?: ValidateFunction;
  form: FormFields;
}

/** An operation whose schemas Ajv could not compile; thrown by each of its validators, every time. */
export class OperationCompileError extends Error {
  constructor(
    readonly operation: string,
    readonly location: string,
    readonly reason: string,
  ) {
    super(`operation ${operation}: ${location}: ${reason}`);
    this.name = 'OperationCompileError';
  }
}

export interface CompiledOperation {
  method: string;
  template: string;
  /** `POST /pets` or the operationId, for logs. */
  label: string;
  /** The document's operationId, when it gives one. */
  operationId?: string;
  params: ParamSpec[];
  /**
   * Validates `{path:{…}, query:{…}, header:{…}, cookie:{…}}`. Its first call compiles all validators of the
   * operation (it is always set, so that a request without parameters still meets a compile failure).
   */
  validateParams?: ValidateFunction;
  /** Compiles the operation's validators now (what the first request would do); throws OperationCompileError. */
  compileNow(): void;
  body?: { required: boolean; media: MediaEntry[] };
  /** deprecated / x-deprecation-date / x-sunset of the operation (deprecation.ts). */
  deprecation?: OperationDeprecation;
}

interface PathEntry {
  template: PathTemplate;
  methods: Map<string, CompiledOperation>;
}

export interface CompiledApi {
  version: OpenApiVersion;
  /** Base paths, longest first. */
  bases: PathTemplate[];
  /** Path templates, most specific first. */
  paths: PathEntry[];
  operationCount: number;
  /** Meta-schema and regex problems a lenient load let through, in document order (empty when strict). */
  problems: SchemaProblem[];
  /** Every operation, for precompile and tests. */
  operations: CompiledOperation[];
}

export interface OpenApiOptions {
  /** Overrides the base paths taken from the document's `servers`. */
  basePaths?: string[];
  /** The parts to validate. */
  validate: ReadonlySet<ParamLocation | 'body'>;
  /** Record meta-schema / regex violations as problems instead of refusing the document. */
  lenient?: boolean;
  /** Compile every operation at load (else: on first use). */
  precompile?: boolean;
}

/** Dotted location of a JSON pointer for messages: `/paths/~1pets/post` → `paths./pets.post`. */
export function pointerLocation(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function pointerGet(doc: unknown, pointer: string): unknown {
  let node: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isObject(node)) node = Object.prototype.hasOwnProperty.call(node, token) ? node[token] : undefined;
    else return undefined;
  }
  return node;
}

/** A local reference `#/a/b` → its JSON pointer `/a/b`; ConfigError for anything else. */
function localPointer(ref: string, atPointer: string): string {
  // The location string is built only for an error (this runs for every referenced parameter of a document).
  const at = () => `${pointerLocation(atPointer)}.$ref`;
  if (!ref.startsWith('#')) throw new ConfigError(at(), 'only references inside the document (#/...) are supported');
  let fragment: string;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    throw new ConfigError(at(), 'malformed $ref');
  }
  if (fragment !== '' && !fragment.startsWith('/'))
    throw new ConfigError(at(), 'only JSON-pointer references are supported');
  return fragment;
}

interface Located<T> {
  value: T;
  pointer: string;
}

/** Follow `$ref`s of non-schema objects (Parameter, Request Body, Path Item). */
function follow(doc: unknown, value: unknown, pointer: string): Located<JsonObject> {
  let current = value;
  let at = pointer;
  for (let hops = 0; hops < 32; hops++) {
    if (!isObject(current)) throw new ConfigError(pointerLocation(at), 'expected an object');
    if (typeof current.$ref !== 'string') return { value: current, pointer: at };
    const target = localPointer(current.$ref, at);
    const next = pointerGet(doc, target);
    if (next === undefined) throw new ConfigError(`${pointerLocation(at)}.$ref`, 'reference does not resolve');
    current = next;
    at = target;
  }
  throw new ConfigError(pointerLocation(pointer), 'reference chain too long (a cycle?)');
}

/** A schema's `$ref` chain followed to the schema it names (for shape and property inspection only). */
function derefSchema(doc: unknown, schema: unknown): unknown {
  let s = schema;
  for (let hops = 0; hops < 32 && isObject(s) && typeof s.$ref === 'string'; hops++) {
    if (!s.$ref.startsWith('#')) return undefined;
    try {
      s = pointerGet(doc, decodeURIComponent(s.$ref.slice(1)));
    } catch {
      return undefined;
    }
  }
  return s;
}

function schemaTypes(schema: unknown): string[] {
  if (!isObject(schema)) return [];
  if (typeof schema.type === 'string') return [schema.type];
  if (Array.isArray(schema.type)) return schema.type.filter((t): t is string => typeof t === 'string' && t !== 'null');
  return [];
}

function shapeOf(doc: unknown, schema: unknown): ParamShape {
  const s = derefSchema(doc, schema);
  const types = schemaTypes(s);
  if (types[0] === 'array') return 'array';
  if (types[0] === 'object') return 'object';
  if (types.length === 0 && isObject(s)) {
    if ('items' in s || 'prefixItems' in s) return 'array';
    if ('properties' in s || 'additionalProperties' in s) return 'object';
  }
  return 'primitive';
}

function formFields(doc: unknown, schema: unknown, encoding: unknown): FormFields {
  const arrays = new Set<string>();
  const json = new Set<string>();
  const binary = new Set<string>();
  const s = derefSchema(doc, schema);
  const props = isObject(s) && isObject(s.properties) ? s.properties : {};
  for (const [name, propSchema] of Object.entries(props)) {
    const p = derefSchema(doc, propSchema);
    const types = schemaTypes(p);
    if (types[0] === 'array') {
      arrays.add(name);
      const items = isObject(p) ? derefSchema(doc, p.items) : undefined;
      if (schemaTypes(items)[0] === 'object') json.add(name);
    } else if (types[0] === 'object') {
      json.add(name);
    }
    if (
      isObject(p) &&
      (p.format === 'binary' || p.format === 'byte' || 'contentMediaType' in p || 'contentEncoding' in p)
    )
      binary.add(name);
  }
  const deep = new Map<string, unknown>();
  if (isObject(encoding)) {
    for (const [name, enc] of Object.entries(encoding)) {
      // Stripe-style `metadata[k]=v`, `line_items[0][price]=v` (form-urlencoded bodies; bracket-names.ts).
      if (isObject(enc) && enc.style === 'deepObject' && name in props) deep.set(name, props[name]);
      if (!isObject(enc) || typeof enc.contentType !== 'string') continue;
      const mt = parseMediaType(enc.contentType.split(',')[0]!);
      if (mt !== undefined && isJsonMediaType(mt)) json.add(name);
    }
  }
  return { arrays, json, binary, properties: new Set(Object.keys(props)), deep, resolve: (x) => derefSchema(doc, x) };
}

class Compiler {
  readonly version: OpenApiVersion;
  readonly dialect: AjvDialect;
  /** Only the converted schemas a request can reach, at their pointers (see ensureConverted). */
  readonly converted: JsonObject = {};
  readonly bodyAjv: AjvInstance;
  readonly paramAjv: AjvInstance;

  readonly problems: SchemaProblem[] = [];

  constructor(
    readonly original: JsonObject,
    readonly lenient: boolean,
  ) {
    const v = original.openapi;
    if (typeof original.swagger === 'string')
      throw new ConfigError('swagger', 'Swagger 2.0 documents are not supported: convert to OpenAPI 3');
    if (typeof v !== 'string' || !/^3\.[01]\.\d+/.test(v))
      throw new ConfigError('openapi', 'expected an OpenAPI 3.0.x or 3.1.x document');
    this.version = v.startsWith('3.0') ? '3.0' : '3.1';
    if (this.version === '3.1' && original.jsonSchemaDialect !== undefined) {
      if (typeof original.jsonSchemaDialect !== 'string' || !OAS31_DIALECTS.has(original.jsonSchemaDialect)) {
        throw new ConfigError('jsonSchemaDialect', 'only the OAS 3.1 base dialect (JSON Schema 2020-12) is supported');
      }
    }
    if (!isObject(original.paths) && original.paths !== undefined) throw new ConfigError('paths', 'expected an object');
    this.dialect = this.version === '3.0' ? 'draft-07' : '2020-12';
    this.bodyAjv = createAjv(this.dialect, false);
    this.paramAjv = createAjv(this.dialect, true);
  }

  /**
   * After every operation was read (and so every schema a request can reach converted): meta-validate them and
   * hand the converted skeleton to Ajv. Nothing is compiled yet.
   */
  finish(): void {
    this.metaValidateAll();
    for (const ajv of [this.bodyAjv, this.paramAjv]) {
      try {
        // The skeleton is not itself a schema; its Schema Objects were meta-validated one by one.
        ajv.addSchema(this.converted, DOCUMENT_ID, undefined, false);
      } catch (err) {
        throw new ConfigError('openapi', `document cannot be loaded as a schema resource: ${(err as Error).message}`);
      }
    }
  }

  /** Strict: the first problem refuses the document. Lenient: it is recorded and loading goes on. */
  private problem(location: string, message: string): void {
    if (!this.lenient) throw new ConfigError(location, message);
    this.problems.push({ location, message });
  }

  private readonly schemaPointers: string[] = [];
  private readonly convertedPointers = new Set<string>();

  /**
   * The schema at `pointer` and every schema its local `$ref`s reach, converted (schema-dialect.ts) into the
   * skeleton `converted`, which holds only such schemas at their original locations: Ajv and the meta-schema
   * check never see the rest of the document (descriptions, responses, examples: most of a large document).
   */
  ensureConverted(pointer: string): void {
    const queue = [pointer];
    while (queue.length > 0) {
      const next = queue.pop()!;
      if (this.convertedPointers.has(next)) continue;
      this.convertedPointers.add(next);
      const schema = pointerGet(this.original, next);
      if (schema === undefined) continue; // a dangling $ref: checkRefs reports it
      this.convertAt(next, schema);
      forEachSubschema(schema, (sub) => {
        if (typeof sub.$ref !== 'string' || !sub.$ref.startsWith('#/')) return;
        try {
          queue.push(decodeURIComponent(sub.$ref.slice(1)));
        } catch {
          // malformed: checkRefs reports it
        }
      });
    }
  }

  /** Converts one Schema Object into the skeleton, and remembers it for meta-validation. */
  private convertAt(pointer: string, schema: unknown): void {
    const resolve = (ref: string) => (ref.startsWith('#') ? derefSchema(this.original, { $ref: ref }) : undefined);
    const at = pointerLocation(pointer);
    const converted = guardAllNumberText(
      this.version === '3.0' ? convertOas30Schema(schema, at, resolve) : convertOas31Schema(schema, at, resolve),
    );
    const tokens = pointer
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    let node: JsonObject = this.converted;
    for (const token of tokens.slice(0, -1)) {
      const child = node[token];
      if (isObject(child)) node = child;
      else node = node[token] = {};
    }
    node[tokens[tokens.length - 1]!] = converted;
    this.schemaPointers.push(pointer);
  }

  /**
   * Each Schema Object against its draft's meta-schema (so that a typo fails at start with its location), its
   * patterns against RE2, and its local `$ref`s for a target (Ajv would only find a dangling one when the
   * operation is compiled, on first use).
   */
  private metaValidateAll(): void {
    const meta = metaSchemaValidator(this.dialect);
    for (const pointer of this.schemaPointers) {
      const schema = pointerGet(this.converted, pointer);
      const at = pointerLocation(pointer);
      if (typeof schema === 'boolean') continue;
      let valid: boolean;
      try {
        valid = meta.validateSchema(schema as object) as boolean;
      } catch (err) {
        this.problem(at, (err as Error).message);
        continue;
      }
      if (!valid) {
        // Ajv's allErrors lists every branch of a failed anyOf; the `anyOf` summary says nothing more.
        const errors = (meta.errors ?? []).filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
        for (const e of this.lenient ? errors : errors.slice(0, 1)) {
          const inner = pointerLocation(e.instancePath);
          this.problem(
            `${at}${inner === '' ? '' : `.${inner}`}`,
            `invalid schema: ${e.message ?? 'does not match the meta-schema'}`,
          );
        }
        if (errors.length === 0) this.problem(at, 'invalid schema: does not match the meta-schema');
      }
      for (const p of patternProblems(schema, at)) this.problem(p.location, p.message);
      this.checkRefs(schema, at);
    }
  }

  private checkRefs(schema: unknown, at: string): void {
    forEachSubschema(
      schema,
      (s, a) => {
        if (typeof s.$ref === 'string') {
          const ref = s.$ref;
          if (!ref.startsWith('#')) {
            // 3.1 schemas may name other resources by $id; Ajv resolves those (or fails) at compile time.
            if (this.version === '3.0')
              this.problem(`${a}.$ref`, 'only references inside the document (#/...) are supported');
          } else {
            let target: unknown;
            try {
              target = pointerGet(this.original, decodeURIComponent(ref.slice(1)));
            } catch {
              target = undefined;
            }
            // `#name` (an $anchor) is not a JSON pointer: left to Ajv.
            if (target === undefined && (ref === '#' || ref.startsWith('#/')))
              this.problem(`${a}.$ref`, `reference ${ref} does not resolve`);
          }
        }
      },
      at,
    );
  }

  compile(ajv: AjvInstance, schema: object, location: string, operation: string): ValidateFunction {
    try {
      return ajv.compile(schema);
    } catch (err) {
      throw new OperationCompileError(operation, location, `schema does not compile: ${(err as Error).message}`);
    }
  }

  /** A reference to a location in the document: JSON-pointer tokens, URI-encoded for the fragment. */
  ref(pointer: string): { $ref: string } {
    return { $ref: `${DOCUMENT_ID}#${pointer.split('/').map(encodeURIComponent).join('/')}` };
  }
}

function paramSpec(c: Compiler, located: Located<JsonObject>): { spec: ParamSpec; schemaPointer: string | undefined } {
  const p = located.value;
  const at = { toString: () => pointerLocation(located.pointer) }; // built only for an error
  if (typeof p.name !== 'string' || p.name === '') throw new ConfigError(`${at}.name`, 'expected a non-empty string');
  const loc = p.in;
  if (loc !== 'path' && loc !== 'query' && loc !== 'header' && loc !== 'cookie')
    throw new ConfigError(`${at}.in`, 'expected path, query, header or cookie');
  const styles = STYLES[loc];
  const style = (p.style ?? styles.default) as ParamStyle;
  if (!styles.allowed.includes(style))
    throw new ConfigError(`${at}.style`, `expected one of: ${styles.allowed.join(', ')}`);
  let schemaPointer: string | undefined;
  let json = false;
  if ('schema' in p) {
    schemaPointer = `${located.pointer}/schema`;
  } else if (isObject(p.content)) {
    const [mt] = Object.keys(p.content);
    if (mt !== undefined) {
      const media = p.content[mt];
      const parsed = parseMediaType(mt);
      json = parsed !== undefined && isJsonMediaType(parsed);
      if (isObject(media) && 'schema' in media && json)
        schemaPointer = `${located.pointer}/content/${pointerToken(mt)}/schema`;
    }
  }
  if (schemaPointer !== undefined) c.ensureConverted(schemaPointer);
  const converted = schemaPointer === undefined ? undefined : pointerGet(c.converted, schemaPointer);
  const target = derefSchema(c.converted, converted);
  // deepObject only describes objects; the schema may say so only through anyOf/oneOf (Stripe's `created`).
  const shape = json ? 'primitive' : style === 'deepObject' ? 'object' : shapeOf(c.converted, converted);
  const props = isObject(target) && isObject(target.properties) ? Object.keys(target.properties) : [];
  return {
    spec: {
      name: loc === 'header' ? p.name.toLowerCase() : p.name,
      in: loc,
      required: loc === 'path' ? true : p.required === true,
      style,
      explode: typeof p.explode === 'boolean' ? p.explode : style === 'form',
      shape,
      allowEmptyValue: p.allowEmptyValue === true,
      objectProperties: props,
      objectOpen: !(isObject(target) && target.additionalProperties === false),
      json,
      ...(style === 'deepObject'
        ? { deepSchema: converted, resolve: (x: unknown) => derefSchema(c.converted, x) }
        : {}),
    },
    schemaPointer,
  };
}

/** A validator for an operation without parameters to check. */
const ACCEPT_ALL = Object.assign(() => true, { errors: null }) as unknown as ValidateFunction;

/** The compile state of one operation: not yet, done, or failed (the failure is kept and thrown again). */
class LazyOperation {
  private failure: OperationCompileError | undefined;
  private done = false;

  constructor(
    private readonly label: string,
    private readonly tasks: (() => void)[],
  ) {}

  ensure(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.done) return;
    try {
      for (const task of this.tasks) task();
    } catch (err) {
      this.failure =
        err instanceof OperationCompileError
          ? err
          : new OperationCompileError(this.label, 'schemas', (err as Error).message);
      this.tasks.length = 0;
      throw this.failure;
    }
    this.done = true;
    this.tasks.length = 0; // the closures hold schema fragments: free them
  }

  /** A ValidateFunction look-alike: compiles the operation on first call, then delegates (errors included). */
  validator(get: () => ValidateFunction): ValidateFunction {
    const wrapper = (data: unknown): boolean => {
      this.ensure();
      const r = runBounded(get(), data);
      wrapper.errors = r.errors;
      return r.valid;
    };
    wrapper.errors = null as ValidateFunction['errors'];
    return wrapper as unknown as ValidateFunction;
  }
}

function compileOperation(
  c: Compiler,
  method: string,
  template: string,
  itemParams: unknown,
  op: JsonObject,
  opPointer: string,
  itemPointer: string,
  options: OpenApiOptions,
): CompiledOperation {
  const byKey = new Map<string, { spec: ParamSpec; schemaPointer: string | undefined }>();
  const collect = (list: unknown, listPointer: string) => {
    if (list === undefined) return;
    if (!Array.isArray(list)) throw new ConfigError(pointerLocation(listPointer), 'expected an array');
    list.forEach((entry, i) => {
      const located = follow(c.original, entry, `${listPointer}/${i}`);
      const info = paramSpec(c, located);
      if (info.spec.in === 'header' && IGNORED_HEADER_PARAMS.has(info.spec.name)) return;
      byKey.set(`${info.spec.in}:${info.spec.name}`, info); // operation-level parameters override path-level ones
    });
  };
  collect(itemParams, `${itemPointer}/parameters`);
  collect(op.parameters, `${opPointer}/parameters`);

  const params: ParamSpec[] = [];
  const groups: Record<ParamLocation, { properties: JsonObject; required: string[] }> = {
    path: { properties: {}, required: [] },
    query: { properties: {}, required: [] },
    header: { properties: {}, required: [] },
    cookie: { properties: {}, required: [] },
  };
  let anySchema = false;
  for (const { spec, schemaPointer } of byKey.values()) {
    if (!options.validate.has(spec.in)) continue;
    params.push(spec);
    const group = groups[spec.in];
    group.properties[spec.name] = schemaPointer === undefined ? {} : c.ref(schemaPointer);
    if (spec.required) group.required.push(spec.name);
    anySchema = true;
  }
  const label = typeof op.operationId === 'string' ? op.operationId : `${method.toUpperCase()} ${template}`;
  // Ajv compiles on first use (see the header); `tasks` are run together, once.
  const tasks: (() => void)[] = [];
  const lazy = new LazyOperation(label, tasks);
  const compiled: CompiledOperation = {
    method,
    template,
    label,
    ...(typeof op.operationId === 'string' ? { operationId: op.operationId } : {}),
    params,
    compileNow: () => lazy.ensure(),
  };
  const deprecation = readDeprecation(op, pointerLocation(opPointer));
  if (deprecation) compiled.deprecation = deprecation;
  let paramsValidator: ValidateFunction | undefined;
  if (anySchema) {
    const properties: JsonObject = {};
    for (const loc of Object.keys(groups) as ParamLocation[]) {
      const g = groups[loc];
      if (Object.keys(g.properties).length === 0) continue;
      properties[loc] = {
        type: 'object',
        properties: g.properties,
        ...(g.required.length > 0 ? { required: g.required } : {}),
      };
    }
    tasks.push(
      () =>
        (paramsValidator = c.compile(
          c.paramAjv,
          { type: 'object', properties },
          `${pointerLocation(opPointer)}.parameters`,
          label,
        )),
    );
  }
  compiled.validateParams = lazy.validator(() => paramsValidator ?? ACCEPT_ALL);

  if (op.requestBody !== undefined) {
    const located = follow(c.original, op.requestBody, `${opPointer}/requestBody`);
    const rb = located.value;
    const media: MediaEntry[] = [];
    const content = isObject(rb.content) ? rb.content : {};
    for (const [range, entry] of Object.entries(content)) {
      const mtPointer = `${located.pointer}/content/${pointerToken(range)}`;
      const lower = range.toLowerCase();
      const e: MediaEntry = { range: lower, form: { arrays: new Set(), json: new Set(), binary: new Set() } };
      if (isObject(entry) && 'schema' in entry && options.validate.has('body')) {
        const schemaPointer = `${mtPointer}/schema`;
        c.ensureConverted(schemaPointer);
        const converted = pointerGet(c.converted, schemaPointer);
        const essence = lower.split(';')[0]!.trim();
        const wildcard = essence.includes('*');
        const parsed = wildcard ? undefined : parseMediaType(essence);
        const isJson = parsed !== undefined && isJsonMediaType(parsed);
        const isForm =
          essence === 'application/x-www-form-urlencoded' ||
          essence === 'multipart/form-data' ||
          essence.startsWith('multipart/');
        if (isJson || wildcard) {
          let fn: ValidateFunction | undefined;
          tasks.push(() => (fn = c.compile(c.bodyAjv, c.ref(schemaPointer), pointerLocation(schemaPointer), label)));
          e.validateJson = lazy.validator(() => fn!);
        }
        if (isForm || wildcard) {
          let fn: ValidateFunction | undefined;
          tasks.push(() => (fn = c.compile(c.paramAjv, c.ref(schemaPointer), pointerLocation(schemaPointer), label)));
          e.validateForm = lazy.validator(() => fn!);
          e.form = formFields(c.converted, converted, entry.encoding);
        }
      }
      media.push(e);
    }
    compiled.body = { required: rb.required === true, media };
  }
  return compiled;
}

/** Compile a parsed OpenAPI document. Throws ConfigError naming the location of the first problem. */
export function compileOpenApi(doc: unknown, options: OpenApiOptions): CompiledApi {
  if (!isObject(doc)) throw new ConfigError('openapi', 'expected an OpenAPI document (an object)');
  const c = new Compiler(doc, options.lenient === true);
  const operations: CompiledOperation[] = [];
  const paths: PathEntry[] = [];
  let operationCount = 0;
  const docPaths = isObject(doc.paths) ? doc.paths : {};
  for (const [template, rawItem] of Object.entries(docPaths)) {
    if (!template.startsWith('/')) throw new ConfigError(`paths.${template}`, "a path template must start with '/'");
    const itemPointer = `/paths/${pointerToken(template)}`;
    const located = follow(doc, rawItem, itemPointer);
    const item = located.value;
    const methods = new Map<string, CompiledOperation>();
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      if (!isObject(op))
        throw new ConfigError(`${pointerLocation(itemPointer)}.${method}`, 'expected an Operation Object');
      const compiled = compileOperation(
        c,
        method,
        template,
        item.parameters,
        op,
        `${located.pointer}/${method}`,
        located.pointer,
        options,
      );
      methods.set(method.toUpperCase(), compiled);
      operations.push(compiled);
      operationCount++;
    }
    paths.push({ template: compileTemplate(template), methods });
  }
  paths.sort((a, b) => compareSpecificity(a.template, b.template));
  c.finish();

  let basePaths = options.basePaths;
  if (basePaths === undefined || basePaths.length === 0) {
    const servers = Array.isArray(doc.servers) ? doc.servers : [];
    basePaths = servers.length === 0 ? [''] : [];
    for (const [i, server] of servers.entries()) {
      if (!isObject(server) || typeof server.url !== 'string')
        throw new ConfigError(`servers[${i}].url`, 'expected a string');
      basePaths.push(serverBasePath(server.url));
    }
  }
  const bases = [...new Set(basePaths.map((b) => b.replace(/\/+$/, '')))].map((b) => {
    // Server variables in the path part match one segment (restricted to their enum when there is one).
    const vars: Record<string, ReadonlySet<string> | undefined> = {};
    for (const server of Array.isArray(doc.servers) ? doc.servers : []) {
      if (!isObject(server) || !isObject(server.variables)) continue;
      for (const [name, v] of Object.entries(server.variables)) {
        if (isObject(v) && Array.isArray(v.enum)) vars[name] = new Set(v.enum.map(String));
      }
    }
    return compileTemplate(b === '' ? '/' : b, vars);
  });
  bases.sort((a, b) => b.segments.length - a.segments.length);
  if (options.precompile === true) {
    for (const op of operations) {
      try {
        op.compileNow();
      } catch (err) {
        if (!(err instanceof OperationCompileError)) throw err;
        // Strict: refuse the document at load, as before lazy compilation. Lenient: the operation answers 500.
        if (options.lenient !== true) throw new ConfigError(err.location, err.reason);
        c.problems.push({ location: err.location, message: err.message });
      }
    }
  }
  return { version: c.version, bases, paths, operationCount, problems: c.problems, operations };
}

export type OperationMatch =
  | { kind: 'found'; operation: CompiledOperation; rawPathParams: RawPathParams }
  | { kind: 'no-path' }
  | { kind: 'no-method'; allow: string[] };

/** The operation for a method and normalised path segments (HEAD falls back to GET, as HTTP servers do). */
export function findOperation(api: CompiledApi, method: string, segments: readonly string[]): OperationMatch {
  let allow: string[] | undefined;
  for (const base of api.bases) {
    if (!matchPrefix(base, segments)) continue;
    for (const entry of api.paths) {
      const params = matchTemplate(entry.template, segments, base.segments.length);
      if (params === undefined) continue;
      const op = entry.methods.get(method) ?? (method === 'HEAD' ? entry.methods.get('GET') : undefined);
      if (op !== undefined) return { kind: 'found', operation: op, rawPathParams: params };
      allow ??= [...entry.methods.keys()];
    }
  }
  return allow === undefined ? { kind: 'no-path' } : { kind: 'no-method', allow };
}
