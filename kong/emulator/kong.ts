// The Kong emulator: Kong 3.9's request runloop and plugin-server bridge, driving the real plugin server.
// Sources: kong/init.lua (phase handlers), kong/runloop/handler.lua (router, upstream headers),
// kong/runloop/plugins_iterator.lua (ordering, config precedence, collecting), kong/runloop/plugin_servers/*
// (instances, events, fail-open spots). ../../docs/kong-protocol.md summarises them with citations.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID, randomBytes } from 'node:crypto';
import { BlockList, isIPv6 } from 'node:net';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import type { Consumer, KongConfig, PluginEntity } from './entities';
import { RpcClient, RpcError, RpcAssertionError } from './rpc';
import {
  PluginServerEntry,
  PluginServerKind,
  PluginServerProcess,
  listBuiltPlugins,
  pluginServerEntries,
  queryPluginInfo,
  waitForSocket,
  distPluginsDir,
  workerEnvironment,
  repoRoot,
} from './plugin-server';
import { LuaPluginHost, type AccessOutcome } from './lua-plugins';
import type { PluginInfo } from '../schema/plugin-info';
import { processPluginConfig } from '../schema/config';
import { Router, type RouteMatch } from './router';
import { HeaderMap, IncomingRequest, Phase, RequestContext, LogSnapshot, parseQueryArgs } from './request-context';
import { editResult } from './serialize';
import { callPdk, LuaError, PdkEnv, stepMethodFor, errorBody, KONG_VERSION, normalizePath, routeEntity } from './pdk';
import { forwardToUpstream, upstreamUpgrade } from './upstream';
import { resolveReferences } from './vault';

export interface EmulatorOptions {
  /**
   * Which plugin server to run: `bulwark` (default; bulwark-pluginserver, one process for every plugin, one socket
   * each) or `stock` (kong-js-pluginserver, one process per plugin as Kong 3.9 needs).
   */
  server?: PluginServerKind;
  /** Plugin names to load (default: every plugin built in dist/plugins). */
  plugins?: string[];
  pluginsRoot?: string;
  /** Explicit kong.conf plugin-server entries (overrides `server`/`plugins`). */
  entries?: PluginServerEntry[];
  /** nginx worker processes: each has its own instance cache and connection pool (default 2). */
  workers?: number;
  /** kong.conf trusted_ips (default none). */
  trustedIps?: string[];
  /**
   * How long Kong waits for a plugin server's reply to one RPC: nginx's lua_socket_read_timeout (default 60 s).
   * A step without reply in time: Kong logs the error and skips the plugin (fail-open, reported as 'rpc-timeout').
   */
  rpcTimeoutMs?: number;
  /**
   * How long a request waits for an instance that another request is starting (plugin_servers/plugin.lua 3.9.3
   * get_instance_id: WAIT_TIME = 10 s in 0.1 s steps). After that Kong skips the plugin for that request
   * (fail-open, reported as 'instance-claim-timeout') and drops the claim.
   */
  instanceClaimWaitMs?: number;
  /**
   * mp_rpc.lua handle_event retries an event after every "no plugin instance" answer, without bound (a tail call):
   * a server that always answers so keeps the request forever. Unbounded by default, as Kong; a test may set a
   * limit, past which `handle` rejects with EndlessRetryError instead of hanging.
   */
  noInstanceRetryLimit?: number;
  /** Kong 3.9 registers only the first plugin of a query output; 3.0–3.8 register all. */
  kongVersion?: '3.9' | '3.8';
  /**
   * Upstream hosts resolved to local addresses, as a hosts-file entry would: lets `npm run gateway` serve a
   * kong.yml written for the compose network (`http://echo:8080`) with an embedded echo upstream.
   */
  upstreamAliases?: Record<string, { host: string; port: number }>;
  /**
   * nginx `env` directives (kong.conf `nginx_main_env`): `NAME` keeps an inherited variable, `NAME=value` sets one.
   * The plugin servers are spawned with TZ and these only, as Kong's workers spawn them.
   */
  nginxMainEnv?: string[];
  /** Extra arguments of bulwark-pluginserver's start command (`--metrics-listen 127.0.0.1:0`); ignored for stock. */
  bulwarkServerArgs?: string[];
  /** Called for each line Kong would write to its error log. */
  onLog?: (line: string) => void;
  /** Emulate Kong's file-log plugin on every request: append kong.log.serialize() as JSON (file-log handler.lua). */
  fileLogPath?: string;
  /**
   * Lua plugins loaded as kong.conf `plugins = bundled,<name>` would load them: their real handler.lua runs in a Lua
   * VM (lua-plugins.ts). Default `['bulwark-guard']`, as in the image (kong/pluginserver-env.sh); `[]` runs without.
   */
  luaPlugins?: string[];
  /** Where Lua plugins live (default kong/plugins of this repository: <dir>/<name>/handler.lua). */
  luaPluginsRoot?: string;
}

export interface LoadedPlugin {
  info: PluginInfo;
  entry: PluginServerEntry;
  phases: Set<string>;
}

/** A place where Kong lets a request continue although the plugin did not finish: tests assert none happened. */
export interface FailOpenEvent {
  kind: 'rpc-error' | 'rpc-timeout' | 'instance-claim-timeout' | 'unhandled-exception';
  plugin: string;
  phase: string;
  detail: string;
}

export interface RequestReport {
  requestId: string;
  rpcCalls: number;
  rpcCallsByPlugin: Record<string, number>;
  /** [plugin, phase] for every event Kong started, in order. */
  events: [string, Phase][];
  failOpen: FailOpenEvent[];
  /** [plugin, PDK method] for every PDK call a plugin made, in order. */
  pdkCalls: [string, string][];
  luaErrors: { plugin: string; phase: Phase; message: string }[];
  exitedBy?: string;
  /**
   * Kong read the whole upstream response before responding (buffered proxying: a collected plugin has a `response`
   * handler, or one called kong.service.request.enable_buffering). False: the response was streamed.
   */
  bufferedProxying: boolean;
  /** The certificate phase failed: Kong aborts the TLS handshake and sends no HTTP response (status 0). */
  handshakeFailed?: boolean;
  upstreamRequest?: UpstreamRequestRecord;
  /** Resolves when the log phase (run after the response, like Kong's timer) has finished. */
  logDone: Promise<void>;
}

export interface UpstreamRequestRecord {
  method: string;
  url: string;
  headers: HeaderMap;
  body: Buffer;
}

