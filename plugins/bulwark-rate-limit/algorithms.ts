// The three counting algorithms, as pure functions over a small state record. The Lua script (script.ts) runs
// the SAME arithmetic inside Redis, step for step, so the in-memory store (no Redis, or the local fallback
// during a Redis outage) and Redis decide alike; spec/.../unit/script.test.ts replays one sequence through both.
//
// - sliding-window: the two-counter approximation of a sliding window (the estimate weights the previous fixed
//   window's count by the part of it still inside the sliding window). Stated error: every aligned window admits
//   at most `limit`; a window of length W that straddles a boundary admits at most limit + f·prev, where prev is
//   what the previous window admitted and f the fraction of that previous window outside the sliding one. It is
//   exact when the previous window's traffic was even, and 0 extra when the client was idle before a burst.
// - gcra: the Generic Cell Rate Algorithm (a token bucket without a refill timer): emission interval T = W/limit,
//   up to `burst` units back to back. Exact: any span of d ms admits at most burst + floor(d/T) units.
// - fixed-window: counters per aligned window (what Kong's rate-limiting does), and calendar quotas (day, month),
//   whose window comes from the caller. A client can get 2·limit across a boundary (the reference behaviour).

export type Algorithm = 'sliding-window' | 'gcra' | 'fixed-window';

/** Numeric codes used in the script's arguments. */
export const ALGORITHM_CODES: Readonly<Record<Algorithm, number>> = { 'sliding-window': 1, gcra: 2, 'fixed-window': 3 };

/** What one limit asks of one request. */
export interface LimitCheck {
  algorithm: Algorithm;
  /** Units per window (sliding/fixed) or per window as a rate (gcra). */
  limit: number;
  windowMs: number;
  /** gcra: units admitted back to back (defaults to limit). Ignored by the others. */
  burst: number;
  /** Units this request consumes (>= 0). */
  cost: number;
  /** fixed-window over a calendar period: [startMs, endMs) given by the caller; undefined = aligned windows of windowMs. */
  period?: { startMs: number; endMs: number };
}

/** The state kept per key: the fields of the Redis hash. */
export interface CounterState {
  /** sliding/fixed: start of the window the counter `c` belongs to. */
  s?: number;
  /** sliding/fixed: units counted in window `s`. */
  c?: number;
  /** sliding: units counted in the window before `s`. */
  p?: number;
  /** gcra: theoretical arrival time (ms). */
  tat?: number;
}

export interface LimitOutcome {
  allowed: boolean;
  /** Units still available after this request (or, when the request is refused, without it). */
  remaining: number;
  /** ms until the current window ends (sliding/fixed) or the bucket is full again (gcra). */
  resetMs: number;
  /** ms until this limit would admit the request; 0 when it admits it. */
  retryMs: number;
}

export interface Evaluation {
  outcome: LimitOutcome;
  /** The state to store if the request is admitted by every limit. */
  next: CounterState;
  /** How long the stored state must live (ms). */
  ttlMs: number;
  /** remaining without consuming (reported when another limit refuses the request). */
  remainingNow: number;
}

// Floating point: remaining counts are floored with this slack so 4.9999999 (from T·k sums) reads as 5.
const EPSILON = 1e-6;

function slidingWindow(now: number, c: LimitCheck, st: CounterState): Evaluation {
  const w = c.windowMs;
  const cur = Math.floor(now / w) * w;
  let curr = 0;
  let prev = 0;
  if (st.s === cur) {
    curr = st.c ?? 0;
    prev = st.p ?? 0;
  } else if (st.s === cur - w) {
    prev = st.c ?? 0;
  }
  const elapsed = now - cur;
  const est = (prev * (w - elapsed)) / w + curr;
  const allowed = est + c.cost <= c.limit;
  const remainingNow = Math.max(0, Math.floor(c.limit - est + EPSILON));
  const remainingAfter = Math.max(0, Math.floor(c.limit - est - c.cost + EPSILON));
  let retry = 0;
  if (!allowed) {
    if (c.cost > c.limit) {
      retry = w - elapsed + w;
    } else if (curr + c.cost <= c.limit) {
      // prev > 0 here: wait until the previous window's weight has dropped enough.
      retry = w * (1 - (c.limit - c.cost - curr) / prev) - elapsed;
    } else {
      // Not before the next window; there `curr` becomes the previous count.
      const into = curr > 0 ? w * (1 - (c.limit - c.cost) / curr) : 0;
      retry = w - elapsed + Math.max(0, into);
    }
    retry = Math.max(1, Math.ceil(retry));
  }
  return {
    outcome: {
      allowed,
      remaining: allowed ? remainingAfter : remainingNow,
      resetMs: Math.ceil(w - elapsed),
      retryMs: retry,
    },
    next: { s: cur, c: curr + c.cost, p: prev },
    ttlMs: Math.ceil(2 * w - elapsed),
    remainingNow,
  };
}

