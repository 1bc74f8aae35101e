// Circuit breaker in front of Redis: after `failureThreshold` consecutive failures it opens, and for `openMs` no
// request waits on Redis (each follows the outage policy at once). Then ONE request probes Redis (half-open);
// success closes the breaker, failure opens it again. Pure, clock injected.
//
// Transitions are returned to the caller, which logs each one once (on the request that caused it), so an outage
// produces two log lines (opened, recovered), not one per request.
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
}

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;

  constructor(
    readonly failureThreshold: number,
    readonly openMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): BreakerState {
    return this.state;
  }

  /** Whether this request may call Redis. A true `probe` must be followed by success() or failure(). */
  admit(): { call: boolean; probe: boolean; transition?: BreakerTransition } {
    if (this.state === 'closed') return { call: true, probe: false };
    if (this.state === 'open' && this.now() - this.openedAt >= this.openMs && !this.probing) {
      this.state = 'half-open';
      this.probing = true;
      return { call: true, probe: true, transition: { from: 'open', to: 'half-open' } };
    }
    return { call: false, probe: false };
  }

  success(): BreakerTransition | undefined {
    this.failures = 0;
    this.probing = false;
    if (this.state === 'closed') return undefined;
    const from = this.state;
    this.state = 'closed';
    return { from, to: 'closed' };
  }

  failure(): BreakerTransition | undefined {
    this.failures++;
    if (this.state === 'half-open') {
      this.probing = false;
      this.state = 'open';
      this.openedAt = this.now();
      return { from: 'half-open', to: 'open' };
    }
    if (this.state === 'closed' && this.failures >= this.failureThreshold) {
      this.state = 'open';
      this.openedAt = this.now();
      return { from: 'closed', to: 'open' };
    }
    return undefined;
  }
}