export interface EmulatedResponse {
  status: number;
  headers: HeaderMap;
  /** The whole body; empty when `bodyStream` carries it. */
  body: Buffer;
  /** With `handle(req, { stream: true })`, an unbuffered proxied body as the upstream sends it. */
  bodyStream?: Readable;
  report: RequestReport;
}

export interface HandleOptions {
  /**
   * Hand an unbuffered proxied body over as a stream (what the gateway's proxy writes to its client chunk by chunk)
   * instead of collecting it. The log phase then runs when the stream has ended.
   */
  stream?: boolean;
}

interface CachedInstance {
  id: number;
  seq: number;
  pluginId: string;
}

interface Worker {
  index: number;
  rpc: Map<string, RpcClient>; // by socket path
  instances: Map<string, CachedInstance>; // by plugin entity id
  starting: Map<string, Promise<number>>;
}

interface ConfiguredPlugin {
  entity: PluginEntity;
  /** The config as Kong's DAO returns it: defaults filled, unset fields absent. */
  config: Record<string, unknown>;
}

/** One request through the runloop: what Kong keeps in ngx.ctx across its phase handlers. */
interface RequestRun {
  worker: Worker;
  ctx: RequestContext;
  report: RequestReport;
  opts: HandleOptions;
  /** The plugins the access phase collected (plugins_iterator.lua collecting → collected), in order. */
  collected: [LoadedPlugin, ConfiguredPlugin][];
  /** A handler raised a Lua error (KONG_UNEXPECTED): the request ends in Kong's 500. */
  unexpected: boolean;
  /** The request reached the upstream. */
  proxied: boolean;
  match?: RouteMatch;
  resolveLog: () => void;
}

const WS_ID = '0dc6f45b-8f8d-40d2-a504-473544ee190b'; // the default workspace id is random per database; fixed here

export class KongEmulator {
  readonly plugins = new Map<string, LoadedPlugin>();
  readonly processes: PluginServerProcess[] = [];
  readonly nodeId = randomUUID();
  /** Error-log lines (Kong's and the plugin servers'), newest last. */
  readonly log: string[] = [];
  private readonly workers: Worker[] = [];
  private readonly trusted = new BlockList();
  private config: KongConfig = { services: [], routes: [], consumers: [], plugins: [] };
  private configured = new Map<string, ConfiguredPlugin[]>(); // by plugin name
  /** lookupConfig results for the current configuration, by plugin name and route/service/consumer ids. */
  private readonly lookups = new Map<string, ConfiguredPlugin | undefined>();
  private ordered?: LoadedPlugin[];
  private router = new Router(this.config);
  private seq = 0;
  private nextWorker = 0;
  private readonly unhandled: FailOpenEvent[] = [];
  private lua!: LuaPluginHost;
  private stopping = false;
  /** Plugin-server (re)spawns so far, per kong.conf entry name (process.lua pluginserver_timer). */
  readonly spawns = new Map<string, number>();

  private constructor(
    readonly opts: EmulatorOptions,
    readonly prefix: string,
  ) {
    for (const cidr of opts.trustedIps ?? []) addCidr(this.trusted, cidr);
  }

  static async start(opts: EmulatorOptions = {}): Promise<KongEmulator> {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-kong-'));
    const emu = new KongEmulator(opts, prefix);
    try {
      await emu.boot();
    } catch (err) {
      await emu.stop();
      throw err;
    }
    return emu;
  }

  private async boot(): Promise<void> {
    const root = this.opts.pluginsRoot ?? distPluginsDir;
    const names = this.opts.plugins ?? listBuiltPlugins(root);
    const entries =
      this.opts.entries ??
      pluginServerEntries(this.opts.server ?? 'bulwark', this.prefix, names, root, this.opts.bulwarkServerArgs);
    // init_by_lua: query every server (process.lua load_external_plugins_info); any bad output stops Kong.
    // A name two servers report: the later entry replaces the earlier one, silently (process.lua 3.9.3 line 98,
    // `available_external_plugins[plugin_info.name] = plugin_info`); both servers are still started.
    for (const entry of entries) {
      for (const info of queryPluginInfo(entry, this.opts.kongVersion ?? '3.9')) {
        this.plugins.delete(info.Name);
        this.plugins.set(info.Name, { info, entry, phases: new Set(info.Phases) });
      }
    }
    // Lua plugins (kong.conf `plugins`): handler tables for every plugin, then the Lua plugins' init_worker.
    this.lua = new LuaPluginHost((level, message) => this.writeLog(`[${level}] ${message}`));
    for (const plugin of this.plugins.values()) {
      this.lua.addExternal({ name: plugin.info.Name, priority: plugin.info.Priority, phases: plugin.info.Phases });
    }
    const luaRoot = this.opts.luaPluginsRoot ?? path.join(repoRoot, 'kong', 'plugins');
    for (const name of this.opts.luaPlugins ?? ['bulwark-guard']) this.lua.addLua(name, luaRoot);
    this.lua.initWorker();
    // init_worker on worker 0: spawn start commands (no readiness check in Kong; we wait for sockets).
    for (const entry of entries) {
      if (!entry.startCmd) continue;
      this.spawnServer(entry, this.processes.length);
    }
    for (const entry of entries) {
      await waitForSocket(
        entry.socket,
        this.processes.find((p) => p.entry.socket === entry.socket) ?? this.processes[0],
      );
    }
    const workers = this.opts.workers ?? 2;
    for (let i = 0; i < workers; i++)
      this.workers.push({ index: i, rpc: new Map(), instances: new Map(), starting: new Map() });
  }

