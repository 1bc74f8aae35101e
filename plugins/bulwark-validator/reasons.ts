// The reason codes bulwark-validator gives for its decisions: a stable, documented enum (the security-event
// contract, `reason` of SecurityEvent; README "Reason codes"). A refusal's rule id is the rule of its first
// violation (the JSON Schema keyword, OpenAPI rule or JSON-guard limit, e.g. `maximum`, `required`, `max-depth`).
// Renaming one is a breaking change (spec/plugins/reason-codes.test.ts pins the list against the README).
export const VALIDATOR_REASONS = {
  /** The request matched its operation (or schema) and passed. */
  allowed: 'allowed',
  /** 400: a parameter, header or body violates the schema. */
  validationFailed: 'validation_failed',
  /** 404: no documented operation matches the path (unknown_operations reject). */
  noOperation: 'no_operation',
  /** 405: the path is documented, the method is not. */
  methodNotAllowed: 'method_not_allowed',
  /** 413: the body is over max_body_size. */
  bodyTooLarge: 'body_too_large',
  /** 415: the media type is not one the operation accepts. */
  unsupportedMediaType: 'unsupported_media_type',
  /** 500: the operation's schemas do not compile (fail closed). */
  operationSchemaInvalid: 'operation_schema_invalid',
} as const;

export type ValidatorReason = (typeof VALIDATOR_REASONS)[keyof typeof VALIDATOR_REASONS];

/** The reason code of a rejection with `status` (validate.ts refuses with one status per kind of failure). */
export function validatorReason(status: number): ValidatorReason {
  switch (status) {
    case 404:
      return VALIDATOR_REASONS.noOperation;
    case 405:
      return VALIDATOR_REASONS.methodNotAllowed;
    case 413:
      return VALIDATOR_REASONS.bodyTooLarge;
    case 415:
      return VALIDATOR_REASONS.unsupportedMediaType;
    default:
      return VALIDATOR_REASONS.validationFailed;
  }
}
