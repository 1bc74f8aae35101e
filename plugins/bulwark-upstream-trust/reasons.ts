// The reason codes bulwark-upstream-trust gives for its decisions: a stable, documented enum (the security-event
// contract, `reason` of SecurityEvent; README "Reason codes"). Renaming one is a breaking change
// (spec/plugins/reason-codes.test.ts pins the list against the README).
export const UPSTREAM_TRUST_REASONS = {
  /** The request was signed and proxied (or the JWKS served). */
  allowed: 'allowed',
  /** Kong had no upstream_uri in access: nothing to sign, 500 (fail closed). */
  noUpstreamUri: 'no_upstream_uri',
  /** The request has no service to sign for: 500. */
  noService: 'no_service',
  /** The body is over max_body_size and oversized_body is reject: 413. */
  bodyTooLarge: 'body_too_large',
  /** A method other than GET/HEAD on the JWKS path: 405. */
  methodNotAllowed: 'method_not_allowed',
} as const;

export type UpstreamTrustReason = (typeof UPSTREAM_TRUST_REASONS)[keyof typeof UPSTREAM_TRUST_REASONS];