  /**
   * process.lua pluginserver_timer: spawn, wait for the exit, spawn again, at most once a second, until the worker
   * exits. Exit status 127 is logged as "command not found"; in 3.9.3 that `break` only leaves the inner wait loop,
   * so the outer loop spawns again a second later like any other exit.
   */
  private spawnServer(entry: PluginServerEntry, index: number): void {
    const startedAt = Date.now();
    const proc = PluginServerProcess.start(entry, workerEnvironment(this.opts.nginxMainEnv ?? []));
    this.spawns.set(entry.name, (this.spawns.get(entry.name) ?? 0) + 1);
    proc.onLine((l) => this.onServerLine(l.server, l.line));
    if (index < this.processes.length) this.processes[index] = proc;
    else this.processes.push(proc);
    const slot = this.processes.indexOf(proc);
    proc.child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (code === 127) {
        this.writeLog(
          `[error] [pluginserver] external pluginserver "${entry.name}" start command exited with "command not found"`,
        );
      } else {
        this.writeLog(`[notice] external pluginserver '${entry.name}' terminated: exit ${code ?? signal}`);
      }
      const wait = Math.max(0, startedAt + 1000 - Date.now());
      setTimeout(() => {
        if (!this.stopping) this.spawnServer(entry, slot);
      }, wait).unref();
    });
  }

  private onServerLine(server: string, line: string): void {
    this.writeLog(`[info] [${server}] ${line}`);
    // Both servers catch a throwing handler, log it and answer "ret": Kong proceeds (fail-open).
    // Stock server.js: "unhandled exception in <name>.<phase> ..."; bulwark-pluginserver: a JSON line.
    const m = /unhandled exception in ([\w.-]+)\.(\w+)/.exec(line);
    if (m) this.unhandled.push({ kind: 'unhandled-exception', plugin: m[1], phase: m[2], detail: line });
    else if (line.includes('unhandled exception in plugin handler')) {
      try {
        const j = JSON.parse(line) as { plugin?: string; phase?: string };
        this.unhandled.push({
          kind: 'unhandled-exception',
          plugin: j.plugin ?? '?',
          phase: j.phase ?? '?',
          detail: line,
        });
      } catch {
        this.unhandled.push({ kind: 'unhandled-exception', plugin: '?', phase: '?', detail: line });
      }
    }
  }

  private writeLog(line: string): void {
    this.log.push(line);
    if (this.log.length > 20_000) this.log.shift();
    this.opts.onLog?.(line);
  }

  /** Handler exceptions that the plugin server swallowed (Kong let those requests through). */
  unhandledExceptions(): FailOpenEvent[] {
    return [...this.unhandled];
  }

  // ---------------------------------------------------------------- configuration (Kong's DAO)

  /**
   * Replaces the whole configuration, like a DB-less `/config` push: every plugin config is validated against
   * its dumped schema (defaults filled), and the plugins iterator is rebuilt with a new `__seq__`.
   */
  setConfig(config: KongConfig): void {
    const configured = new Map<string, ConfiguredPlugin[]>();
    for (const entity of config.plugins) {
      const plugin = this.plugins.get(entity.name);
      if (!plugin)
        throw new ConfigError(
          `plugin '${entity.name}' not enabled; add it to the 'plugins' configuration property`,
          entity.name,
        );
      const res = processPluginConfig(configFields(plugin.info), entity.config ?? {});
      if (!res.ok) throw new ConfigError(res.error.message, entity.name, res.error);
      if (!entity.enabled) continue;
      const list = configured.get(entity.name) ?? [];
      list.push({ entity, config: res.config });
      configured.set(entity.name, list);
    }
    this.config = config;
    this.configured = configured;
    this.lookups.clear();
    this.router = new Router(config);
    this.seq++;
  }

  getConfig(): KongConfig {
    return this.config;
  }

  /** Validates one plugin config the way the Admin API would, returning the stored config. */
  validatePluginConfig(name: string, config: unknown): Record<string, unknown> {
    const plugin = this.plugins.get(name);
    if (!plugin)
      throw new ConfigError(`plugin '${name}' not enabled; add it to the 'plugins' configuration property`, name);
    const res = processPluginConfig(configFields(plugin.info), config ?? {});
    if (!res.ok) throw new ConfigError(res.error.message, name, res.error);
    return res.config;
  }

  /** Plugins in Kong's execution order: PRIORITY descending, ties by name descending (plugins_iterator.lua). */
  orderedPlugins(): LoadedPlugin[] {
    return [...this.executionOrder()];
  }

  /** The execution order, sorted once: the registered plugins only change at start (init_by_lua). */
  private executionOrder(): readonly LoadedPlugin[] {
    if (this.ordered?.length !== this.plugins.size) {
      this.ordered = [...this.plugins.values()].sort((a, b) =>
        b.info.Priority !== a.info.Priority ? b.info.Priority - a.info.Priority : a.info.Name < b.info.Name ? 1 : -1,
      );
    }
    return this.ordered;
  }

  /** plugins_iterator.lua lookup order: most specific combination of route/service/consumer wins. */
  private lookupConfig(
    name: string,
    routeId?: string,
    serviceId?: string,
    consumerId?: string,
  ): ConfiguredPlugin | undefined {
    const list = this.configured.get(name);
    if (!list) return undefined;
    // Memoised per configuration (Kong builds its iterator once per configuration too): setConfig clears it.
    const key = `${name}\u0000${routeId ?? ''}\u0000${serviceId ?? ''}\u0000${consumerId ?? ''}`;
    if (this.lookups.has(key)) return this.lookups.get(key);
    const found = this.findConfig(list, routeId, serviceId, consumerId);
    if (this.lookups.size < 10_000) this.lookups.set(key, found);
    return found;
  }

  private findConfig(
    list: ConfiguredPlugin[],
    routeId?: string,
    serviceId?: string,
    consumerId?: string,
  ): ConfiguredPlugin | undefined {
    const find = (r: boolean, s: boolean, c: boolean) =>
      list.find(
        (p) =>
          (r ? p.entity.route === routeId && routeId !== undefined : p.entity.route === undefined) &&
          (s ? p.entity.service === serviceId && serviceId !== undefined : p.entity.service === undefined) &&
          (c ? p.entity.consumer === consumerId && consumerId !== undefined : p.entity.consumer === undefined),
      );
    const order: [boolean, boolean, boolean][] = [
      [true, true, true],
      [true, false, true],
      [false, true, true],
      [true, true, false],
      [false, false, true],
      [true, false, false],
      [false, true, false],
      [false, false, false],
    ];
    for (const [r, s, c] of order) {
      const hit = find(r, s, c);
      if (hit) return hit;
    }
    return undefined;
  }

  /** get_plugin_config: the config table plus the keys Kong adds before cjson-encoding it for StartInstance. */
  private instanceConfig(p: ConfiguredPlugin): Record<string, unknown> {
    const e = p.entity;
    // Vault references are resolved when the config is read; an unresolvable one becomes "" with a warning.
    const plugin = this.plugins.get(e.name)!;
    const conf: Record<string, unknown> = resolveReferences(configFields(plugin.info), p.config, process.env, (m) =>
      this.writeLog(`[warn] ${m}`),
    );
    if (e.route) conf.route_id = e.route;
    if (e.service) conf.service_id = e.service;
    if (e.consumer) conf.consumer_id = e.consumer;
    if (e.instance_name) conf.plugin_instance_name = e.instance_name;
    conf.__plugin_id = e.id;
    conf.__ws_id = WS_ID;
    conf.__key__ = `plugins:${e.name}:${e.route ?? ''}:${e.service ?? ''}:${e.consumer ?? ''}:${WS_ID}`;
    conf.__seq__ = this.seq;
    return conf;
  }

  // ---------------------------------------------------------------- instances (plugin_servers/plugin.lua)

  private rpcFor(worker: Worker, socket: string): RpcClient {
    let c = worker.rpc.get(socket);
    if (!c) {
      c = new RpcClient(socket, this.opts.rpcTimeoutMs ?? 60_000);
      worker.rpc.set(socket, c);
    }
    return c;
  }

  private async getInstanceId(
    worker: Worker,
    plugin: LoadedPlugin,
    p: ConfiguredPlugin,
    count: () => void,
  ): Promise<number> {
    const key = p.entity.id;
    const cached = worker.instances.get(key);
    if (cached && cached.seq === this.seq) return cached.id;
    const pending = worker.starting.get(key);
    if (pending) {
      // Another request is starting this instance: plugin.lua get_instance_id polls for up to WAIT_TIME (10 s),
      // then drops the claim and returns "Could not claim instance_id"; if the starter fails, the waiter starts one.
      const waitMs = this.opts.instanceClaimWaitMs ?? 10_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), waitMs)));
      try {
        const r = await Promise.race([
          pending.then(
            (id) => ({ id }),
            () => ({ id: undefined }),
          ),
          timedOut,
        ]);
        if (r === 'timeout') {
          if (worker.starting.get(key) === pending) worker.starting.delete(key);
          throw new InstanceClaimTimeout(`Could not claim instance_id for ${plugin.info.Name} (key: ${key})`);
        }
        if (r.id !== undefined) return r.id;
        return this.getInstanceId(worker, plugin, p, count);
      } finally {
        clearTimeout(timer);
      }
    }
    let start: Promise<number> | undefined = undefined;
    start = (async () => {
      const rpc = this.rpcFor(worker, plugin.entry.socket);
      count();
      const conf = this.instanceConfig(p);
      const res = (await rpc.call('plugin.StartInstance', {
        Name: plugin.info.Name,
        Config: JSON.stringify(conf),
      })) as { Id: number };
      // A waiter that gave up dropped the claim: Kong's running_instances no longer holds this instance.
      if (worker.starting.get(key) === start) worker.instances.set(key, { id: res.Id, seq: this.seq, pluginId: key });
      if (cached) {
        // Close the instance of the previous configuration; errors are ignored (plugin.lua get_instance_id).
        count();
        rpc.call('plugin.CloseInstance', cached.id).catch(() => undefined);
      }
      return res.Id;
    })();
    worker.starting.set(key, start);
    try {
      return await start;
    } finally {
      if (worker.starting.get(key) === start) worker.starting.delete(key);
    }
  }

  /** reset_instance: drop this plugin's cached instances in every worker (worker event "plugin_server/reset_instances"). */
  private resetInstances(pluginName: string): void {
    for (const w of this.workers) {
      for (const [key] of w.instances) {
        const owner = [...(this.configured.get(pluginName) ?? [])].some((p) => p.entity.id === key);
        if (owner) w.instances.delete(key);
      }
    }
  }

  // ---------------------------------------------------------------- events (rpc/mp_rpc.lua handle_event, bridge_loop)

  private async runEvent(
    worker: Worker,
    plugin: LoadedPlugin,
    p: ConfiguredPlugin,
    phase: Phase,
    ctx: RequestContext,
    report: RequestReport,
    attempt = 0,
  ): Promise<'done' | 'exit' | 'lua-error'> {
    const name = plugin.info.Name;
    const count = () => {
      report.rpcCalls++;
      report.rpcCallsByPlugin[name] = (report.rpcCallsByPlugin[name] ?? 0) + 1;
    };
    report.events.push([name, phase]);
    ctx.phase = phase;
    let instanceId: number;
    try {
      instanceId = await this.getInstanceId(worker, plugin, p, count);
    } catch (err) {
      if (err instanceof InstanceClaimTimeout) {
        // mp_rpc.lua handle_event: get_instance_id's error is only logged; the plugin is skipped (FAIL-OPEN).
        this.writeLog(`[error] [${name}] ${err.message}`);
        report.failOpen.push({ kind: 'instance-claim-timeout', plugin: name, phase, detail: err.message });
        return 'done';
      }
      // get_instance_id raises error(err) when StartInstance fails: a Lua error in the phase handler.
      this.writeLog(`[error] [${name}] failed to start instance: ${(err as Error).message}`);
      report.luaErrors.push({ plugin: name, phase, message: (err as Error).message });
      return 'lua-error';
    }
    const env = this.pdkEnv(plugin, p);
    const rpc = this.rpcFor(worker, plugin.entry.socket);
    try {
      count();
      let step = (await rpc.call('plugin.HandleEvent', { InstanceId: instanceId, EventName: phase })) as {
        EventId: number;
        Data: unknown;
      };
      const eventId = step.EventId;
      while (step.Data !== 'ret') {
        const call = step.Data as { Method: string; Args?: unknown[] };
        if (!call || typeof call.Method !== 'string') throw new RpcError(`invalid step data from plugin server`);
        report.pdkCalls.push([name, call.Method]);
        let outcome;
        try {
          outcome = callPdk(call.Method, luaArgs(call.Args ?? []), ctx, env);
        } catch (err) {
          if (err instanceof LuaError) {
            // The Lua error propagates out of the handler; Kong never sends another Step for this event.
            this.writeLog(`[error] [${name}] ${phase}: ${err.message}`);
            report.luaErrors.push({ plugin: name, phase, message: err.message });
            return 'lua-error';
          }
          throw err;
        }
        if (outcome.kind === 'exit') {
          // pdk/response.lua exit: coroutine.yield() in access / ngx.exit elsewhere; no further Step.
          report.exitedBy = name;
          return 'exit';
        }
        const data: Record<string, unknown> = { EventId: eventId };
        if (outcome.value !== undefined && outcome.value !== null) data.Data = toLuaWire(outcome.value);
        count();
        step = (await rpc.call(stepMethodFor(call.Method), data)) as { EventId: number; Data: unknown };
      }
      return 'done';
    } catch (err) {
      const msg = (err as Error).message;
      if (err instanceof RpcAssertionError) {
        // A failed assert in Rpc:call: a Lua error, the handler fails (500 in access).
        this.writeLog(`[error] [${name}] ${phase}: ${msg}`);
        report.luaErrors.push({ plugin: name, phase, message: msg });
        return 'lua-error';
      }
      if (/no plugin instance/i.test(msg)) {
        if (attempt >= (this.opts.noInstanceRetryLimit ?? Infinity)) {
          throw new EndlessRetryError(
            `${name} ${phase}: "no plugin instance" ${attempt + 1} times; Kong would keep retrying`,
          );
        }
        // Kong resets the plugin's instances and retries the event (mp_rpc.lua handle_event, no bound).
        this.writeLog(`[warn] [${name}] ${msg}`);
        this.resetInstances(name);
        return this.runEvent(worker, plugin, p, phase, ctx, report, attempt + 1);
      }
      // Any other RPC error (a step without reply within lua_socket_read_timeout included): kong.log.err and the
      // handler returns normally: FAIL-OPEN.
      this.writeLog(`[error] [${name}] ${msg}`);
      report.failOpen.push({ kind: msg === 'timeout' ? 'rpc-timeout' : 'rpc-error', plugin: name, phase, detail: msg });
      return 'done';
    }
  }

  /**
   * The access handler as Kong calls it: `plugin.handler.access` in a coroutine, through the handler table that a Lua
   * plugin (bulwark-guard) may have wrapped; the plugin-server event runs where the external phase function is.
   */
  private async runAccess(
    worker: Worker,
    plugin: LoadedPlugin,
    p: ConfiguredPlugin,
    ctx: RequestContext,
    report: RequestReport,
  ): Promise<'done' | 'exit' | 'lua-error'> {
    const name = plugin.info.Name;
    const env = this.pdkEnv(plugin, p);
    const outcome = await this.lua.runAccess(
      name,
      {
        sharedGet: (k) => ctx.ctxShared.get(k),
        sharedSet: (k, v) => void ctx.ctxShared.set(k, v),
        exit: (status, body) => {
          ctx.phase = 'access';
          callPdk('kong.response.exit', [status, body], ctx, env);
          report.exitedBy = name;
        },
        hasResponse: () => ctx.exited !== undefined,
        serializeValues: () => ctx.serializeValues,
        log: (level, message) => this.writeLog(`[${level}] [${name}] ${message}`),
      },
      async (): Promise<AccessOutcome> => {
        const r = await this.runEvent(worker, plugin, p, 'access', ctx, report);
        return r === 'lua-error' ? { kind: 'lua-error', message: 'plugin-server event failed' } : { kind: r };
      },
    );
    if (outcome.kind === 'lua-error' && outcome.message !== 'plugin-server event failed') {
      this.writeLog(`[error] [${name}] access: ${outcome.message}`);
      report.luaErrors.push({ plugin: name, phase: 'access', message: outcome.message });
    }
    return outcome.kind;
  }

  private pdkEnv(plugin: LoadedPlugin, p: ConfiguredPlugin): PdkEnv {
    return {
      pluginName: plugin.info.Name,
      pluginId: p.entity.id,
      nodeId: this.nodeId,
      findConsumer: (key, byUsername) => findConsumer(this.config.consumers, key, byUsername),
      log: (level, pluginName, message) => this.writeLog(`[${level}] [${pluginName}] ${message}`),
      isTrustedIp: (ip) => isTrusted(this.trusted, ip),
      serialize: () => ({}),
    };
  }

  // ---------------------------------------------------------------- plugins_iterator.lua: the three iterators

  /**
   * get_global_iterator: plugins configured globally (no route, service or consumer), in execution order, that
   * implement `phase`. Kong uses it where no route is known yet: certificate and rewrite (and log without a route).
   */
  private *globalIterator(phase: Phase): Generator<[LoadedPlugin, ConfiguredPlugin]> {
    for (const plugin of this.executionOrder()) {
      if (!plugin.phases.has(phase)) continue;
      const p = this.lookupConfig(plugin.info.Name);
      if (p) yield [plugin, p];
    }
  }

  /**
   * get_collecting_iterator (access): for each plugin, the most specific config for the matched route, service and
   * the consumer authenticated SO FAR (an earlier plugin's kong.client.authenticate counts), collected for the later
   * phases; yields the collected ones that implement access. The caller keeps iterating after an exit: every
   * plugin is still collected.
   */
  private *collectingIterator(run: RequestRun): Generator<[LoadedPlugin, ConfiguredPlugin]> {
    const { ctx } = run;
    for (const plugin of this.executionOrder()) {
      const p = this.lookupConfig(plugin.info.Name, ctx.route?.id, ctx.service?.id, ctx.consumer?.id);
      if (!p) continue;
      run.collected.push([plugin, p]);
      if (plugin.phases.has('access')) yield [plugin, p];
    }
  }

  /** get_collected_iterator: the plugins the access phase collected that implement `phase`, in order. */
  private *collectedIterator(run: RequestRun, phase: Phase): Generator<[LoadedPlugin, ConfiguredPlugin]> {
    for (const entry of run.collected) if (entry[0].phases.has(phase)) yield entry;
  }

  // ---------------------------------------------------------------- the request (kong/init.lua phase handlers)

  async handle(req: IncomingRequest, opts: HandleOptions = {}): Promise<EmulatedResponse> {
    const run = this.newRun(req, opts);
    const { ctx } = run;
    // ssl_certificate_by_lua: during the TLS handshake; the emulator treats every request as a new connection.
    if (req.scheme === 'https' && !(await this.certificatePhase(run))) {
      run.report.handshakeFailed = true;
      run.resolveLog();
      return { status: 0, headers: new HeaderMap(), body: Buffer.alloc(0), report: run.report };
    }
    await this.rewritePhase(run);
    if (!ctx.exited && !run.unexpected) {
      if (this.routeRequest(run)) {
        await this.accessPhase(run);
        if (!ctx.exited) await this.proxyPhase(run);
      }
    } else if (run.unexpected) {
      this.failUnexpected(run);
    }
    return this.sendResponse(run);
  }

  /** A new request on the next worker (round robin), with the context every phase shares. */
  private newRun(req: IncomingRequest, opts: HandleOptions): RequestRun {
    const worker = this.workers[this.nextWorker++ % this.workers.length];
    let resolveLog!: () => void;
    const report: RequestReport = {
      requestId: randomBytes(16).toString('hex'),
      rpcCalls: 0,
      rpcCallsByPlugin: {},
      events: [],
      failOpen: [],
      pdkCalls: [],
      luaErrors: [],
      bufferedProxying: false,
      logDone: new Promise<void>((r) => (resolveLog = r)),
    };
    // Kong runs nginx with `underscores_in_headers on` (kong/templates/nginx_kong.lua): `X_Auth_Subject` reaches
    // plugins (get_headers key `x_auth_subject`) and the upstream as sent.
    const requestHeaders = HeaderMap.from(req.headers);
    const ctx: RequestContext = {
      id: report.requestId,
      worker: worker.index,
      phase: 'rewrite',
      request: req,
      requestHeaders,
      startTime: Date.now(),
      // kong.service.request.set_header & co. are ngx.req.set_header: they change the request headers that
      // kong.request.get_header(s) return to every later plugin, so both views share one header table.
      serviceRequest: { headers: requestHeaders },
      responseHeaders: new HeaderMap(),
      ctxShared: new Map(),
      ngxCtx: new Map(),
      bufferedProxying: false,
      clientCertRequested: false,
      serializeValues: [],
    };
    return { worker, ctx, report, opts, collected: [], unexpected: false, proxied: false, resolveLog };
  }

  /**
   * Kong.ssl_certificate: global plugins only. A Lua error there aborts the handshake: no HTTP response at all.
   * Returns false when the handshake failed.
   */
  private async certificatePhase(run: RequestRun): Promise<boolean> {
    for (const [plugin, p] of this.globalIterator('certificate')) {
      const r = await this.runEvent(run.worker, plugin, p, 'certificate', run.ctx, run.report);
      if (r !== 'done') return false;
    }
    return true;
  }

  /** Kong.rewrite: global plugins only, until one exits or fails. */
  private async rewritePhase(run: RequestRun): Promise<void> {
    for (const [plugin, p] of this.globalIterator('rewrite')) {
      if (run.ctx.exited || run.unexpected) break;
      const r = await this.runEvent(run.worker, plugin, p, 'rewrite', run.ctx, run.report);
      if (r === 'lua-error') run.unexpected = true;
    }
  }

  /**
   * Kong.access's router step (runloop/handler.lua access.before): the matched route and service, or Kong's own
   * 404 / https redirect. Returns whether a route matched and the request goes on.
   */
  private routeRequest(run: RequestRun): boolean {
    const { ctx } = run;
    const req = ctx.request;
    const match = this.router.match({
      method: req.method,
      path: req.rawPath,
      host: ctx.requestHeaders.first('host') ?? '',
      scheme: req.scheme,
      headers: ctx.requestHeaders.toLowerRecord(),
    });
    if (!match) {
      this.kongError(ctx, 404, 'no Route matched with those values');
      return false;
    }
    if (match.httpsRedirect) {
      this.httpsRedirect(ctx, match.route.https_redirect_status_code);
      return false;
    }
    run.match = match;
    ctx.route = match.route;
    ctx.service = match.service;
    ctx.uriCaptures = match.uriCaptures && splitCaptures(match.uriCaptures);
    ctx.serviceRequest.path = undefined;
    ctx.routed = {
      upstreamPath: match.upstreamPath,
      ...(match.upstreamHost !== undefined ? { upstreamHost: match.upstreamHost } : {}),
    };
    return true;
  }

  /** Kong.access: the collecting iterator; after an exit or a failure the remaining plugins are only collected. */
  private async accessPhase(run: RequestRun): Promise<void> {
    for (const [plugin, p] of this.collectingIterator(run)) {
      if (run.ctx.exited || run.unexpected) continue;
      const r = await this.runAccess(run.worker, plugin, p, run.ctx, run.report);
      if (r === 'lua-error') run.unexpected = true;
    }
    if (run.unexpected) this.failUnexpected(run); // delayed_response 500 from the access coroutine (KONG_UNEXPECTED)
  }

  /**
   * Kong.balancer + proxying, then Kong.response (buffered proxying: the collected response handlers) or
   * header_filter's merge of the upstream headers (streaming).
   */
  private async proxyPhase(run: RequestRun): Promise<void> {
    const { ctx, report } = run;
    const service = ctx.service;
    if (!service) return; // a route without a service: nothing to proxy to
    // Buffered proxying is per request: plugins_iterator.lua (3.9.3 line 398) sets ctx.buffered_proxying when it
    // collects ANY plugin with a `response` handler (external plugins: the dumped Phases), and so does
    // kong.service.request.enable_buffering. init.lua 1243-1256: an upgrade request turns it off again.
    let buffered = run.collected.some(([pl]) => pl.phases.has('response')) || ctx.bufferedProxying;
    const upgrade = upstreamUpgrade(ctx);
    if (buffered && upgrade !== '') {
      this.writeLog(`[notice] response buffering was turned off: connection upgrade (${upgrade})`);
      buffered = false;
    }
    ctx.bufferedProxying = buffered;
    report.bufferedProxying = buffered;
    const mode = buffered ? 'buffered' : 'streaming';
    const upstream = await forwardToUpstream(ctx, run.match!, service, report, this.opts.upstreamAliases, mode);
    if (upstream.stream && !run.opts.stream) {
      upstream.body = await collectBody(upstream.stream);
      upstream.stream = undefined;
    }
    ctx.upstream = upstream;
    run.proxied = true;
    if (buffered) await this.responsePhase(run);
    else {
      ctx.responseHeaders = mergeUpstreamHeaders(ctx.responseHeaders, upstream.headers);
      // ngx_http_upstream_process_headers: r->headers_out.status = u->headers_in.status_n (a status set in access
      // does not survive proxying).
      ctx.responseStatus = upstream.status;
    }
  }

  /** Kong.response: status and headers from the upstream, then the collected response handlers in order. */
  private async responsePhase(run: RequestRun): Promise<void> {
    const { ctx } = run;
    ctx.responseStatus = ctx.upstream!.status;
    for (const [k, v] of ctx.upstream!.headers.entries()) ctx.responseHeaders.set(k, v);
    for (const [plugin, p] of this.collectedIterator(run, 'response')) {
      if (ctx.exited || run.unexpected) break;
      const r = await this.runEvent(run.worker, plugin, p, 'response', ctx, run.report);
      if (r === 'lua-error') run.unexpected = true;
    }
    if (run.unexpected) this.failUnexpected(run);
  }

  /** A Lua error in a handler: Kong answers 500 whatever a plugin had set as the exit. */
  private failUnexpected(run: RequestRun): void {
    run.ctx.exited = undefined;
    this.kongError(run.ctx, 500);
  }

  /** header_filter + body_filter: the response on the wire; then Kong.log once it has been sent. */
  private sendResponse(run: RequestRun): EmulatedResponse {
    const { ctx } = run;
    const response = this.finalResponse(ctx, run.proxied, run.report);
    const upstreamStream = ctx.upstream?.stream;
    if (upstreamStream && !ctx.exited) {
      if (ctx.request.method === 'HEAD') {
        upstreamStream.resume();
        this.logPhase(run, response, 0);
        return response;
      }
      // Kong's log phase runs once the response has been sent (or the client went away).
      let sent = 0;
      const counted = new PassThrough();
      counted.on('data', (c: Buffer) => (sent += c.length));
      pipeline(upstreamStream, counted, () => this.logPhase(run, response, sent));
      response.bodyStream = counted;
      return response;
    }
    this.logPhase(run, response, response.body.length);
    return response;
  }

  /**
   * Kong.log: after the response, in a timer, with saved request data (plugin_servers/plugin.lua save_for_later);
   * the collected iterator once a route matched, else the global one.
   */
  private logPhase(run: RequestRun, response: EmulatedResponse, bodySize: number): void {
    const { ctx } = run;
    const logPlugins = [
      ...(run.collected.length > 0 || ctx.route ? this.collectedIterator(run, 'log') : this.globalIterator('log')),
    ];
    ctx.logSnapshot = this.snapshot(ctx, response, bodySize);
    setImmediate(async () => {
      try {
        for (const [plugin, p] of logPlugins) await this.runEvent(run.worker, plugin, p, 'log', ctx, run.report);
      } catch (err) {
        this.writeLog(`[error] log phase: ${(err as Error).message}`);
      } finally {
        run.resolveLog();
      }
    });
  }

  /** kong.response.error issued by Kong itself (router 404, unexpected 500). */
  private kongError(ctx: RequestContext, status: number, message?: string): void {
    const { body, contentType } = errorBody(status, message, ctx.requestHeaders.first('accept'), ctx.id);
    const headers = new HeaderMap();
    headers.set('Content-Type', contentType);
    ctx.exited = { status, body: Buffer.from(body), headers, source: 'error' };
  }

  /** Route protocols exclude http: handler.lua answers with https_redirect_status_code. */
  private httpsRedirect(ctx: RequestContext, status: number): void {
    const headers = new HeaderMap();
    if (status === 426) {
      headers.set('Content-Type', 'application/json; charset=utf-8');
      headers.set('Connection', 'Upgrade');
      headers.set('Upgrade', 'TLS/1.2, HTTP/1.1');
      ctx.exited = {
        status,
        body: Buffer.from(JSON.stringify({ message: 'Please use HTTPS protocol' })),
        headers,
        source: 'exit',
      };
      return;
    }
    const host = ctx.requestHeaders.first('host') ?? 'localhost';
    const uri = ctx.request.rawQuery ? `${ctx.request.rawPath}?${ctx.request.rawQuery}` : ctx.request.rawPath;
    headers.set('Location', `https://${host.replace(/:\d+$/, '')}${uri}`);
    ctx.exited = { status, body: undefined, headers, source: 'exit' };
  }

  /** What goes on the wire, including the headers Kong adds in header_filter (headers = server_tokens, latency_tokens, X-Kong-Request-Id). */
  private finalResponse(ctx: RequestContext, proxied: boolean, report: RequestReport): EmulatedResponse {
    let status: number;
    let headers: HeaderMap;
    let body: Buffer;
    if (ctx.exited) {
      status = ctx.exited.status;
      headers = ctx.exited.headers;
      body = ctx.exited.body ?? Buffer.alloc(0);
      headers.set('Content-Length', String(body.length));
      headers.set('Server', `kong/${KONG_VERSION}`);
      headers.set('X-Kong-Response-Latency', String(Date.now() - ctx.startTime));
    } else {
      status = ctx.responseStatus ?? ctx.upstream?.status ?? 502;
      headers = ctx.responseHeaders;
      body = ctx.upstream?.body ?? Buffer.alloc(0);
      if (proxied) {
        headers.add('Via', `1.1 kong/${KONG_VERSION}`);
        headers.set('X-Kong-Upstream-Latency', '0');
        headers.set('X-Kong-Proxy-Latency', String(Date.now() - ctx.startTime));
        // handler.lua header_filter.after: a proxied response left without Server gets Kong's (server_tokens).
        if (!headers.has('server')) headers.set('Server', `kong/${KONG_VERSION}`);
      }
      headers.delete('transfer-encoding');
      // A streamed body keeps the upstream's framing: its Content-Length, or chunked when it sent none.
      if (!ctx.upstream?.stream) headers.set('Content-Length', String(body.length));
    }
    headers.set('X-Kong-Request-Id', ctx.id);
    if (ctx.request.method === 'HEAD') body = Buffer.alloc(0);
    return { status, headers, body, report };
  }

  private snapshot(ctx: RequestContext, res: EmulatedResponse, bodySize: number): LogSnapshot {
    // kong/pdk/log.lua serialize (http): uri = request_uri, url = scheme://host:port .. request_uri (query included),
    // querystring = get_query(); then edit_result with the set_serialize_value list (serialize.ts).
    const requestUri = ctx.request.rawQuery ? `${ctx.request.rawPath}?${ctx.request.rawQuery}` : ctx.request.rawPath;
    const hostName = (ctx.requestHeaders.first('host') ?? '').replace(/:\d+$/, '');
    const serialized = {
      request: {
        method: ctx.request.method,
        uri: requestUri,
        url: `${ctx.request.scheme}://${hostName}:${ctx.request.serverPort}${requestUri}`,
        size: ctx.request.body.length,
        querystring: parseQueryArgs(ctx.request.rawQuery, 100),
        headers: ctx.requestHeaders.toLowerRecord(),
        id: ctx.id,
      },
      upstream_uri: normalizePath(ctx.serviceRequest.path ?? ctx.request.rawPath),
      response: { status: res.status, size: bodySize, headers: res.headers.toLowerRecord() },
      route: ctx.route && routeEntity(ctx.route),
      service: ctx.service,
      consumer: ctx.consumer,
      latencies: { request: Date.now() - ctx.startTime, kong: 0, proxy: 0 },
      client_ip: ctx.request.clientIp,
      started_at: ctx.startTime,
      source: ctx.exited ? 'kong' : 'upstream',
      workspace: WS_ID,
    };
    let edited: Record<string, unknown> = serialized;
    try {
      edited = editResult(serialized, ctx.serializeValues);
    } catch (err) {
      this.writeLog(`[error] serialize: ${(err as Error).message}`);
    }
    const text = JSON.stringify(edited);
    // An emulated Kong log plugin (file-log): the serialized entry, one JSON line per request.
    if (this.opts.fileLogPath !== undefined) fs.appendFileSync(this.opts.fileLogPath, `${text}\n`);
    return {
      serialized: text,
      requestHeaders: ctx.requestHeaders,
      responseHeaders: res.headers,
      responseStatus: res.status,
      responseSource: ctx.exited ? ctx.exited.source : 'service',
      reqStartTime: ctx.startTime,
      ctxShared: ctx.ctxShared,
      uriCaptures: ctx.uriCaptures,
    };
  }

  /** Convenience for tests: an HTTP-like request without a socket. */
  request(r: {
    method?: string;
    path: string;
    headers?: Record<string, string | string[]>;
    body?: string | Buffer;
    scheme?: 'http' | 'https';
    clientIp?: string;
    clientCertChainPem?: string;
    /**
     * 2 sends the body as HTTP/2 DATA frames may: without an added Content-Length (RFC 9113 §8.1.1 makes it
     * optional). nginx still reads such a body and get_raw_body returns it (ngx.req.read_body reads the stream).
     */
    httpVersion?: 1.1 | 2;
  }): Promise<EmulatedResponse> {
    const [rawPath, ...q] = r.path.split('?');
    const headers: [string, string][] = [];
    let hasHost = false;
    for (const [k, v] of Object.entries(r.headers ?? {})) {
      if (k.toLowerCase() === 'host') hasHost = true;
      for (const one of Array.isArray(v) ? v : [v]) headers.push([k, one]);
    }
    if (!hasHost) headers.unshift(['Host', 'localhost']);
    const body = typeof r.body === 'string' ? Buffer.from(r.body) : (r.body ?? Buffer.alloc(0));
    const framed = headers.some(
      ([k]) => k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding',
    );
    if (body.length > 0 && !framed && r.httpVersion !== 2) headers.push(['Content-Length', String(body.length)]);
    return this.handle({
      method: r.method ?? 'GET',
      scheme: r.scheme ?? 'http',
      rawPath,
      rawQuery: q.join('?'),
      headers,
      body,
      httpVersion: r.httpVersion ?? 1.1,
      clientIp: r.clientIp ?? '127.0.0.1',
      clientPort: 40000,
      serverPort: r.scheme === 'https' ? 8443 : 8000,
      clientCertChainPem: r.clientCertChainPem,
    });
  }

  /** Instances cached by each worker, for tests of Kong's instance semantics. */
  cachedInstances(): { worker: number; pluginId: string; id: number; seq: number }[] {
    return this.workers.flatMap((w) =>
      [...w.instances.values()].map((i) => ({ worker: w.index, pluginId: i.pluginId, id: i.id, seq: i.seq })),
    );
  }

  /** Total RPC calls made so far on every connection (all workers). */
  totalRpcCalls(): number {
    return this.workers.reduce((n, w) => n + [...w.rpc.values()].reduce((m, c) => m + c.stats.calls, 0), 0);
  }

  /** The Lua plugins loaded (kong.conf `plugins`). */
  get luaPlugins(): readonly string[] {
    return this.lua?.loadedLuaPlugins ?? [];
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.workers) for (const c of w.rpc.values()) c.close();
    await Promise.all(this.processes.map((p) => p.stop()));
    fs.rmSync(this.prefix, { recursive: true, force: true });
  }
}

