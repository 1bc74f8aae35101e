// A CRS engine being built in the background. Instance start (Kong's StartInstance, the plugin's constructor) must
// return fast: compiling a CRS 4 rule set costs seconds of CPU, which on the one event loop of the plugin server
// would stall every request in flight and come close to Kong's 10 s instance-start limit (past it Kong skips the
// plugin: fail-open). So the constructor validates the config and starts the build in slices
// (lib/time-slices.ts); the handler asks `current()` and, until the engine is there, refuses (503, logged) unless
// the operator chose on_rules_not_ready: allow.
import { describeError } from '../lib/plugin';
import { runInSlices, type SliceStats, type Steps } from '../lib/time-slices';
import type { CrsEngine } from './crs/engine';

/** How long the build holds the event loop per turn (a slice ends at the first step past it). */
export const BUILD_SLICE_MS = 5;

export type EngineStatus = 'compiling' | 'ready' | 'failed';

export class EngineLoad {
  private engine: CrsEngine | undefined;
  private error: string | undefined;
  /** Settles when the build ends; rejects with the build's error. */
  readonly ready: Promise<CrsEngine>;
  /** Slices the build took and the longest of them (the event loop was never held longer). */
  readonly stats: SliceStats = { slices: 0, longestMs: 0 };

  constructor(steps: Steps<CrsEngine>, onFailure?: () => void) {
    this.ready = runInSlices(steps, BUILD_SLICE_MS, this.stats);
    this.ready.then(
      (engine) => {
        this.engine = engine;
      },
      (err: unknown) => {
        this.error = describeError(err);
        onFailure?.();
      },
    );
  }

  get status(): EngineStatus {
    return this.engine !== undefined ? 'ready' : this.error !== undefined ? 'failed' : 'compiling';
  }

  /** The engine once built. */
  current(): CrsEngine | undefined {
    return this.engine;
  }

  /** Why the build failed, once it did. */
  failure(): string | undefined {
    return this.error;
  }
}
