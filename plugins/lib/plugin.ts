// The fail-closed plugin wrapper every Bulwark plugin is built with.
//
// Why: when a JS phase handler throws or rejects, kong-pdk's server.js logs a WARN and replies "ret", and
// Kong treats the plugin as successful: the request goes on to the upstream (../../docs/kong-protocol.md §1.10).
// For a security plugin that is fail-OPEN. `definePlugin` catches every error of a phase and, where Kong
// allows it (rewrite, access, response), ends the request with 500 {"message":"An unexpected error
// occurred"} (Kong's own text for its 500s). In log and certificate it can only log.
//
// Shape: kong-pdk (`lib/mod.js`) constructs `new Plugin(config)` per plugin instance (StartInstance) and
// reports as `Phases` the methods found on the class PROTOTYPE; Kong calls only those. So the class gets
// prototype methods for exactly the phases given. A config that does not parse throws in the constructor:
// StartInstance then fails and Kong answers 500 (fail closed, §1.10).
//
// Identity: `definePlugin` is the one place a plugin's name and priority are written, and the version is the
// package's (package.json, as Kong's bundled plugins take theirs from kong_meta.version). It returns the module
// kong-pdk loads (`Name`, `Version`, `Priority`, `Schema`, `Plugin`); index.ts re-exports it.
//
// Instances are shared by all concurrent requests of one plugin config: handlers must keep per-request
// state in locals (or kong.ctx.shared), never on `this`.
import { version as PACKAGE_VERSION } from '../../package.json';
import { exitWithError, UNEXPECTED_ERROR_MESSAGE, type RejectBody } from './errors';
import { asKong, type HeaderValues, type Kong } from './pdk';

export type PhaseName = 'certificate' | 'rewrite' | 'access' | 'response' | 'log';

/** The phases in which `kong.response.exit` is allowed (Kong 3.9 `kong/pdk/response.lua` check_phase). */
const EXIT_PHASES: ReadonlySet<PhaseName> = new Set<PhaseName>(['rewrite', 'access', 'response']);

/**
 * Ends the request with an error status (400-599). `body` is the message of Kong's `{"message": …}` body (default:
 * Kong's text for the status) or, where a plugin's contract fixes another shape (OAuth 2.0 errors, the validator's
 * violation list), the whole JSON body. Kong answers no PDK call after it: callers `return reject(…)`.
 */
export type Reject = (status: number, body?: RejectBody, headers?: HeaderValues) => Promise<void>;

/** What a phase handler gets: the PDK, its parsed config, a logger that names the plugin, and the one way to reject. */
export interface PhaseContext<C> {
  readonly kong: Kong;
  readonly conf: C;
  readonly log: PluginLogger;
  readonly reject: Reject;
}

/** The part of a phase context shared helpers need (bounded reads: read, log, refuse). */
export type RequestContext = Pick<PhaseContext<unknown>, 'kong' | 'log' | 'reject'>;

export type PhaseHandler<C> = (ctx: PhaseContext<C>) => Promise<void>;

/**
 * The decision record: after an access handler lets the request continue, the wrapper sets
 * `kong.ctx.shared["bulwark.decision.<plugin>"] = "allow"` (one RPC). bulwark-guard (kong/plugins/bulwark-guard, Lua
 * inside Kong) refuses with 503 a request whose Bulwark plugin returned from access without this record: that is
 * what Kong does when the plugin server is down or an RPC fails (it treats the plugin as done). A plugin that
 * rejects needs no record: its `kong.response.exit` ends the request.
 */
export const DECISION_RECORD_PREFIX = 'bulwark.decision.';
export const DECISION_ALLOW = 'allow';

/** The kong.ctx.shared key of a plugin's decision record. */
export function decisionRecordKey(pluginName: string): string {
  return DECISION_RECORD_PREFIX + pluginName;
}

/**
 * `kong` with `response.exit`/`response.error` watched: kong-pdk resolves an exit at once (it sends the call and
 * does not wait: pdk.js NON_RETURN_METHODS), so the handler returning tells nothing; the wrapper must know whether
 * the request was ended. Only string properties are touched (kong-pdk's proxy turns any name into an RPC path).
 */
function watchExits(kong: Kong): { kong: Kong; exited: () => boolean } {
  let exited = false;
  let response: Kong['response'] | undefined;
  const watched = new Proxy(kong, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop);
      if (prop !== 'response') return value;
      response ??= new Proxy(value as Kong['response'], {
        get(rt, rprop) {
          const fn: unknown = Reflect.get(rt, rprop);
          if ((rprop === 'exit' || rprop === 'error') && typeof fn === 'function') {
            return (...args: unknown[]): unknown => {
              exited = true;
              return Reflect.apply(fn, rt, args);
            };
          }
          return fn;
        },
      });
      return response;
    },
  });
  return { kong: watched, exited: () => exited };
}

export interface PluginSpec<C, S> {
  /** The plugin name as registered in Kong (the `plugins` list, log lines, the decision record). */
  name: string;
  /** Kong's PRIORITY: higher runs first (see the root README's priority table). */
  priority: number;
  /** The config fields of Kong's schema, as the plugin server dumps them. */
  schema: S;
  /** Turns Kong's config object into the plugin's typed config; throws on anything invalid. */
  parseConfig: (raw: unknown) => C;
  phases: Partial<Record<PhaseName, PhaseHandler<C>>>;
}

