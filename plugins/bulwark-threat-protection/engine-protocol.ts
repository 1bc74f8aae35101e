// What the main thread (engine-load.ts) and the engine thread (engine-worker.ts) share: the messages they post and
// the build's slice length. Both import this module and nothing of each other, so the thread never loads the
// main-thread side (its Worker management and per-process state).
import type { SliceStats } from '../lib/time-slices';
import type { Evaluation } from './crs/engine';
import type { RequestValue } from './crs/model';
import type { DeclaredExclusion } from './exclusions';

/** How long a build holds the engine thread per turn (a slice ends at the first step past it), so that scans for
 * engines already built run between the slices of a new one. */
export const BUILD_SLICE_MS = 5;

/** What an engine is built from: plain data, posted to the engine thread. */
export interface EngineSpec {
  crsPath: string;
  families: readonly string[];
  /** crsContentKey of the rule files: the thread compiles one rule set per key. */
  setKey: string;
  paranoiaLevel: number;
  exclusions: readonly DeclaredExclusion[];
}

/** What the thread reports of a built engine. */
export interface EngineSummary {
  activeRuleIds: number[];
}

/** Messages to the engine thread. */
export type ToEngineThread =
  | { kind: 'build'; engine: number; spec: EngineSpec }
  | { kind: 'evaluate'; id: number; engine: number; values: readonly RequestValue[] }
  | { kind: 'drop'; engine: number };

/** Messages from the engine thread. */
export type FromEngineThread =
  | { kind: 'built'; engine: number; summary: EngineSummary; stats: SliceStats }
  | { kind: 'build-failed'; engine: number; error: string; stats: SliceStats }
  | { kind: 'evaluated'; id: number; evaluation: Evaluation }
  | { kind: 'evaluate-failed'; id: number; error: string };
