// The RPC methods of the plugin server (the Kong side is kong/runloop/plugin_servers/rpc/mp_rpc.lua):
// request `[0, msgid, "plugin.<Method>", [arg]]`, reply `[1, msgid, error|nil, result|nil]`.
// One server object holds the instance and event tables for every plugin and every socket.
import type { Instance } from 'kong-pdk/lib/mod';
import { newKongBridge } from './bridge';
import { ENDED, EventCarrier, EventTable, PluginEvent, RET, isExitCall, randomIdBase } from './events';
import { JsonLogger, errorMessage } from './log';
import { LoadedPlugin, PluginInfo, pluginInfo } from './plugins';
import { ReplyEncoder } from './reply-encoder';
import { PeerLink, PeerOp, ownerOf } from './workers';

export interface RpcConnection extends EventCarrier {
  /** The plugin a per-plugin socket is dedicated to; null for a socket that serves every plugin. */
  readonly scope: string | null;
  /** False once the peer has gone: nothing more can be delivered on it. */
  alive: boolean;
  /** Called once when the peer goes (set while a request is forwarded to another worker). */
  onClose?: (() => void) | null;
}

/** A connection of another worker, whose request for one of this worker's events was forwarded here. */
class ForwardedConnection implements RpcConnection {
  current: PluginEvent | null = null;
  alive = true;
  constructor(readonly scope: string | null) {}
}

const STEP_METHODS = new Set([
  'plugin.Step',
  'plugin.StepMultiMap',
  'plugin.StepCredential',
  'plugin.StepConsumer',
  'plugin.StepRoute',
  'plugin.StepService',
  'plugin.StepMemoryStats',
  'plugin.StepError',
]);

export interface ServerStatus {
  Pid: number;
  Events: number;
  Instances: number;
  Heap: number;
  Rss: number;
  Plugins: string[];
}

interface LiveInstance {
  readonly id: number;
  readonly pluginName: string;
  readonly config: unknown;
  readonly startTime: number;
  readonly instance: Instance;
}

/** `{EventId, Data}`: what HandleEvent and every Step reply. */
interface EventStep {
  EventId: number;
  Data: unknown;
}

class RpcError extends Error {}

/** An RPC method: its result, or a promise of it (a synchronous throw is an error reply like a rejection). */
type Method = (arg: unknown, conn: RpcConnection) => unknown;

/** Phases in which Kong accepts kong.response.exit from a plugin (kong/pdk/response.lua). */
const EXIT_PHASES = new Set(['rewrite', 'access', 'response']);

export class PluginServer {
  readonly events: EventTable;
  private readonly instances = new Map<number, LiveInstance>();
  // Random start: after a restart, ids Kong cached from the previous process get "no plugin instance #N"
  // (Kong then restarts its instances) instead of silently naming another plugin's new instance.
  // With workers, ids are ≡ this worker's index (mod the worker count): the id names its owner.
  private nextInstanceId: number;
  private readonly encoder = new ReplyEncoder();
  private readonly methods: ReadonlyMap<string, Method>;
  private readonly forwarded = new Map<string, ForwardedConnection>();
  private nextForwardKey = 1;

  constructor(
    readonly plugins: ReadonlyMap<string, LoadedPlugin>,
    private readonly log: JsonLogger,
    private readonly peers: PeerLink | null = null,
  ) {
    const count = peers?.count ?? 1;
    const index = peers?.index ?? 0;
    this.events = new EventTable(count, index);
    this.nextInstanceId = alignId(randomIdBase(), count, index);
    const step: Method = (arg, conn) => this.step(arg, conn, false);
    // A Map, not `this[cmd]` as in kong-pdk's listener.js, so no other property is callable over RPC; keyed by the
    // full name Kong sends, so the common case slices no string.
    this.methods = new Map<string, Method>([
      ['plugin.StartInstance', (arg, conn) => this.startInstance(arg, conn)],
      ['plugin.CloseInstance', (arg, conn) => this.closeInstance(arg, conn)],
      ['plugin.HandleEvent', (arg, conn) => this.handleEvent(arg, conn)],
      // Kong picks the Step variant by PDK method (get_step_method); all carry {EventId, Data}.
      ['plugin.Step', step],
      ['plugin.StepMultiMap', step],
      ['plugin.StepCredential', step],
      ['plugin.StepConsumer', step],
      ['plugin.StepRoute', step],
      ['plugin.StepService', step],
      ['plugin.StepMemoryStats', step],
      ['plugin.StepError', (arg, conn) => this.step(arg, conn, true)], // Kong 2.x only
      // {Gc: true} collects garbage first when node runs with --expose-gc (soak tests compare heaps).
      [
        'plugin.GetStatus',
        async (arg) =>
          this.aggregateStatus(typeof arg === 'object' && arg !== null && (arg as { Gc?: unknown }).Gc === true),
      ],
      ['plugin.GetPluginInfo', (arg) => this.pluginInfo(arg)],
    ]);
  }

