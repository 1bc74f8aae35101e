// The bounded sink queue with an injected clock: exact batching, backoff with full jitter, maximum age, drops.
import { BatchQueue, PermanentSinkError, type QueueClock } from '../../../../plugins/bulwark-audit/sinks/queue';
import { dropReport } from '../../../../plugins/bulwark-audit/sinks/registry';

function manualClock(): QueueClock & { advance(ms: number): Promise<void>; t: number } {
  let timers: { at: number; fn: () => void; id: number; unref: () => undefined }[] = [];
  let id = 0;
  const clock = {
    t: 0,
    now: () => clock.t,
    random: () => 0.5,
    setTimeout(fn: () => void, ms: number) {
      const handle = { at: clock.t + ms, fn, id: ++id, unref: () => undefined };
      timers.push(handle);
      return handle;
    },
    clearTimeout(h: unknown) {
      timers = timers.filter((x) => x !== h);
    },
    async advance(ms: number) {
      const end = clock.t + ms;
      for (;;) {
        const next = timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        timers = timers.filter((x) => x !== next);
        clock.t = next.at;
        next.fn();
        for (let i = 0; i < 5; i++) await Promise.resolve();
      }
      clock.t = end;
    },
  };
  return clock;
}

const opts = {
  maxEvents: 5,
  batchSize: 2,
  flushIntervalMs: 100,
  maxAgeMs: 10_000,
  backoffBaseMs: 1000,
  backoffMaxMs: 4000,
};

test('batches by size at once and by time after the flush interval', async () => {
  const clock = manualClock();
  const sent: number[][] = [];
  const q = new BatchQueue<number>('q-batch', { send: async (b) => void sent.push([...b]) }, opts, clock);
  q.push(1);
  q.push(2);
  q.push(3);
  await clock.advance(0);
  expect(sent).toEqual([[1, 2]]);
  await clock.advance(99);
  expect(sent).toEqual([[1, 2]]);
  await clock.advance(1);
  expect(sent).toEqual([[1, 2], [3]]);
});

test('a full queue refuses new events (counted) instead of growing; never throws to the caller', async () => {
  const clock = manualClock();
  const q = new BatchQueue<number>('q-full', { send: () => Promise.reject(new Error('down')) }, opts, clock);
  const accepted = [1, 2, 3, 4, 5, 6, 7].map((n) => q.push(n));
  expect(accepted).toEqual([true, true, true, true, true, false, false]);
  expect(q.stats).toMatchObject({ enqueued: 5, dropped_queue_full: 2, queue_depth: 5 });
});

test('retries with exponential backoff and full jitter (random 0.5: 500, 1000, 2000, 2000 ms), then drops by age', async () => {
  const clock = manualClock();
  const attempts: number[] = [];
  const q = new BatchQueue<number>(
    'q-retry',
    {
      send: () => {
        attempts.push(clock.now());
        return Promise.reject(new Error('down'));
      },
    },
    opts,
    clock,
  );
  q.push(1);
  await clock.advance(100 + 500 + 1000 + 2000 + 2000);
  expect(attempts).toEqual([100, 600, 1600, 3600, 5600]);
  expect(q.stats.send_failures).toBe(5);
  await clock.advance(10_000);
  expect(q.stats).toMatchObject({ dropped_expired: 1, queue_depth: 0, sent: 0 });
  expect(dropReport()).toContain('"sink":"q-retry"');
  expect(dropReport()).toBeUndefined(); // nothing new since the last line
});

test('a permanent refusal drops the batch at once', async () => {
  const clock = manualClock();
  const q = new BatchQueue<number>(
    'q-perm',
    { send: () => Promise.reject(new PermanentSinkError('400')) },
    opts,
    clock,
  );
  q.push(1);
  await clock.advance(100);
  expect(q.stats).toMatchObject({ dropped_rejected: 1, queue_depth: 0 });
});
