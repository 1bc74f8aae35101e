// The reason codes bulwark-transport gives for its decisions: a stable, documented enum (the security-event
// contract, `reason` of SecurityEvent; README "Reason codes"). The mTLS refusals carry the certificate check's own
// reason (mtls.ts ClientCertificateFailure). Renaming one is a breaking change (spec/plugins/reason-codes.test.ts
// pins the list against the README).
import type { ClientCertificateFailure } from './mtls';

export const TRANSPORT_REASONS = {
  /** The request passed (or was redirected to HTTPS: an answer, not a refusal; no deny record). */
  allowed: 'allowed',
  /** 400: no usable Host (or a forwarded host that is not one), or none to redirect to. */
  badHost: 'bad_host',
  /** 421: the host is not in allowed_hosts. */
  misdirectedHost: 'misdirected_host',
  /** https.mode reject on plain HTTP: reject_status (426 with Upgrade, or 403). */
  httpsRequired: 'https_required',
  // mTLS (401): the client certificate check (mtls.ts).
  notTls: 'not_tls',
  noCertificate: 'no_certificate',
  subjectNotAllowed: 'subject_not_allowed',
  malformedChain: 'malformed_chain',
  unknownIssuer: 'unknown_issuer',
  issuerNotCa: 'issuer_not_ca',
  chainTooDeep: 'chain_too_deep',
  expired: 'expired',
  notYetValid: 'not_yet_valid',
  leafIsCa: 'leaf_is_ca',
  clientAuthNotAllowed: 'client_auth_not_allowed',
  unreadableNames: 'unreadable_names',
  /** 401: consumer_by is set and no consumer matches the certificate (and no `anonymous`). */
  noConsumer: 'no_consumer',
  /** 500: `anonymous` names a consumer that does not exist. */
  anonymousConsumerMissing: 'anonymous_consumer_missing',
} as const satisfies Record<string, string>;

export type TransportReason = (typeof TRANSPORT_REASONS)[keyof typeof TRANSPORT_REASONS];

// Every certificate failure is a code of the list (a compile error otherwise).
const certificateFailureIsCode: ClientCertificateFailure extends TransportReason ? true : never = true;
void certificateFailureIsCode;
