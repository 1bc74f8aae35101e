// The reason codes bulwark-threat-protection records with its decision (the security-event contract's `reason`,
// lib/security-event.ts), stable and documented in the README: log lines carry them as `reason`, and every
// reject(...) and monitor-deny record passes them. Changing a value is a breaking change for whoever alerts on it.
export const REASON = {
  /** Scanned; the anomaly score stayed below the threshold. */
  allowed: 'allowed',
  /** The anomaly score reached the threshold (deny in enforce mode, monitor-deny in monitor mode). */
  threatDetected: 'threat_detected',
  /** More than 1000 query pieces (400). */
  tooManyQueryArguments: 'too_many_query_arguments',
  /** 1000 header lines or more (431, lib/bounded-reads.ts). */
  tooManyHeaders: 'too_many_headers',
  /** Content-Length not a number, or several that differ (400). */
  invalidContentLength: 'invalid_content_length',
  /** A body larger than limits.max_body_size with on_limit refuse (413). */
  bodyTooLarge: 'body_too_large',
  /** A value, the request's total or the number of values over a limit with on_limit refuse (413). */
  scanLimitExceeded: 'scan_limit_exceeded',
  /** The rule set was still compiling after instance start, on_rules_not_ready refuse (503). */
  rulesNotReady: 'rules_not_ready',
  /** The rule set was still compiling, on_rules_not_ready allow: passed unscanned. */
  passedUnscanned: 'passed_unscanned',
  /** Compiling the rule set failed (503 until an instance start compiles it). */
  rulesFailed: 'rules_failed',
  /** The engine thread failed the scan, exited during it, or had MAX_PENDING_SCANS scans waiting (503). */
  scanFailed: 'scan_failed',
  /** A body its Content-Type says is JSON, a form or multipart that does not parse (400). */
  malformedBody: 'malformed_body',
} as const;

export type ThreatProtectionReason = (typeof REASON)[keyof typeof REASON];
