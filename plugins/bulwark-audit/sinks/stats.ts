// Per-sink counters, process-wide: what the sinks did with the events handed to them. Read by the periodic log
// line (registry.ts) and by anything that exports metrics (`sinkStats()`); plain numbers, no metrics library here.
export interface SinkStats {
  /** The sink's label: `<kind>:<target>` (never a credential). */
  readonly sink: string;
  /** Events accepted into the queue. */
  enqueued: number;
  /** Events delivered (the receiver acknowledged the batch). */
  sent: number;
  /** Events refused because the queue was full. */
  dropped_queue_full: number;
  /** Events dropped because they stayed queued longer than the maximum age (receiver down). */
  dropped_expired: number;
  /** Events the receiver refused for good (e.g. HTTP 400: retrying cannot help). */
  dropped_rejected: number;
  /** Failed delivery attempts (each retried batch counts once per attempt). */
  send_failures: number;
  /** Events waiting now. */
  queue_depth: number;
}

const registry = new Map<string, SinkStats>();

/** The counters of sink `label` (created at zero on first use; shared by every queue with that label). */
export function statsFor(label: string): SinkStats {
  let stats = registry.get(label);
  if (!stats) {
    stats = {
      sink: label,
      enqueued: 0,
      sent: 0,
      dropped_queue_full: 0,
      dropped_expired: 0,
      dropped_rejected: 0,
      send_failures: 0,
      queue_depth: 0,
    };
    registry.set(label, stats);
  }
  return stats;
}

/** A snapshot of every sink's counters. */
export function sinkStats(): SinkStats[] {
  return [...registry.values()].map((s) => ({ ...s }));
}

/** Total events dropped by a sink, whatever the cause. */
export function droppedTotal(s: SinkStats): number {
  return s.dropped_queue_full + s.dropped_expired + s.dropped_rejected;
}
