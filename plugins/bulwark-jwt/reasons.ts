// The reason codes bulwark-jwt gives for its decisions: a stable, documented enum (the security-event contract,
// `reason` of SecurityEvent). The token rejections are verifier.ts's RejectionReason (each with its client-safe
// description in DESCRIPTIONS); the others are decided in handler.ts. They appear in the `reason` field of the
// `jwt_rejected` log lines and will be passed to `reject(..., { reason })` once plugins/lib/security-event.ts
// lands. Renaming one is a breaking change (spec/plugins/bulwark-jwt/unit/reasons.test.ts pins the list).
export const JWT_REASONS = {
  /** A token verified (and mapped to a consumer when configured). */
  allowed: 'allowed',
  /** No token, continued as the `anonymous` consumer. */
  anonymous: 'anonymous',
  /** No token and no `anonymous`: 401 with a bare Bearer challenge (RFC 6750 §3.1). */
  missingToken: 'missing_token',
  /** More than one token, or a malformed Authorization header: 400 invalid_request. */
  invalidRequest: 'invalid_request',
  /** `anonymous` names a consumer that does not exist: 500 (as Kong's auth plugins). */
  anonymousConsumerMissing: 'anonymous_consumer_missing',
  // Token rejections (401 invalid_token unless said otherwise).
  tokenTooLarge: 'token_too_large',
  malformed: 'malformed',
  encryptedToken: 'encrypted_token',
  headerNotJson: 'header_not_json',
  claimsNotJson: 'claims_not_json',
  duplicateMember: 'duplicate_member',
  critUnsupported: 'crit_unsupported',
  kidInvalid: 'kid_invalid',
  algNone: 'alg_none',
  algUnsupported: 'alg_unsupported',
  algNotAllowed: 'alg_not_allowed',
  missingIssuer: 'missing_issuer',
  unknownIssuer: 'unknown_issuer',
  unknownKid: 'unknown_kid',
  noMatchingKey: 'no_matching_key',
  signatureInvalid: 'signature_invalid',
  /** No signing keys can be obtained: `unavailable_status` (401 or 503). */
  jwksUnavailable: 'jwks_unavailable',
  claimType: 'claim_type',
  missingExp: 'missing_exp',
  expired: 'expired',
  notYetValid: 'not_yet_valid',
  iatInFuture: 'iat_in_future',
  missingIat: 'missing_iat',
  tooOld: 'too_old',
  missingAudience: 'missing_audience',
  audienceMismatch: 'audience_mismatch',
  typMismatch: 'typ_mismatch',
  missingClaim: 'missing_claim',
  claimValueMismatch: 'claim_value_mismatch',
  /** 403 insufficient_scope. */
  insufficientScope: 'insufficient_scope',
  /** `consumer.claim` names no consumer and `consumer.required` is true. */
  unknownConsumer: 'unknown_consumer',
} as const;

export type JwtReason = (typeof JWT_REASONS)[keyof typeof JWT_REASONS];
