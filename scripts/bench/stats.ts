// Order statistics the benches print: one definition, so every bench's p50/p99/median means the same thing.

/** The value at fraction `p` (0..1) of `xs` in ascending order (nearest rank, rounding down), NaN for no values;
 * `xs` is not changed. */
export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

/** The arithmetic mean (NaN for no values). */
export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The middle value (the upper one of an even count); `xs` is not changed. */
export const median = (xs: readonly number[]): number => percentile(xs, 0.5);

export interface Percentiles {
  p50: number;
  p99: number;
}

export const percentiles = (xs: readonly number[]): Percentiles => ({
  p50: percentile(xs, 0.5),
  p99: percentile(xs, 0.99),
});