class InstanceClaimTimeout extends Error {}

/** The request would never end in Kong (see EmulatorOptions.noInstanceRetryLimit). */
export class EndlessRetryError extends Error {}

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly plugin: string,
    readonly violation?: unknown,
  ) {
    super(message);
  }
}

function collectBody(stream: Readable): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    // Cut short (upstream closed or timed out mid-body): the client gets what had arrived.
    stream.on('error', () => resolve(Buffer.concat(chunks)));
    stream.on('aborted', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * Unbuffered proxying: what the client gets when plugins set response headers in rewrite/access
 * (kong.response.set_header is `ngx.header[name] = value`, kong/pdk/response.lua 3.9.3 line 434) and the upstream
 * sends headers of the same names. nginx 1.25.3 (OpenResty 1.25.3.2 in Kong 3.9), ngx_http_upstream_process_headers
 * (ngx_http_upstream.c lines 2891-2934): every upstream header is APPENDED to r->headers_out.headers
 * (ngx_http_upstream_copy_header_line, line 5298); nothing set before is removed, so both values are sent, the
 * access-phase one first. Exceptions: Content-Type replaces the earlier value (ngx_http_upstream_copy_content_type,
 * line 5345) and Content-Length is the upstream's (ignored as a line, content_length_n copied at line 2947).
 */
export function mergeUpstreamHeaders(accessPhase: HeaderMap, upstream: HeaderMap): HeaderMap {
  const merged = accessPhase.clone();
  for (const [name, values] of upstream.entries()) {
    const lower = name.toLowerCase();
    if (lower === 'content-type' || lower === 'content-length') {
      merged.delete(name);
      merged.set(name, values);
      continue;
    }
    for (const v of values) merged.add(name, v);
  }
  return merged;
}

/** Lua tables: an empty table is packed as an empty array (lua-MessagePack), so `{}` travels as `[]`. */
function toLuaWire(v: unknown): unknown {
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toLuaWire);
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return [];
  return Object.fromEntries(entries.map(([k, x]) => [k, toLuaWire(x)]));
}

