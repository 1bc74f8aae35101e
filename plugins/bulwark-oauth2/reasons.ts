// The reason codes bulwark-oauth2 gives for its decisions: a stable, documented enum (the security-event contract,
// `reason` of SecurityEvent; README "Reason codes"). A token-endpoint refusal carries its RFC 6749 §5.2 error code,
// except where the log knows more than the client is told (which half of the client authentication failed, a
// lockout). Renaming one is a breaking change (spec/plugins/reason-codes.test.ts pins the list against the README).
export const OAUTH2_REASONS = {
  /** A token was issued, the JWKS served, or the request was not for the plugin's endpoints. */
  allowed: 'allowed',
  // RFC 6749 §5.2 error codes of the token endpoint (400, 405, 411, 413 for invalid_request).
  invalidRequest: 'invalid_request',
  invalidGrant: 'invalid_grant',
  unauthorizedClient: 'unauthorized_client',
  unsupportedGrantType: 'unsupported_grant_type',
  invalidScope: 'invalid_scope',
  /** invalid_client (400/401): no client with this id. */
  unknownClient: 'unknown_client',
  /** invalid_client (400/401): the client id exists, the secret does not match. */
  wrongSecret: 'wrong_secret',
  /** 429: too many failed authentications for this client id or client IP (failure_limit). */
  clientLockedOut: 'client_locked_out',
  /** 405: a method other than GET/HEAD on the JWKS path. */
  methodNotAllowed: 'method_not_allowed',
} as const;

export type OAuth2Reason = (typeof OAUTH2_REASONS)[keyof typeof OAUTH2_REASONS];
