// Long CPU work (compiling a rule set: seconds) written once as a generator that yields between bounded steps, run
// either to the end at once (tests, benches, tools) or in slices that give the event loop back between them. One
// Node event loop serves every plugin instance and every request of the plugin server: a start-up that holds it for
// seconds stalls every request in flight and can push Kong's 10 s instance-start limit (Kong then skips the plugin).

/** Work split into steps: each `yield` is a point where the event loop may run. */
export type Steps<T> = Generator<void, T, void>;

/** Runs every step now, synchronously. */
export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
  }
}

export interface SliceStats {
  /** Slices run (event-loop turns used). */
  slices: number;
  /** The longest slice, in ms: how long the event loop was held at most. */
  longestMs: number;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs the steps in slices of about `sliceMs` (a slice ends at the first yield past it), letting I/O and other
 * requests run in between. The first slice starts on a later turn: the caller returns at once.
 */
export async function runInSlices<T>(steps: Steps<T>, sliceMs: number, stats?: SliceStats): Promise<T> {
  for (;;) {
    await nextTurn();
    const start = performance.now();
    let next = steps.next();
    while (next.done !== true && performance.now() - start < sliceMs) next = steps.next();
    if (stats !== undefined) {
      stats.slices++;
      stats.longestMs = Math.max(stats.longestMs, performance.now() - start);
    }
    if (next.done === true) return next.value;
  }
}
