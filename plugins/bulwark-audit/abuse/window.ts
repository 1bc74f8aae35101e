// Sliding windows over fixed buckets, the same arithmetic for the in-memory and the Redis store (so a node that
// falls back to memory during a Redis outage decides alike).
//
// Counts: the window is cut into buckets of `windowMs` aligned on the epoch; the count over the last `windowMs` is
// estimated as  current + previous × (windowMs − elapsed in current) / windowMs  (the "sliding window counter"
// Cloudflare describes; exact when events are spread evenly, never below the current bucket's own count).
// Distinct values (object ids, user agents): the union of the current and the previous bucket, i.e. what was
// seen in the last windowMs to 2×windowMs. Both need O(1) state per subject: two numbers, or two bounded sets
// (two HyperLogLogs in Redis).

/** The index of the bucket `now` falls in. */
export function bucketOf(now: number, windowMs: number): number {
  return Math.floor(now / windowMs);
}

/** How far into its bucket `now` is, in ms. */
export function elapsedInBucket(now: number, windowMs: number): number {
  return now - bucketOf(now, windowMs) * windowMs;
}

/** The sliding estimate of a count over the last `windowMs` from the current and previous bucket counts. */
export function slidingCount(current: number, previous: number, now: number, windowMs: number): number {
  const weight = (windowMs - elapsedInBucket(now, windowMs)) / windowMs;
  return current + previous * weight;
}
