// The reason codes bulwark-rate-limit gives for its decisions: a stable, documented enum (the security-event
// contract, `reason` of SecurityEvent; README "Reason codes"). A refusal's rule id is the name of the limit that
// refused. Renaming one is a breaking change (spec/plugins/reason-codes.test.ts pins the list against the README).
export const RATE_LIMIT_REASONS = {
  /** Every limit admitted the request. */
  allowed: 'allowed',
  /** A limit refused the request (error_code, 429 by default); rule_id: that limit's name. */
  rateLimited: 'rate_limited',
  /** Redis failed and on_redis_error is fail-closed: 503. */
  storeUnavailable: 'store_unavailable',
} as const;

export type RateLimitReason = (typeof RATE_LIMIT_REASONS)[keyof typeof RATE_LIMIT_REASONS];