/**
 * Kong unpacks Args into a Lua table and calls `method(unpack(args))`: with a nil in the middle, where unpack stops
 * is unspecified (../../docs/kong-protocol.md §1.5). The emulator takes the pessimistic border, the first nil, so a
 * plugin that writes `exit(403, undefined, headers)` loses its headers here as it may in Kong.
 */
function luaArgs(args: unknown[]): unknown[] {
  const hole = args.findIndex((a) => a === null || a === undefined);
  return hole < 0 ? args : args.slice(0, hole);
}

/** The plugin's own fields: the `config` record of the schema the plugin server dumped. */
function configFields(info: PluginInfo) {
  return info.Schema.fields[0]?.config?.fields ?? [];
}

/** kong.request.get_uri_captures: numbered captures are `unnamed`, named groups `named`. */
function splitCaptures(captures: Record<string, string>): { unnamed: string[]; named: Record<string, string> } {
  const unnamed: string[] = [];
  const named: Record<string, string> = {};
  for (const [k, v] of Object.entries(captures)) {
    if (/^\d+$/.test(k)) unnamed[Number(k)] = v;
    else named[k] = v;
  }
  return { unnamed, named };
}

function findConsumer(consumers: Consumer[], key: string, byUsername: boolean): Consumer | undefined {
  return consumers.find((c) => c.id === key) ?? (byUsername ? consumers.find((c) => c.username === key) : undefined);
}

function addCidr(list: BlockList, cidr: string): void {
  const [addr, bits] = cidr.split('/');
  const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(addr, type);
  else list.addSubnet(addr, Number(bits), type);
}

function isTrusted(list: BlockList, ip: string): boolean {
  try {
    return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
  } catch {
    return false;
  }
}
