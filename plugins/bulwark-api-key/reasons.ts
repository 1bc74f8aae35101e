// The reason codes bulwark-api-key gives for its decisions: a stable, documented enum (the security-event
// contract, `reason` of SecurityEvent; README "Reason codes"). The key refusals are handler.ts's FailureReason, the
// same word as the `reason` of the `api_key_rejected` log line. Renaming one is a breaking change
// (spec/plugins/reason-codes.test.ts pins the list against the README).
export const API_KEY_REASONS = {
  /** A valid key (or, with `anonymous`, no valid key: the anonymous consumer). */
  allowed: 'allowed',
  // 401 (or the anonymous consumer when `anonymous` is set).
  missing: 'missing',
  duplicate: 'duplicate',
  malformed: 'malformed',
  unknownPrefix: 'unknown_prefix',
  checksum: 'checksum',
  unknownKey: 'unknown_key',
  invalidRecord: 'invalid_record',
  disabled: 'disabled',
  expired: 'expired',
  notYetValid: 'not_yet_valid',
  consumerMissing: 'consumer_missing',
  /** 403: the key lacks a required scope. */
  insufficientScope: 'insufficient_scope',
  /** 429: the client IP is locked out after too many failures (lockout). */
  lockedOut: 'locked_out',
  /** 503: the key store (Redis or the Kong entity store) failed. */
  storeUnavailable: 'store_unavailable',
  /** 500: `anonymous` names a consumer that does not exist. */
  anonymousConsumerMissing: 'anonymous_consumer_missing',
} as const;

export type ApiKeyReason = (typeof API_KEY_REASONS)[keyof typeof API_KEY_REASONS];
