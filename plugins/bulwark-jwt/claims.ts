// Claim validation after the signature is verified (RFC 7519 §4.1, RFC 8725 §3.8-3.11, RFC 9068 §4):
// time claims with leeway, issuer-bound audiences, token type, required claims and values, and scopes.
// Pure: the clock is a parameter, results are data, nothing here talks to Kong.
import type { JsonObject } from './token';

export interface TimePolicy {
  leewaySec: number;
  requireExp: boolean;
  /** Reject tokens whose iat is older than this (seconds); undefined = no limit. Needs `iat`. */
  maxAgeSec: number | undefined;
}

export interface ClaimsPolicy extends TimePolicy {
  /** Expected `typ` header, compared case-insensitively with an optional "application/" prefix. */
  requiredTyp: string | undefined;
  requiredClaims: string[];
  /** claim → accepted values (any one); an array claim matches when it contains one of them. */
  claimValues: Record<string, string[]>;
}

export interface AudiencePolicy {
  audiences: string[];
  audienceRequired: boolean;
}

export interface ScopePolicy {
  required: string[];
  mode: 'any' | 'all';
  /** Claims scopes are read from: a space-separated string (`scope`) or an array (`scp`). */
  claims: string[];
}

export type ClaimFailureReason =
  | 'claim_type'
  | 'missing_exp'
  | 'expired'
  | 'not_yet_valid'
  | 'iat_in_future'
  | 'missing_iat'
  | 'too_old'
  | 'missing_audience'
  | 'audience_mismatch'
  | 'typ_mismatch'
  | 'missing_claim'
  | 'claim_value_mismatch';

export interface ClaimFailure {
  reason: ClaimFailureReason;
  detail: string;
}

function numericDate(claims: JsonObject, name: string): number | undefined | 'invalid' {
  const v = claims[name];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : 'invalid';
}

export function checkTimes(claims: JsonObject, policy: TimePolicy, nowSec: number): ClaimFailure | undefined {
  const exp = numericDate(claims, 'exp');
  const nbf = numericDate(claims, 'nbf');
  const iat = numericDate(claims, 'iat');
  for (const [name, v] of [
    ['exp', exp],
    ['nbf', nbf],
    ['iat', iat],
  ] as const) {
    if (v === 'invalid') return { reason: 'claim_type', detail: `"${name}" is not a NumericDate` };
  }
  const leeway = policy.leewaySec;
  if (exp === undefined) {
    if (policy.requireExp) return { reason: 'missing_exp', detail: 'no "exp" claim' };
  } else if (nowSec >= (exp as number) + leeway) {
    return { reason: 'expired', detail: `expired at ${exp}, now ${nowSec}, leeway ${leeway}s` };
  }
  if (nbf !== undefined && nowSec + leeway < (nbf as number)) {
    return { reason: 'not_yet_valid', detail: `not valid before ${nbf}, now ${nowSec}, leeway ${leeway}s` };
  }
  if (iat !== undefined && (iat as number) > nowSec + leeway) {
    return { reason: 'iat_in_future', detail: `issued at ${iat}, in the future (now ${nowSec}, leeway ${leeway}s)` };
  }
  if (policy.maxAgeSec !== undefined) {
    if (iat === undefined) return { reason: 'missing_iat', detail: 'no "iat" claim and a maximum token age is set' };
    if (nowSec - (iat as number) > policy.maxAgeSec + leeway) {
      return { reason: 'too_old', detail: `issued at ${iat}, older than ${policy.maxAgeSec}s` };
    }
  }
  return undefined;
}

export function checkAudience(claims: JsonObject, policy: AudiencePolicy): ClaimFailure | undefined {
  const aud = claims.aud;
  if (aud === undefined || aud === null) {
    return policy.audienceRequired ? { reason: 'missing_audience', detail: 'no "aud" claim' } : undefined;
  }
  const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : undefined;
  if (values === undefined || values.length === 0 || !values.every((v) => typeof v === 'string')) {
    return { reason: 'claim_type', detail: '"aud" is neither a string nor an array of strings' };
  }
  // A present "aud" is always checked (RFC 7519 §4.1.3: rejected unless it names us), also with
  // audience_required false; with no audiences configured, a token addressed to anyone is refused.
  if (values.some((v) => policy.audiences.includes(v as string))) return undefined;
  const detail = policy.audiences.length === 0 ? 'no audiences are configured for a token with "aud"' : 'not accepted';
  return { reason: 'audience_mismatch', detail: `audience ${JSON.stringify(values.slice(0, 5))}: ${detail}` };
}

/** `typ` comparison per RFC 8725 §3.11 / RFC 7515 §4.1.9: case-insensitive, "application/" optional. */
export function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function claimMatches(value: unknown, accepted: string[]): boolean {
  const scalar = (v: unknown) =>
    (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && accepted.includes(String(v));
  return Array.isArray(value) ? value.some(scalar) : scalar(value);
}

export function checkClaims(
  header: JsonObject,
  claims: JsonObject,
  policy: ClaimsPolicy,
  audience: AudiencePolicy,
  nowSec: number,
): ClaimFailure | undefined {
  const time = checkTimes(claims, policy, nowSec);
  if (time !== undefined) return time;
  const aud = checkAudience(claims, audience);
  if (aud !== undefined) return aud;
  if (policy.requiredTyp !== undefined) {
    const typ = header.typ;
    if (typeof typ !== 'string' || normalizeTyp(typ) !== normalizeTyp(policy.requiredTyp)) {
      return {
        reason: 'typ_mismatch',
        detail: `typ ${JSON.stringify(typeof typ === 'string' ? typ.slice(0, 64) : (typ ?? null))} is not ${policy.requiredTyp}`,
      };
    }
  }
  for (const name of policy.requiredClaims) {
    if (claims[name] === undefined || claims[name] === null)
      return { reason: 'missing_claim', detail: `no "${name}" claim` };
  }
  for (const [name, accepted] of Object.entries(policy.claimValues)) {
    if (!claimMatches(claims[name], accepted))
      return { reason: 'claim_value_mismatch', detail: `"${name}" has no accepted value` };
  }
  return undefined;
}

/** The scopes a token grants: every configured claim, `scope` as a space-separated string, `scp` as an array. */
export function grantedScopes(claims: JsonObject, fromClaims: string[]): Set<string> {
  const out = new Set<string>();
  for (const name of fromClaims) {
    const v = claims[name];
    if (typeof v === 'string') for (const s of v.split(' ')) if (s !== '') out.add(s);
    if (Array.isArray(v)) for (const s of v) if (typeof s === 'string' && s !== '') out.add(s);
  }
  return out;
}

/** The scopes missing for `policy`, or undefined when the token is sufficient. */
export function missingScopes(claims: JsonObject, policy: ScopePolicy): string[] | undefined {
  if (policy.required.length === 0) return undefined;
  const granted = grantedScopes(claims, policy.claims);
  if (policy.mode === 'any') return policy.required.some((s) => granted.has(s)) ? undefined : [...policy.required];
  const missing = policy.required.filter((s) => !granted.has(s));
  return missing.length === 0 ? undefined : missing;
}