  get instanceCount(): number {
    return this.instances.size;
  }

  /** Local figures, plus every other worker's events, heap and RSS when there are workers. */
  private async aggregateStatus(collectGarbage: boolean): Promise<ServerStatus> {
    const local = this.status(collectGarbage);
    if (!this.peers) return local;
    const others = await Promise.all(
      this.otherWorkers().map(
        (w) => this.peers!.call(w, { kind: 'status', gc: collectGarbage }) as Promise<ServerStatus>,
      ),
    );
    for (const o of others) {
      local.Events += o.Events;
      local.Heap += o.Heap;
      local.Rss += o.Rss;
    }
    local.Pid = process.ppid; // the primary: the process Kong started
    return local;
  }

  private otherWorkers(): number[] {
    if (!this.peers) return [];
    const list: number[] = [];
    for (let i = 0; i < this.peers.count; i++) if (i !== this.peers.index) list.push(i);
    return list;
  }

  /** Answers another worker's call (see workers.ts). */
  async handlePeer(op: PeerOp, from: number): Promise<unknown> {
    switch (op.kind) {
      case 'start': {
        const plugin = this.plugins.get(op.name);
        if (!plugin) throw new Error(`plugin "${op.name}" is not loaded`);
        const config: unknown = JSON.parse(op.config);
        const instance = plugin.module.new(config);
        this.instances.set(op.id, { id: op.id, pluginName: op.name, config, startTime: Date.now() / 1000, instance });
        return null;
      }
      case 'close': {
        const live = this.instances.get(op.id);
        if (live) {
          this.instances.delete(op.id);
          live.instance.close();
        }
        return null;
      }
      case 'request': {
        const conn = new ForwardedConnection(op.scope);
        const key = `${from}:${op.key}`;
        this.forwarded.set(key, conn);
        try {
          return await this.handleRequest(op.message, conn);
        } finally {
          this.forwarded.delete(key);
        }
      }
      case 'closed': {
        const conn = this.forwarded.get(`${from}:${op.key}`);
        if (conn) {
          conn.alive = false;
          conn.current?.end('the connection closed while Kong waited for the reply');
        }
        return null;
      }
      case 'status':
        return this.status(op.gc);
    }
  }

  /** A Step for an event another worker runs: that worker answers it; the reply goes out on this connection. */
  private async forward(owner: number, message: unknown, conn: RpcConnection): Promise<Uint8Array | null> {
    const key = this.nextForwardKey++;
    conn.onClose = () => void this.peers!.call(owner, { kind: 'closed', key }).catch(() => undefined);
    try {
      const reply = (await this.peers!.call(owner, {
        kind: 'request',
        message,
        scope: conn.scope,
        key,
      })) as Uint8Array | null;
      return reply;
    } finally {
      conn.onClose = null;
    }
  }

  status(collectGarbage = false): ServerStatus {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (collectGarbage && gc) gc();
    const mem = process.memoryUsage();
    return {
      Pid: process.pid,
      Events: this.events.size,
      Instances: this.instances.size,
      Heap: mem.heapUsed,
      Rss: mem.rss,
      Plugins: [...this.plugins.keys()],
    };
  }

