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
import { observePhase } from './metrics';
import { asKong, type HeaderValues, type Kong } from './pdk';
import {
  decisionRecord,
  rejectDecision,
  writeDecisionRecord,
  REASON_INTERNAL_ERROR,
  type Decision,
  type DecisionOutcome,
  type DecisionRecord,
} from './security-event';

export type PhaseName = 'certificate' | 'rewrite' | 'access' | 'response' | 'log';

/** The phases in which `kong.response.exit` is allowed (Kong 3.9 `kong/pdk/response.lua` check_phase). */
const EXIT_PHASES: ReadonlySet<PhaseName> = new Set<PhaseName>(['rewrite', 'access', 'response']);

/**
 * Ends the request with an error status (400-599). `body` is the message of Kong's `{"message": …}` body (default:
 * Kong's text for the status) or, where a plugin's contract fixes another shape (OAuth 2.0 errors, the validator's
 * violation list), the whole JSON body. Kong answers no PDK call after it: callers `return reject(…)`.
 * `outcome` names the plugin's documented reason code (and rule id) for the security event: the decision record
 * (`deny`, or `error` for a 5xx) is written with one kong.log.set_serialize_value just before the exit
 * (lib/security-event.ts). Without it the event's reason is `unspecified`.
 */
export type Reject = (
  status: number,
  body?: RejectBody,
  headers?: HeaderValues,
  outcome?: DecisionOutcome,
) => Promise<void>;

/**
 * Records a decision that does not end the request, e.g. a monitor-mode plugin's `monitor-deny`. It costs no RPC
 * by itself: the record is written by the access wrapper in place of the allow record (still one RPC), or before
 * the plugin's own `kong.response.exit`. The last call wins.
 */
export type RecordDecision = (decision: Exclude<Decision, 'deny'>, outcome: DecisionOutcome) => void;

/** What a phase handler gets: the PDK, its parsed config, a logger that names the plugin, and the one way to reject. */
export interface PhaseContext<C> {
  readonly kong: Kong;
  readonly conf: C;
  readonly log: PluginLogger;
  readonly reject: Reject;
  readonly record: RecordDecision;
}

/** The part of a phase context shared helpers need (bounded reads: read, log, refuse). */
export type RequestContext = Pick<PhaseContext<unknown>, 'kong' | 'log' | 'reject'>;

export type PhaseHandler<C> = (ctx: PhaseContext<C>) => Promise<void>;

/**
 * The decision record (lib/security-event.ts): after an access handler lets the request continue, the wrapper sets
 * `kong.log.set_serialize_value("bulwark.decisions.<plugin>", {decision = "allow", reason = "allowed", …})` (one
 * RPC; Kong appends it to ngx.ctx.serialize_values). bulwark-guard (kong/plugins/bulwark-guard, Lua inside Kong,
 * reading ngx.ctx.serialize_values) refuses with 503 a request whose Bulwark plugin returned
 * from access without an allow (or monitor-deny) record: that is what Kong does when the plugin server is down or an
 * RPC fails (it treats the plugin as done). A reject writes a deny record before its exit, for the audit events.
 */
export { DECISION_RECORD_PREFIX, decisionRecordKey } from './security-event';

/**
 * `kong` with `response.exit`/`response.error` watched: kong-pdk resolves an exit at once (it sends the call and
 * does not wait: pdk.js NON_RETURN_METHODS), so the handler returning tells nothing; the wrapper must know whether
 * the request was ended. Only string properties are touched (kong-pdk's proxy turns any name into an RPC path).
 */
function watchExits(kong: Kong, beforeExit: () => Promise<void> | undefined): { kong: Kong; exited: () => boolean } {
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
              // A decision the handler recorded (ctx.record) is written before its own exit.
              const pending = beforeExit();
              if (!pending) return Reflect.apply(fn, rt, args);
              return pending.then(
                () => Reflect.apply(fn, rt, args),
                () => Reflect.apply(fn, rt, args),
              );
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

/** Per-invocation decision state the wrapper keeps (the record a handler asked for, not yet written). */
interface DecisionState {
  pending: DecisionRecord | undefined;
}

/** The context a handler of plugin `pluginName` gets (exported for unit tests that call a handler directly). */
export function phaseContext<C>(
  pluginName: string,
  kong: Kong,
  conf: C,
  state: DecisionState = { pending: undefined },
): PhaseContext<C> {
  return {
    kong,
    conf,
    log: logger(kong, pluginName),
    reject: async (status, body, headers, outcome) => {
      // Check the status first: a bad one must throw before anything is written.
      if (!Number.isInteger(status) || status < 400 || status > 599) return exitWithError(kong, status, body, headers);
      state.pending = undefined; // the deny record replaces anything pending; the exit must not write again
      // Best effort: a failed record must never keep the exit from going out (the exit is what refuses).
      await writeDecisionRecord(kong, pluginName, decisionRecord(rejectDecision(status), outcome, status)).catch(
        () => undefined,
      );
      return exitWithError(kong, status, body, headers);
    },
    record: (decision, outcome) => {
      state.pending = decisionRecord(decision, outcome);
    },
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
  const state: DecisionState = { pending: undefined };
  const flushPending = (): Promise<void> | undefined => {
    const record = state.pending;
    state.pending = undefined;
    return record && writeDecisionRecord(rawView, pluginName, record);
  };
  // Only access needs the allow record: bulwark-guard checks the access phase, where Kong decides whether to proxy.
  const watch = phase === 'access' || EXIT_PHASES.has(phase) ? watchExits(rawView, flushPending) : undefined;
  const kong = watch?.kong ?? rawView;
  const ctx = phaseContext(pluginName, kong, conf, state);
  try {
    await handler(ctx);
    if (phase === 'access' && watch && !watch.exited()) {
      const record = state.pending ?? decisionRecord('allow');
      state.pending = undefined;
      await writeDecisionRecord(rawView, pluginName, record);
    } else if (watch && !watch.exited()) {
      // rewrite/response: a recorded decision (monitor-deny) is written; nothing otherwise (no guard there).
      await flushPending();
    }
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
    if (canExit) await ctx.reject(500, UNEXPECTED_ERROR_MESSAGE, undefined, { reason: REASON_INTERNAL_ERROR });
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
        // bulwark_phase_duration_seconds (lib/metrics.ts): Bulwark's own time per plugin and phase.
        const started = performance.now();
        return runPhase(name, phase, handler, kong, this.conf).finally(() =>
          observePhase(name, phase, (performance.now() - started) / 1000),
        );
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
