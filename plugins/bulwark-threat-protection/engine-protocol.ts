// What the main thread (engine-load.ts) and the engine thread (engine-worker.ts) share: the messages they post and
// the build's slice length. Both import this module and nothing of each other, so the thread never loads the
// main-thread side (its Worker management and per-process state).
import type { HeaderMultimap } from '../lib/pdk';
import type { SliceStats } from '../lib/time-slices';
import type { LimitAction, ScanLimits } from './config';
import type { Evaluation } from './crs/engine';
import type { DeclaredExclusion } from './exclusions';
import type { ThreatProtectionReason } from './reasons';

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

/** A request as the handler read it through the PDK; the thread builds the values CRS rules see from it
 * (request-model.ts). The body's bytes travel in a buffer of their own, transferred, not copied. */
export interface ScanRequest {
  method: string;
  pathWithQuery: string;
  headers: HeaderMultimap;
  body?: Uint8Array;
}

/** How an instance builds the request model: its scanned headers, limits and on_limit. Engines are shared by
 * instances that differ in these, so they travel per instance (a "profile"), once per thread. */
export interface ScanOptions {
  headers: readonly string[];
  limits: ScanLimits;
  onLimit: LimitAction;
}

/** Messages to the engine thread. A scan carries `options` the first time the thread sees its profile. */
export type ToEngineThread =
  | { kind: 'build'; engine: number; spec: EngineSpec }
  | { kind: 'scan'; id: number; engine: number; profile: number; options?: ScanOptions; request: ScanRequest }
  | { kind: 'drop'; engine: number }
  | { kind: 'drop-profile'; profile: number };

/** Messages from the engine thread. A scan's reply: `scanned` (without `evaluation` when nothing matched, without
 * `unscanned` when everything was scanned), `refused` (the request model's 4xx: a limit or a malformed body) or
 * `scan-failed`. */
export type FromEngineThread =
  | { kind: 'built'; engine: number; summary: EngineSummary; stats: SliceStats }
  | { kind: 'build-failed'; engine: number; error: string; stats: SliceStats }
  | { kind: 'scanned'; id: number; evaluation?: Evaluation; unscanned?: string[] }
  | { kind: 'refused'; id: number; status: 400 | 413; reason: ThreatProtectionReason; detail: string }
  | { kind: 'scan-failed'; id: number; error: string };