function gcra(now: number, c: LimitCheck, st: CounterState): Evaluation {
  const t = c.windowMs / c.limit;
  const tau = t * c.burst;
  const tat = st.tat !== undefined && st.tat > now ? st.tat : now;
  const newTat = tat + t * c.cost;
  const allowAt = newTat - tau;
  const allowed = now >= allowAt;
  const remainingNow = Math.max(0, Math.floor((tau - (tat - now)) / t + EPSILON));
  const remainingAfter = Math.max(0, Math.floor((tau - (newTat - now)) / t + EPSILON));
  return {
    outcome: {
      allowed,
      remaining: allowed ? remainingAfter : remainingNow,
      resetMs: Math.ceil((allowed ? newTat : tat) - now),
      retryMs: allowed ? 0 : Math.max(1, Math.ceil(allowAt - now)),
    },
    // Stored with 3 decimals, as the script's string.format('%.3f') does.
    next: { tat: Math.round(newTat * 1000) / 1000 },
    ttlMs: Math.max(1, Math.ceil(newTat - now)),
    remainingNow,
  };
}

function fixedWindow(now: number, c: LimitCheck, st: CounterState): Evaluation {
  const start = c.period ? c.period.startMs : Math.floor(now / c.windowMs) * c.windowMs;
  const end = c.period ? c.period.endMs : start + c.windowMs;
  const count = st.s === start ? (st.c ?? 0) : 0;
  const allowed = count + c.cost <= c.limit;
  const remainingNow = Math.max(0, c.limit - count);
  const remainingAfter = Math.max(0, c.limit - count - c.cost);
  const untilEnd = Math.max(0, Math.ceil(end - now));
  return {
    outcome: {
      allowed,
      remaining: allowed ? remainingAfter : remainingNow,
      resetMs: untilEnd,
      retryMs: allowed ? 0 : Math.max(1, untilEnd),
    },
    next: { s: start, c: count + c.cost },
    // At least a second: a caller whose clock is a little behind may still name a period Redis thinks is over.
    ttlMs: Math.max(1000, untilEnd),
    remainingNow,
  };
}

/** One limit, one request, at `now` (ms). */
export function evaluate(now: number, check: LimitCheck, state: CounterState): Evaluation {
  switch (check.algorithm) {
    case 'sliding-window':
      return slidingWindow(now, check, state);
    case 'gcra':
      return gcra(now, check, state);
    case 'fixed-window':
      return fixedWindow(now, check, state);
  }
}

export interface MultiDecision {
  /** Admitted only when every limit admits; then every limit consumes, else none does. */
  allowed: boolean;
  outcomes: LimitOutcome[];
}

/**
 * Several limits for one request, all or nothing: a request refused by one limit consumes no quota of the
 * others (otherwise a client hammering a per-second limit would burn its daily quota with refused requests).
 */
export function evaluateAll(
  now: number,
  checks: readonly LimitCheck[],
  states: readonly CounterState[],
): { decision: MultiDecision; writes: { next: CounterState; ttlMs: number }[] } {
  const evals = checks.map((check, i) => evaluate(now, check, states[i] ?? {}));
  const allowed = evals.every((e) => e.outcome.allowed);
  return {
    decision: {
      allowed,
      outcomes: evals.map((e) =>
        allowed || !e.outcome.allowed ? e.outcome : { ...e.outcome, remaining: e.remainingNow },
      ),
    },
    writes: allowed ? evals.map((e) => ({ next: e.next, ttlMs: e.ttlMs })) : [],
  };
}
