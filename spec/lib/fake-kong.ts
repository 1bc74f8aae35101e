// A recording stand-in for kong-pdk's `kong` object in unit tests of phase handlers.
// Like the real thing: every call is async, unknown methods resolve to undefined, and after
// kong.response.exit/error no further call is ever answered (Kong stops stepping the event, §1.9).
import type { Kong } from '../../plugins/lib/pdk';

export type FakeReplies = Record<string, (...args: unknown[]) => unknown>;

export interface FakeKong {
  kong: Kong;
  /** Every call as [dotted name, args], e.g. ['request.getHeaders', []]. */
  calls: [string, unknown[]][];
  /** Calls made after an exit (these never settle, as with Kong). */
  callsAfterExit: [string, unknown[]][];
  exit: { status: number; body: unknown; headers: unknown } | undefined;
  names(): string[];
}

export function fakeKong(replies: FakeReplies = {}): FakeKong {
  const state: FakeKong = {
    kong: undefined as unknown as Kong,
    calls: [],
    callsAfterExit: [],
    exit: undefined,
    names: () => state.calls.map(([n]) => n),
  };
  const call = (name: string, args: unknown[]): Promise<unknown> => {
    if (state.exit !== undefined) {
      state.callsAfterExit.push([name, args]);
      return new Promise(() => {});
    }
    state.calls.push([name, args]);
    if (name === 'response.exit' || name === 'response.error') {
      state.exit = { status: args[0] as number, body: args[1], headers: args[2] };
      return Promise.resolve(undefined);
    }
    const reply = replies[name];
    try {
      return Promise.resolve(reply ? reply(...args) : undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  };
  const ns = (prefix: string): unknown =>
    new Proxy(
      {},
      {
        get(_t, prop) {
          if (typeof prop !== 'string') return undefined;
          if (prop === 'then') throw new Error(`${prefix || 'kong'} is a PDK namespace: never await or return it`);
          const name = prefix ? `${prefix}.${prop}` : prop;
          // Namespaces with children: request, response, service, client, ctx, log, ...
          const fn = (...args: unknown[]) => call(name, args);
          return new Proxy(fn, {
            get: (_f, p) => (typeof p === 'string' ? (ns(`${name}`) as Record<string, unknown>)[p] : undefined),
          });
        },
      },
    );
  state.kong = ns('') as Kong;
  return state;
}
