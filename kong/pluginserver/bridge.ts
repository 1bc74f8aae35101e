// The `kong` object a handler gets: kong-pdk's PDK bridge (pdk.js) with its plugin API unchanged, made cheaper per
// call. As in pdk.js, any property path is callable, each camelCase segment becomes snake_case
// (`kong.request.getHeader(x)` is the call `kong.request.get_header`), a call puts `{Method, Args}` on the event's
// pipe and resolves to Kong's result or rejects with kong-pdk's PDKError, and kong.response.exit/error resolve at once
// (Kong never answers them). What differs: pdk.js runs a regex and builds a new Proxy and closure on every property
// read; here a converted name is computed once per path and a node's children are kept for the event, so a PDK call
// costs two Map lookups (`kong.request` read twice in one handler is one object; in pdk.js it was two equal ones).
import PDK = require('kong-pdk/pdk');
import type { PdkPipe } from './events';

/** kong-pdk's error class (pdk.js PDKError): plugins may test `instanceof` against it. */
const PDKError = PDK.Error;

/** pdk.js NON_RETURN_METHODS: they never return, the request ends there. */
const NON_RETURN_METHODS: ReadonlySet<string> = new Set(['kong.response.exit', 'kong.response.error']);

type Call = (method: string, args: unknown[]) => Promise<unknown>;

interface BridgeNode {
  (...args: unknown[]): Promise<unknown>;
  path: string;
  call: Call;
  children: Map<string | symbol, unknown> | null;
}

/** Converted paths, by parent path and property name; bounded, since a plugin may read computed property names. */
const PATHS = new Map<string, Map<string, string>>();
const MAX_CACHED_PATHS = 4096;
let cachedPaths = 0;

/** pdk.js's conversion: "getHeader" → "get_header", appended to the parent's path. */
function childPath(parent: string, name: string): string {
  let byName = PATHS.get(parent);
  const cached = byName?.get(name);
  if (cached !== undefined) return cached;
  // The same expression as pdk.js (a symbol has no `replace`: a TypeError there and here).
  const clean = name.replace(/[a-z][A-Z]/g, (str) => (str.substring(0, 1) + '_' + str.substring(1)).toLowerCase());
  const full = `${parent}.${clean}`;
  if (cachedPaths < MAX_CACHED_PATHS) {
    if (!byName) PATHS.set(parent, (byName = new Map()));
    byName.set(name, full);
    cachedPaths++;
  }
  return full;
}

const handler: ProxyHandler<BridgeNode> = {
  get(target, name) {
    let children = target.children;
    if (children === null) children = target.children = new Map();
    let child = children.get(name);
    if (child === undefined) {
      child = newNode(childPath(target.path, name as string), target.call);
      children.set(name, child);
    }
    return child;
  },
};

function newNode(path: string, call: Call): unknown {
  const node = function bridgeCall(...args: unknown[]): Promise<unknown> {
    return call(path, args);
  } as BridgeNode;
  node.path = path;
  node.call = call;
  node.children = null;
  return new Proxy(node, handler);
}

/** The `kong` object for one event, calling through `pipe` (pdk.js: `new Kong(pipe).kong`). */
export function newKongBridge(pipe: PdkPipe): unknown {
  const call: Call = (method, args) => {
    pipe.put({ Method: method, Args: args });
    if (NON_RETURN_METHODS.has(method)) return Promise.resolve(undefined);
    return pipe.get().then(([ret, err]) => {
      if (err) throw new PDKError(`PDK method ${method} failed:  ${String(err)}`);
      return ret;
    });
  };
  return newNode('kong', call);
}
