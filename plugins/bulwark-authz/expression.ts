// CEL expressions for what the fixed conditions cannot say, compiled once at config load, type-checked against
// the identity and request variables, and statically bounded so that one can never stall the plugin server.
//
// Bounds (a CEL evaluation cannot be interrupted: it is synchronous JavaScript, so the bound is static):
// - at most MAX_EXPRESSION_LENGTH characters and MAX_AST_NODES nodes (cel-js parse limits);
// - no comprehension (all, exists, exists_one, map, filter) inside another: every list it can see is bounded
//   (identity lists: 256 entries, request maps: 100 entries), so one level costs at most a few hundred steps,
//   while two nested levels over 256 × 256 entries took ~250 ms in a measurement;
// - no `matches`: cel-js runs it on JavaScript's backtracking RegExp (ReDoS); use a rule's `claims[].matches`
//   condition, which runs on RE2 (linear time).
import { cel, celValue } from '../lib/cel';

export const MAX_EXPRESSION_LENGTH = 2048;
export const MAX_AST_NODES = 256;
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** Variable declarations the expressions are type-checked against (absent strings are ""). */
const IDENTITY_SCHEMA = {
  authenticated: 'bool',
  method: 'string',
  subject: 'string',
  issuer: 'string',
  scopes: 'list<string>',
  groups: 'list<string>',
  claims: 'map<string, dyn>',
  consumer: { id: 'string', username: 'string' },
  credential: { kind: 'string', id: 'string' },
};
const REQUEST_SCHEMA = {
  method: 'string',
  path: 'string',
  params: 'map<string, string>',
  query: 'map<string, string>',
  headers: 'map<string, string>',
};

export interface ExpressionInput {
  identity: Record<string, unknown>;
  request: {
    method: string;
    path: string;
    params: Record<string, string>;
    query: Record<string, string>;
    headers: Record<string, string>;
  };
}

export interface CompiledExpression {
  source: string;
  /** Whether it reads request.headers (the handler then reads the request headers: one more RPC). */
  readsHeaders: boolean;
  /** true / false, or an error message (evaluation errors: a missing key, a wrong type). */
  evaluate(input: ExpressionInput): boolean | { error: string };
}

type Env = InstanceType<ReturnType<typeof cel>['Environment']>;
let environment: Env | undefined;

function env(): Env {
  if (environment === undefined) {
    const { Environment } = cel();
    environment = new Environment({ limits: { maxAstNodes: MAX_AST_NODES, maxDepth: 32 } })
      .registerVariable('identity', { schema: IDENTITY_SCHEMA })
      .registerVariable('request', { schema: REQUEST_SCHEMA });
  }
  return environment;
}

interface AstNode {
  op: string;
  args: unknown;
}

function isNode(v: unknown): v is AstNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as AstNode).op === 'string';
}

/** Walks the AST: the deepest comprehension nesting, whether `matches` is called, whether request.headers is read. */
function inspect(ast: unknown): { nesting: number; callsMatches: boolean; readsHeaders: boolean } {
  const result = { nesting: 0, callsMatches: false, readsHeaders: false };
  const walk = (v: unknown, depth: number): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth);
      return;
    }
    if (!isNode(v)) return;
    let here = depth;
    if ((v.op === 'rcall' || v.op === 'call') && Array.isArray(v.args)) {
      const name = v.args[0];
      if (name === 'matches') result.callsMatches = true;
      if (v.op === 'rcall' && typeof name === 'string' && COMPREHENSIONS.has(name)) {
        here = depth + 1;
        result.nesting = Math.max(result.nesting, here);
      }
    }
    if (
      v.op === '.' &&
      Array.isArray(v.args) &&
      v.args[1] === 'headers' &&
      isNode(v.args[0]) &&
      v.args[0].op === 'id' &&
      v.args[0].args === 'request'
    ) {
      result.readsHeaders = true;
    }
    if (Array.isArray(v.args)) for (const x of v.args) walk(x, here);
  };
  walk(ast, 0);
  return result;
}

/** Compile and check once; throws an Error whose message says what is wrong (the caller names the field). */
export function compileExpression(source: string): CompiledExpression {
  if (source.length > MAX_EXPRESSION_LENGTH) throw new Error(`longer than ${MAX_EXPRESSION_LENGTH} characters`);
  const e = env();
  let program: ReturnType<Env['parse']>;
  try {
    program = e.parse(source);
  } catch (err) {
    throw new Error(`does not parse: ${firstLine(err)}`, { cause: err });
  }
  const checked = e.check(source);
  if (!checked.valid) throw new Error(`does not type-check: ${firstLine(checked.error)}`);
  if (checked.type !== 'bool') throw new Error(`must be a bool expression, not ${checked.type}`);
  const facts = inspect(program.ast);
  if (facts.callsMatches)
    throw new Error('matches() is not allowed (backtracking regex); use a claims[].matches condition (RE2)');
  if (facts.nesting > 1)
    throw new Error('a comprehension (all, exists, exists_one, map, filter) inside another is not allowed');
  return {
    source,
    readsHeaders: facts.readsHeaders,
    evaluate(input: ExpressionInput): boolean | { error: string } {
      try {
        const value: unknown = program(celValue(input) as unknown as Record<string, unknown>);
        return value === true ? true : value === false ? false : { error: 'not a bool' };
      } catch (err) {
        return { error: firstLine(err) };
      }
    },
  };
}

function firstLine(err: unknown): string {
  const text =
    err instanceof Error
      ? err.message
      : typeof err === 'object' && err !== null && 'message' in err
        ? String((err as { message: unknown }).message)
        : String(err);
  return text.split('\n')[0]!.slice(0, 300);
}