  /**
   * Handles one decoded message and returns the encoded reply (null for a message that gets none).
   * The caller writes it with a single write.
   */
  async handleRequest(message: unknown, conn: RpcConnection): Promise<Uint8Array | null> {
    if (!Array.isArray(message) || message[0] !== 0) {
      this.log.warn('ignoring a message that is not an RPC request', {
        type: Array.isArray(message) ? message[0] : typeof message,
      });
      return null;
    }
    const msgid: unknown = message[1];
    const fullMethod: unknown = message[2];
    const params: unknown = message[3];
    if (typeof msgid !== 'number') {
      this.log.warn('ignoring an RPC request without a numeric msgid');
      return null;
    }
    if (this.peers && typeof fullMethod === 'string' && STEP_METHODS.has(fullMethod) && Array.isArray(params)) {
      const eventId = (params[0] as { EventId?: unknown } | undefined)?.EventId;
      if (typeof eventId === 'number' && Number.isInteger(eventId) && eventId > 0) {
        const owner = ownerOf(eventId, this.peers.count);
        if (owner !== this.peers.index) {
          try {
            return await this.forward(owner, message, conn);
          } catch (err) {
            // The owner is gone (the plugin server is stopping): an error, never a silent skip on this side.
            return this.encoder.encodeReply(msgid, `event id ${eventId} not found (${errorMessage(err)})`, null);
          }
        }
      }
    }
    let result: unknown;
    try {
      // call() is synchronous up to the method's own promise (Steps: the plugin's next message), so a Step costs
      // one await here and one in advance(), not one per call level.
      result = await this.call(fullMethod, params, conn);
    } catch (err) {
      const text = errorMessage(err);
      if (!(err instanceof RpcError)) this.log.warn('rpc failed', { method: fullMethod, error: text });
      return this.encoder.encodeReply(msgid, text, null);
    }
    const event = this.replyEvent(result);
    try {
      const reply = this.encoder.encodeReply(msgid, null, result);
      // Kong can only step an event whose reply it received.
      if (event && !conn.alive) event.end('the connection closed before the reply was sent');
      return reply;
    } catch (err) {
      // E.g. a function among a PDK call's arguments. Kong logs the RPC error and never steps the event.
      const text = `could not encode the reply: ${errorMessage(err)}`;
      event?.end(text);
      this.log.warn('rpc reply could not be encoded', { method: fullMethod, error: text });
      return this.encoder.encodeReply(msgid, text, null);
    }
  }

  private call(fullMethod: unknown, params: unknown, conn: RpcConnection): unknown {
    if (typeof fullMethod !== 'string') throw new RpcError('method name must be a string');
    const method = this.methods.get(fullMethod);
    if (method === undefined) {
      const dot = fullMethod.indexOf('.');
      const namespace = dot < 0 ? fullMethod : fullMethod.slice(0, dot);
      const name = dot < 0 ? '' : fullMethod.slice(dot + 1);
      if (namespace !== 'plugin') throw new RpcError(`RPC for ${namespace} is not supported`);
      throw new RpcError(`method ${name} not implemented`);
    }
    if (this.log.debugEnabled) this.log.debug('rpc', { method: fullMethod.slice('plugin.'.length) });
    // Kong packs its varargs as an array and always passes exactly one argument.
    return method(Array.isArray(params) ? params[0] : undefined, conn);
  }

  /** The live event a successful HandleEvent/Step result belongs to, if the event is still live. */
  private replyEvent(result: unknown): PluginEvent | undefined {
    if (typeof result !== 'object' || result === null || !('EventId' in result)) return undefined;
    const event = this.events.get((result as EventStep).EventId);
    return event?.endReason === null ? event : undefined;
  }

  private async startInstance(arg: unknown, conn: RpcConnection): Promise<unknown> {
    const { Name, Config } = (arg ?? {}) as { Name?: unknown; Config?: unknown };
    if (typeof Name !== 'string') throw new RpcError('StartInstance needs {Name, Config}');
    const plugin = this.plugins.get(Name);
    if (!plugin) throw new RpcError(`plugin "${Name}" is not loaded`);
    if (conn.scope !== null && conn.scope !== Name) {
      throw new RpcError(`plugin "${Name}" is not served on the socket of "${conn.scope}"`);
    }
    if (typeof Config !== 'string') throw new RpcError('StartInstance Config must be a JSON string');
    const config: unknown = JSON.parse(Config);
    const instance = plugin.module.new(config); // `new Plugin(config)`; a throwing constructor is an RPC error
    const count = this.peers?.count ?? 1;
    const id = this.nextInstanceId;
    this.nextInstanceId = id + count > 0x7fffffff ? alignId(1, count, this.peers?.index ?? 0) : id + count;
    const live: LiveInstance = { id, pluginName: Name, config, startTime: Date.now() / 1000, instance };
    this.instances.set(id, live);
    if (this.peers) {
      // Kong sends this instance's events on any connection: every worker has it before Kong learns its id.
      try {
        await Promise.all(
          this.otherWorkers().map((w) => this.peers!.call(w, { kind: 'start', id, name: Name, config: Config })),
        );
      } catch (err) {
        this.instances.delete(id);
        instance.close();
        await Promise.all(this.otherWorkers().map((w) => this.peers!.call(w, { kind: 'close', id }).catch(() => null)));
        throw new RpcError(`instance could not start on every worker: ${errorMessage(err)}`);
      }
    }
    this.log.info('instance started', { plugin: Name, instance: id });
    return { Name, Id: id, Config: config, StartTime: live.startTime };
  }