/** The module kong-pdk's loader reads (kong-pdk/lib/mod.js: Name, Version, Priority, Schema, Plugin). */
export interface PluginModule<C, S> {
  readonly Name: string;
  readonly Version: string;
  readonly Priority: number;
  readonly Schema: S;
  readonly Plugin: PluginClass<C>;
}

/** Every Bulwark plugin's version: the package's (one release carries all plugins). */
export const BULWARK_VERSION: string = PACKAGE_VERSION;

/** What an instance looks like to kong-pdk: the parsed config plus one method per implemented phase. */
export interface PluginInstance<C> {
  readonly conf: C;
}

export interface PluginClass<C> {
  new (config: unknown): PluginInstance<C>;
  readonly prototype: PluginInstance<C>;
}

/** Error text for logs: message only, bounded, on one line. */
export function describeError(err: unknown): string {
  let text: string;
  if (err instanceof Error) text = `${err.name}: ${err.message}`;
  else if (typeof err === 'string') text = err;
  else {
    try {
      text = JSON.stringify(err) ?? String(err);
    } catch {
      text = Object.prototype.toString.call(err);
    }
  }
  text = text.replace(/[\r\n]+/g, ' ');
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

export type LogLevel = 'err' | 'warn' | 'notice' | 'info' | 'debug';

export interface PluginLogger {
  err(event: string, fields?: Record<string, unknown>): Promise<void>;
  warn(event: string, fields?: Record<string, unknown>): Promise<void>;
  notice(event: string, fields?: Record<string, unknown>): Promise<void>;
  info(event: string, fields?: Record<string, unknown>): Promise<void>;
  debug(event: string, fields?: Record<string, unknown>): Promise<void>;
}

/**
 * A structured logger: each line is one JSON object `{"plugin":…, "event":…, …fields}` passed to
 * kong.log.<level> as a single string (Kong tostring-concatenates arguments). One RPC per line.
 */
export function logger(kong: Pick<Kong, 'log'>, plugin: string): PluginLogger {
  const line = (level: LogLevel) => (event: string, fields?: Record<string, unknown>) =>
    kong.log[level](JSON.stringify({ plugin, event, ...fields }));
  return { err: line('err'), warn: line('warn'), notice: line('notice'), info: line('info'), debug: line('debug') };
}

/** The context a handler of plugin `pluginName` gets (exported for unit tests that call a handler directly). */
export function phaseContext<C>(pluginName: string, kong: Kong, conf: C): PhaseContext<C> {
  return {
    kong,
    conf,
    log: logger(kong, pluginName),
    reject: (status, body, headers) => exitWithError(kong, status, body, headers),
  };
}

/**
 * Run one phase handler fail-closed. Exported for tests and for plugins that need a custom class.
 * The log line goes out BEFORE the exit: after `kong.response.exit` Kong answers no further PDK call.
 */
export async function runPhase<C>(
  pluginName: string,
  phase: PhaseName,
  handler: PhaseHandler<C>,
  rawKong: unknown,
  conf: C,
): Promise<void> {
  const rawView = asKong(rawKong);
  // Only access needs the record: bulwark-guard checks the access phase, where Kong decides whether to proxy.
  const watch = phase === 'access' ? watchExits(rawView) : undefined;
  const kong = watch?.kong ?? rawView;
  const ctx = phaseContext(pluginName, kong, conf);
  try {
    await handler(ctx);
    if (watch && !watch.exited()) await rawView.ctx.shared.set(decisionRecordKey(pluginName), DECISION_ALLOW);
  } catch (err) {
    const canExit = EXIT_PHASES.has(phase);
    try {
      await ctx.log.err('unhandled_error', {
        phase,
        reason: describeError(err),
        action: canExit ? 'rejected with 500' : 'none (phase cannot end the request)',
      });
    } catch {
      // Logging is best effort; the exit below is what keeps the request from going through.
    }
    if (canExit) await ctx.reject(500, UNEXPECTED_ERROR_MESSAGE);
  }
}

/**
 * Build the module kong-pdk loads. index.ts: `export const { Name, Version, Priority, Schema, Plugin } =
 * definePlugin({...})`, so that name and priority are written once and the version is the package's.
 */
export function definePlugin<C, S = readonly unknown[]>(spec: PluginSpec<C, S>): PluginModule<C, S> {
  const { name, priority, schema, parseConfig, phases } = spec;
  if (!Number.isInteger(priority)) throw new TypeError(`${name}: priority must be an integer, got ${priority}`);

  class BulwarkPlugin implements PluginInstance<C> {
    readonly conf: C;
    constructor(config: unknown) {
      try {
        this.conf = parseConfig(config);
      } catch (err) {
        // The message reaches Kong's log through the StartInstance RPC error; name the plugin in it.
        throw new Error(`${name}: invalid configuration: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
    }
  }

  for (const [phase, handler] of Object.entries(phases) as [PhaseName, PhaseHandler<C> | undefined][]) {
    if (handler === undefined) continue;
    Object.defineProperty(BulwarkPlugin.prototype, phase, {
      value: function (this: BulwarkPlugin, kong: unknown): Promise<void> {
        return runPhase(name, phase, handler, kong, this.conf);
      },
      writable: false,
      enumerable: false,
      configurable: false,
    });
  }
  Object.defineProperty(BulwarkPlugin, 'name', { value: `${name}:Plugin` });
  return Object.freeze({
    Name: name,
    Version: BULWARK_VERSION,
    Priority: priority,
    Schema: schema,
    Plugin: BulwarkPlugin,
  });
}
