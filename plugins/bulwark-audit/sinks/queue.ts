// A bounded in-memory queue in front of one sink: batching, retry with exponential backoff and full jitter, a
// maximum age, and counted drops. It never blocks the caller: `push` is O(1) and synchronous; delivery runs in
// the background, one batch in flight at a time. When the receiver is down the queue fills up to `maxEvents` and
// then refuses new events (counted), and events older than `maxAgeMs` are dropped (counted), so memory stays bounded
// and requests are never slowed.
import { statsFor, type SinkStats } from './stats';

/** Thrown by a transport for a batch the receiver refused for good: it is dropped, not retried. */
export class PermanentSinkError extends Error {}

export interface Transport<T> {
  /** Deliver one batch; resolve when the receiver acknowledged it. Must not throw synchronously. */
  send(batch: readonly T[]): Promise<void>;
  close?(): Promise<void>;
}

export interface QueueOptions {
  maxEvents: number;
  batchSize: number;
  /** A partial batch goes out after this long. */
  flushIntervalMs: number;
  maxAgeMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  maxEvents: 10_000,
  batchSize: 100,
  flushIntervalMs: 1000,
  maxAgeMs: 300_000,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
};

/** Injectable time and randomness (tests assert exact retry times). */
export interface QueueClock {
  now(): number;
  random(): number;
  setTimeout(fn: () => void, ms: number): { unref?: () => unknown };
  clearTimeout(handle: unknown): void;
}

const realClock: QueueClock = {
  now: () => Date.now(),
  random: () => Math.random(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Entry<T> {
  item: T;
  at: number;
}

export class BatchQueue<T> {
  readonly stats: SinkStats;
  private readonly items: Entry<T>[] = [];
  private head = 0;
  private inFlight = false;
  private attempt = 0;
  private timer: unknown;
  private timerDue = Infinity;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    label: string,
    private readonly transport: Transport<T>,
    private readonly options: QueueOptions = DEFAULT_QUEUE_OPTIONS,
    private readonly clock: QueueClock = realClock,
  ) {
    this.stats = statsFor(label);
  }

  get depth(): number {
    return this.items.length - this.head;
  }

  /** Queue one event; false (and counted) when the queue is full or closed. */
  push(item: T): boolean {
    if (this.closed || this.depth >= this.options.maxEvents) {
      this.stats.dropped_queue_full++;
      return false;
    }
    this.items.push({ item, at: this.clock.now() });
    this.stats.enqueued++;
    this.stats.queue_depth++;
    if (this.depth >= this.options.batchSize) this.schedule(0);
    else this.schedule(this.options.flushIntervalMs);
    return true;
  }

  /** Resolves when the queue is empty and nothing is in flight (tests, shutdown). */
  idle(): Promise<void> {
    if (this.depth === 0 && !this.inFlight) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop accepting events; try once to deliver what is queued, then close the transport. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.inFlight && this.depth > 0) await this.deliver();
    await this.transport.close?.();
  }

  private schedule(delayMs: number): void {
    if (this.inFlight) return; // the delivery loop reschedules when the batch settles
    const due = this.clock.now() + delayMs;
    if (this.timer !== undefined && this.timerDue <= due) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerDue = due;
    const handle = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      void this.deliver();
    }, delayMs);
    handle.unref?.(); // a queue never keeps the plugin server alive
    this.timer = handle;
  }

  private dropExpired(): void {
    const oldest = this.clock.now() - this.options.maxAgeMs;
    let dropped = 0;
    while (this.head < this.items.length && (this.items[this.head] as Entry<T>).at < oldest) {
      this.head++;
      dropped++;
    }
    if (dropped > 0) {
      this.stats.dropped_expired += dropped;
      this.stats.queue_depth -= dropped;
    }
  }

  private take(n: number): Entry<T>[] {
    const batch = this.items.slice(this.head, this.head + n);
    this.head += batch.length;
    // Compact now and then so the array does not grow with what was already delivered.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return batch;
  }

  private async deliver(): Promise<void> {
    if (this.inFlight) return;
    this.dropExpired();
    if (this.depth === 0) return this.settleIdle();
    this.inFlight = true;
    const batch = this.take(this.options.batchSize);
    let retry = false;
    try {
      await this.transport.send(batch.map((e) => e.item));
      this.stats.sent += batch.length;
      this.stats.queue_depth -= batch.length;
      this.attempt = 0;
    } catch (err) {
      this.stats.send_failures++;
      if (err instanceof PermanentSinkError) {
        this.stats.dropped_rejected += batch.length;
        this.stats.queue_depth -= batch.length;
      } else if (this.closed) {
        this.stats.dropped_expired += batch.length;
        this.stats.queue_depth -= batch.length;
      } else {
        // Put the batch back in front; its age keeps counting.
        this.head -= batch.length;
        if (this.head < 0) {
          this.items.splice(0, 0, ...batch.slice(0, -this.head));
          this.head = 0;
        }
        retry = true;
        this.attempt++;
      }
    } finally {
      this.inFlight = false;
    }
    if (this.closed) return this.settleIdle();
    if (retry) this.schedule(this.backoffMs(this.attempt));
    else if (this.depth >= this.options.batchSize) this.schedule(0);
    else if (this.depth > 0) this.schedule(this.options.flushIntervalMs);
    else this.settleIdle();
  }

  /** Full jitter: uniform in [0, min(max, base·2^(attempt-1))] (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
  backoffMs(attempt: number): number {
    const cap = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
    return Math.floor(this.clock.random() * cap);
  }

  private settleIdle(): void {
    if (this.depth !== 0 || this.inFlight) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
