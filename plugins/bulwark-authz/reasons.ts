// The reason codes bulwark-authz gives for its decisions: a stable, documented enum (the security-event contract,
// `reason` of SecurityEvent). They appear in the `reason` field of its log lines and will be passed to
// `reject(..., { reason, rule_id })` once plugins/lib/security-event.ts lands. Renaming one is a breaking change.
export const AUTHZ_REASONS = {
  /** An allow rule's conditions held (and the decision point, when asked, said yes). */
  allowed: 'allowed',
  /** The request path is not a valid origin-form path (the operation index cannot place it). */
  invalidPath: 'invalid_path',
  /** No rule covers this method + path: default deny. */
  noRuleForOperation: 'no_rule_for_operation',
  /** A deny rule's conditions held. */
  denyRule: 'deny_rule',
  /** Rules cover the operation but none is an allow rule. */
  noAllowRule: 'no_allow_rule',
  /** The allow rule needs an authenticated caller; the request has none (or only an anonymous identity). */
  unauthenticated: 'unauthenticated',
  /** The rule is for anonymous callers only. */
  authenticatedCaller: 'authenticated_caller',
  consumerNotListed: 'consumer_not_listed',
  insufficientScope: 'insufficient_scope',
  groupMissing: 'group_missing',
  claimMismatch: 'claim_mismatch',
  /** An object parameter is missing, or given more than once / in a second place (`?id=` next to `/users/{id}`). */
  ambiguousOrMissingParameter: 'ambiguous_or_missing_parameter',
  /** BOLA: the object parameter is not the caller's (`/users/B/orders` for user A). */
  objectNotOwned: 'object_not_owned',
  expressionFalse: 'expression_false',
  /** A CEL expression failed at run time (fails closed: refuses for allow and deny rules alike). */
  expressionError: 'expression_error',
  /** The AuthZEN decision point answered `decision: false` (and no later allow rule held). */
  authzenDenied: 'authzen_denied',
  /** More decision-point questions than one request may ask. */
  authzenTooManyQuestions: 'authzen_too_many_questions',
  /** The decision point failed, timed out or answered nonsense: 503, fail closed. */
  authzenUnavailable: 'authzen_unavailable',
  /** Over 1000 query arguments (Kong would have cut the list): 400. */
  tooManyQueryArguments: 'too_many_query_arguments',
} as const;

export type AuthzReason = (typeof AUTHZ_REASONS)[keyof typeof AUTHZ_REASONS];
