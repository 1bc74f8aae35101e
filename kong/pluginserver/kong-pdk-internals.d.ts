// Types for the parts of kong-pdk 0.6.0 that bulwark-pluginserver reuses by `require`. kong-pdk ships
// typings only for the plugin-facing PDK (`kong-pdk/kong`), not for these server-side internals.

declare module 'kong-pdk/pdk' {
  /** The channel pdk.js talks through: `put` a `{Method, Args}` call, then `get` resolves to `[result, error]`. */
  interface PdkPipe {
    put(message: unknown): void;
    get(): Promise<[unknown, unknown]>;
  }
  class Kong {
    /** pdk.js PDKError: what a failed PDK call rejects with. */
    static readonly Error: new (message?: string) => Error;
    constructor(pipe: PdkPipe);
    /** The Proxy that turns `kong.request.getHeader(x)` into `{Method: "kong.request.get_header", Args: [x]}`. */
    readonly kong: unknown;
  }
  export = Kong;
}

declare module 'kong-pdk/lib/mod' {
  /** One configured plugin object (`new Plugin(config)`), as StartInstance creates it. */
  export class Instance {
    executePhase(phase: string, kong: unknown): unknown;
    getName(): string;
    getConfig(): unknown;
    getStartTime(): number;
    close(): void;
  }
  /** A loaded plugin module: `(Name || name).toLowerCase()`, its phases, priority, version and schema. */
  export class Module {
    constructor(name: string, path: string);
    readonly name: string;
    new(config: unknown): Instance;
    getPhases(): string[];
    getPriority(): unknown;
    getVersion(): unknown;
    getSchema(): unknown;
  }
}

declare module 'kong-pdk/lib/pipe' {
  interface Pipe {
    get(): Promise<unknown>;
    put(value: unknown): void;
  }
  /** Two unbounded async queues crossed over: what one end `put`s, the other end `get`s. */
  class PipePair {
    getPair(): [Pipe, Pipe];
  }
  export = PipePair;
}
