// The RPC methods of the plugin server (the Kong side is kong/runloop/plugin_servers/rpc/mp_rpc.lua):
// request `[0, msgid, "plugin.<Method>", [arg]]`, reply `[1, msgid, error|nil, result|nil]`.
// One server object holds the instance and event tables for every plugin and every socket.
import { Encoder } from '@msgpack/msgpack';
import PDK = require('kong-pdk/pdk');
import type { Instance } from 'kong-pdk/lib/mod';
import { EventCarrier, EventTable, PluginEvent, RET, isExitCall, randomIdBase } from './events';
import { JsonLogger, errorMessage } from './log';
import { LoadedPlugin, PluginInfo, pluginInfo } from './plugins';

export interface RpcConnection extends EventCarrier {
  /** The plugin a per-plugin socket is dedicated to; null for a socket that serves every plugin. */
  readonly scope: string | null;
  /** False once the peer has gone: nothing more can be delivered on it. */
  alive: boolean;
}

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

type Method = (arg: unknown, conn: RpcConnection) => Promise<unknown>;

/** Phases in which Kong accepts kong.response.exit from a plugin (kong/pdk/response.lua). */
const EXIT_PHASES = new Set(['rewrite', 'access', 'response']);

export class PluginServer {
  readonly events = new EventTable();
  private readonly instances = new Map<number, LiveInstance>();
  // Random start: after a restart, ids Kong cached from the previous process get "no plugin instance #N"
  // (Kong then restarts its instances) instead of silently naming another plugin's new instance.
  private nextInstanceId = randomIdBase();
  private readonly encoder = new Encoder();
  private readonly methods: ReadonlyMap<string, Method>;

  constructor(
    readonly plugins: ReadonlyMap<string, LoadedPlugin>,
    private readonly log: JsonLogger,
  ) {
    const step: Method = (arg, conn) => this.step(arg, conn, false);
    // A Map, not `this[cmd]` as in kong-pdk's listener.js, so no other property is callable over RPC.
    this.methods = new Map<string, Method>([
      ['StartInstance', (arg, conn) => this.startInstance(arg, conn)],
      ['CloseInstance', (arg, conn) => this.closeInstance(arg, conn)],
      ['HandleEvent', (arg, conn) => this.handleEvent(arg, conn)],
      // Kong picks the Step variant by PDK method (get_step_method); all carry {EventId, Data}.
      ['Step', step],
      ['StepMultiMap', step],
      ['StepCredential', step],
      ['StepConsumer', step],
      ['StepRoute', step],
      ['StepService', step],
      ['StepMemoryStats', step],
      ['StepError', (arg, conn) => this.step(arg, conn, true)], // Kong 2.x only
      // {Gc: true} collects garbage first when node runs with --expose-gc (soak tests compare heaps).
      [
        'GetStatus',
        async (arg) => this.status(typeof arg === 'object' && arg !== null && (arg as { Gc?: unknown }).Gc === true),
      ],
      ['GetPluginInfo', async (arg) => this.pluginInfo(arg)],
    ]);
  }

  get instanceCount(): number {
    return this.instances.size;
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
    const [, msgid, fullMethod, params] = message as [0, unknown, unknown, unknown];
    if (typeof msgid !== 'number') {
      this.log.warn('ignoring an RPC request without a numeric msgid');
      return null;
    }
    let result: unknown;
    try {
      result = await this.call(fullMethod, params, conn);
    } catch (err) {
      const text = errorMessage(err);
      if (!(err instanceof RpcError)) this.log.warn('rpc failed', { method: fullMethod, error: text });
      return this.encoder.encode([1, msgid, text, null]);
    }
    const event = this.replyEvent(result);
    try {
      const reply = this.encoder.encode([1, msgid, null, result ?? null]);
      // Kong can only step an event whose reply it received.
      if (event && !conn.alive) event.end('the connection closed before the reply was sent');
      return reply;
    } catch (err) {
      // E.g. a function among a PDK call's arguments. Kong logs the RPC error and never steps the event.
      const text = `could not encode the reply: ${errorMessage(err)}`;
      event?.end(text);
      this.log.warn('rpc reply could not be encoded', { method: fullMethod, error: text });
      return this.encoder.encode([1, msgid, text, null]);
    }
  }

  private async call(fullMethod: unknown, params: unknown, conn: RpcConnection): Promise<unknown> {
    if (typeof fullMethod !== 'string') throw new RpcError('method name must be a string');
    const dot = fullMethod.indexOf('.');
    const namespace = dot < 0 ? fullMethod : fullMethod.slice(0, dot);
    const name = dot < 0 ? '' : fullMethod.slice(dot + 1);
    if (namespace !== 'plugin') throw new RpcError(`RPC for ${namespace} is not supported`);
    const method = this.methods.get(name);
    if (!method) throw new RpcError(`method ${name} not implemented`);
    this.log.debug('rpc', { method: name });
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
    const id = this.nextInstanceId;
    this.nextInstanceId = this.nextInstanceId >= 0x7fffffff ? 1 : this.nextInstanceId + 1;
    const live: LiveInstance = { id, pluginName: Name, config, startTime: Date.now() / 1000, instance };
    this.instances.set(id, live);
    this.log.info('instance started', { plugin: Name, instance: id });
    return { Name, Id: id, Config: config, StartTime: live.startTime };
  }

  private async closeInstance(arg: unknown, conn: RpcConnection): Promise<unknown> {
    const live = this.instanceFor(arg, conn);
    live.instance.close();
    this.instances.delete(live.id);
    this.log.info('instance closed', { plugin: live.pluginName, instance: live.id });
    return { Name: live.pluginName, Id: live.id, Config: live.config };
  }

  private async handleEvent(arg: unknown, conn: RpcConnection): Promise<EventStep> {
    const { InstanceId, EventName } = (arg ?? {}) as { InstanceId?: unknown; EventName?: unknown };
    const live = this.instanceFor(InstanceId, conn);
    if (typeof EventName !== 'string') throw new RpcError('HandleEvent needs {InstanceId, EventName}');
    const event = this.events.create(live.pluginName);
    const kong = new PDK(event.pluginPipe).kong;
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

  private async step(arg: unknown, conn: RpcConnection, isError: boolean): Promise<EventStep> {
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

  private async pluginInfo(name: unknown): Promise<PluginInfo> {
    const plugin = typeof name === 'string' ? this.plugins.get(name) : undefined;
    if (!plugin) throw new RpcError(`plugin "${String(name)}" is not loaded`);
    return pluginInfo(plugin);
  }
}
