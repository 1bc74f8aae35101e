// Event lifecycle. An "event" is one run of a plugin handler for one phase of one request; Kong drives it
// with HandleEvent then one Step per PDK call (kong/runloop/plugin_servers/rpc/mp_rpc.lua bridge_loop).
//
// The channel between the handler and the RPC side has the semantics of kong-pdk's PipePair (lib/pipe.js): two
// unbounded FIFO queues crossed over, a `get` waiting for the next `put`. It is a leaner copy (no promise per `put`
// when nobody waits yet), since every PDK call crosses it twice. The handler's `kong` object is the PDK bridge of
// ./bridge.ts on top of it (kong-pdk's plugin API). What is added here is the end of an event, which the stock
// server only knows for "ret":
//   - kong.response.exit/error: Kong never steps an exited event (§1.9 of ../../docs/kong-protocol.md), so it ends
//     as soon as that call is handed to Kong;
//   - the handler returned ("ret");
//   - the reply could not reach Kong (connection closed while Kong waited, unencodable PDK arguments);
//   - no request for the event within the idle TTL (Kong read-timed out, or a PDK call raised a Lua error,
//     after which Kong never sends another Step);
//   - shutdown.
// After the end, any PDK call the plugin still makes is answered at once with an error (a PDKError in the
// plugin) instead of waiting forever for a Step that will not come.

/** The channel the PDK bridge calls through: `put({Method, Args})`, then `get()` → `[result, error]`. */
export interface PdkPipe {
  put(message: unknown): void;
  get(): Promise<[unknown, unknown]>;
}

/** An unbounded FIFO: `get` takes the oldest value put, or waits for the next one (waiters served in order). */
class Channel<T> {
  private readonly values: T[] = [];
  private readonly waiters: ((value: T) => void)[] = [];

  put(value: T): void {
    if (this.waiters.length > 0) this.waiters.shift()!(value);
    else this.values.push(value);
  }

  /** True while a `get` is waiting for a value. */
  get awaited(): boolean {
    return this.waiters.length > 0;
  }

  get(): Promise<T> {
    if (this.values.length > 0) return Promise.resolve(this.values.shift()!);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** What the plugin side sends: a PDK call or the end of the handler. */
export type PluginMessage = 'ret' | { Method: string; Args: unknown[] };

export const RET = 'ret';

// pdk.js returns from these at once without waiting for a Step (its NON_RETURN_METHODS), and Kong stops
// stepping the event after running them.
const EXIT_METHODS: ReadonlySet<string> = new Set(['kong.response.exit', 'kong.response.error']);

export function isExitCall(message: PluginMessage): boolean {
  return message !== RET && EXIT_METHODS.has(message.Method);
}

/** What `nextMessage` resolves to once the event has ended (instead of the plugin's next message). */
export const ENDED = Symbol('event ended');

/** Whoever carries the RPCs of an event (a socket connection). */
export interface EventCarrier {
  /** The event whose request this carrier is processing right now, if any. */
  current: PluginEvent | null;
}

export class PluginEvent {
  /** The carrier whose request for this event is being processed; null while Kong holds the last reply. */
  inFlightOn: EventCarrier | null = null;
  lastActivity = Date.now();
  /** Why the event ended, or null while it is live. */
  endReason: string | null = null;
  /** The pipe handed to the PDK bridge. */
  readonly pluginPipe: PdkPipe;
  /** What the plugin sends (its PDK calls, "ret"), read by the RPC side. */
  private readonly fromPlugin = new Channel<unknown>();
  /** Kong's results of the plugin's PDK calls (`[result, error]`), read by the plugin. */
  private readonly toPlugin = new Channel<[unknown, unknown]>();

  constructor(
    readonly id: number,
    readonly pluginName: string,
    private readonly onEnd: (event: PluginEvent) => void,
  ) {
    this.pluginPipe = {
      put: (message) => {
        if (this.endReason === null) this.fromPlugin.put(message);
      },
      get: () => (this.endReason === null ? this.toPlugin.get() : Promise.resolve([undefined, this.endedError()])),
    };
  }

  /** Waits for the plugin's next message; ENDED if the event ends meanwhile (then `endedError()` says why). */
  nextMessage(): Promise<PluginMessage | typeof ENDED> {
    return this.fromPlugin.get() as Promise<PluginMessage | typeof ENDED>;
  }

  /** Hands Kong's result of the pending PDK call to the plugin (`[result, error]`, as pdk.js expects). */
  resume(result: unknown, error?: unknown): void {
    this.toPlugin.put([result, error]);
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  /** Ends the event once; wakes both sides if they are waiting. */
  end(reason: string): void {
    if (this.endReason !== null) return;
    this.endReason = reason;
    // A PDK call waiting for its Step fails now (a later one fails in pluginPipe.get, so nothing is queued if none
    // waits: most events end with "ret", when the handler waits for nothing).
    if (this.toPlugin.awaited) this.toPlugin.put([undefined, this.endedError()]);
    this.fromPlugin.put(ENDED); // an RPC waiting for the plugin's next message fails now
    this.onEnd(this);
  }

  endedError(): string {
    return `event ${this.id} has ended (${this.endReason})`;
  }
}

/** The live events, by id. Ended events are removed at once. */
export class EventTable {
  private readonly events = new Map<number, PluginEvent>();
  // Ids start at a random offset so that after a restart a Step carrying an id of the previous process
  // (Kong keeps going on its side) gets "event id N not found" instead of reaching another request's event.
  private nextId: number;

  /** Ids ≡ `index` (mod `stride`): with workers, an event id names the worker that runs the event. */
  constructor(
    private readonly stride = 1,
    private readonly index = 0,
  ) {
    const base = randomIdBase();
    this.nextId = base - (base % stride) + index + (base % stride > index ? stride : 0);
  }

  get size(): number {
    return this.events.size;
  }

  create(pluginName: string): PluginEvent {
    const id = this.nextId;
    this.nextId = id + this.stride > 0x7fffffff ? this.stride + this.index : id + this.stride;
    const event = new PluginEvent(id, pluginName, (e) => this.events.delete(e.id));
    this.events.set(id, event);
    return event;
  }

  get(id: unknown): PluginEvent | undefined {
    return typeof id === 'number' ? this.events.get(id) : undefined;
  }

  /** Ends every event with no request from Kong for `ttlMs`. Returns how many. */
  endIdle(ttlMs: number, now = Date.now()): number {
    let ended = 0;
    for (const event of [...this.events.values()]) {
      if (now - event.lastActivity >= ttlMs) {
        event.end(`no request from Kong for ${Math.round((now - event.lastActivity) / 1000)} s`);
        ended++;
      }
    }
    return ended;
  }

  endAll(reason: string): void {
    for (const event of [...this.events.values()]) event.end(reason);
  }
}

/** A random start for 31-bit ids (MessagePack ints that Lua numbers hold exactly). */
export function randomIdBase(): number {
  return 1 + Math.floor(Math.random() * 0x3fffffff);
}