  private async closeInstance(arg: unknown, conn: RpcConnection): Promise<unknown> {
    const live = this.instanceFor(arg, conn);
    live.instance.close();
    this.instances.delete(live.id);
    await Promise.all(this.otherWorkers().map((w) => this.peers!.call(w, { kind: 'close', id: live.id })));
    this.log.info('instance closed', { plugin: live.pluginName, instance: live.id });
    return { Name: live.pluginName, Id: live.id, Config: live.config };
  }

  private handleEvent(arg: unknown, conn: RpcConnection): Promise<EventStep> {
    const { InstanceId, EventName } = (arg ?? {}) as { InstanceId?: unknown; EventName?: unknown };
    const live = this.instanceFor(InstanceId, conn);
    if (typeof EventName !== 'string') throw new RpcError('HandleEvent needs {InstanceId, EventName}');
    const event = this.events.create(live.pluginName);
    const kong = newKongBridge(event.pluginPipe);
    // Like server.js: start the handler on a later turn so a synchronous plugin cannot starve socket I/O.
    setImmediate(() => void this.runHandler(live, EventName, kong, event));
    return this.advance(event, conn);
  }

  private async runHandler(live: LiveInstance, phase: string, kong: unknown, event: PluginEvent): Promise<void> {
    try {
      await live.instance.executePhase(phase, kong);
    } catch (err) {
      // server.js logs and answers "ret", and Kong then proxies the request: fail-open. Here the request is
      // ended with Kong's 500 instead, in the phases where Kong allows an exit (and while the event is live).
      const failClosed = event.endReason === null && EXIT_PHASES.has(phase);
      this.log.warn('unhandled exception in plugin handler', {
        plugin: live.pluginName,
        phase,
        instance: live.id,
        event: event.id,
        eventEnded: event.endReason,
        answer: failClosed ? 'kong.response.exit(500)' : 'ret',
        error: err instanceof Error ? (err.stack ?? err.message) : errorMessage(err),
      });
      if (failClosed) {
        event.pluginPipe.put({
          Method: 'kong.response.exit',
          Args: [500, { message: 'An unexpected error occurred' }],
        });
        return;
      }
    }
    event.pluginPipe.put(RET);
  }

  private step(arg: unknown, conn: RpcConnection, isError: boolean): Promise<EventStep> {
    const { EventId, Data } = (arg ?? {}) as { EventId?: unknown; Data?: unknown };
    const event = this.events.get(EventId);
    if (!event || (conn.scope !== null && conn.scope !== event.pluginName)) {
      throw new RpcError(`event id ${String(EventId)} not found`);
    }
    if (event.inFlightOn) throw new RpcError(`event id ${event.id} is already being stepped`);
    if (isError) event.resume(undefined, Data);
    else event.resume(Data);
    return this.advance(event, conn);
  }

  /** Waits for the plugin's next message and ends the event if Kong will not step it again. */
  private async advance(event: PluginEvent, conn: RpcConnection): Promise<EventStep> {
    event.inFlightOn = conn;
    conn.current = event;
    event.touch();
    try {
      const message = await event.nextMessage();
      if (message === ENDED) throw new Error(event.endedError());
      if (message === RET) event.end('the handler returned');
      else if (isExitCall(message)) event.end(`${message.Method} was called`);
      return { EventId: event.id, Data: message };
    } catch (err) {
      throw new RpcError(errorMessage(err));
    } finally {
      event.inFlightOn = null;
      if (conn.current === event) conn.current = null;
      event.touch();
    }
  }

  private instanceFor(id: unknown, conn: RpcConnection): LiveInstance {
    const live = typeof id === 'number' ? this.instances.get(id) : undefined;
    // Kong matches "no plugin instance" to restart its instances (mp_rpc.lua handle_event).
    if (!live || (conn.scope !== null && conn.scope !== live.pluginName)) {
      throw new RpcError(`no plugin instance #${String(id)}`);
    }
    return live;
  }

  private pluginInfo(name: unknown): PluginInfo {
    const plugin = typeof name === 'string' ? this.plugins.get(name) : undefined;
    if (!plugin) throw new RpcError(`plugin "${String(name)}" is not loaded`);
    return pluginInfo(plugin);
  }
}

/** The first id ≥ `from` that is ≡ `index` (mod `count`). */
function alignId(from: number, count: number, index: number): number {
  const id = from - (from % count) + index;
  return id >= from ? id : id + count;
}
