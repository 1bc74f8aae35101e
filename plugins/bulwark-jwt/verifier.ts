// The verification pipeline: token → (verified-token cache) → parse → issuer → algorithm allow-list →
// key → signature (jose) → claims → scopes. Returns data (a verified entry or a rejection with the
// status, the RFC 6750 error, a client-safe description and the precise reason for the log); the
// handler turns it into PDK calls.
//
// The verified-token cache holds only tokens whose signature verified and whose claims passed, keyed by
// a SHA-256 of the token, until min(exp + leeway, now + token_cache.ttl). A hit skips parsing and the
// signature, but the time claims, audience, typ, claim values and scopes are checked again (microseconds),
// and the entry is used only while its key is still trusted (still in the issuer's key set).
import { jose, joseErrorCode } from '../lib/jose';
import { tokenHash } from '../lib/token-hash';
import { checkClaims, missingScopes, type ClaimFailureReason } from './claims';
import type { IssuerPolicy, JwtConfig } from './config';
import { selectKeys, type KeyLookup } from './jwks';
import { importedKeyFor, type VerificationKey } from './keys';
import { isParseError, parseToken, type JsonObject, type TokenParseFailure } from './token';

export interface VerifiedEntry {
  /** tokenHash of the token (its cache key), reused for its fingerprint and credential id. */
  tokenHash: string;
  issuer: IssuerPolicy;
  header: JsonObject;
  claims: JsonObject;
  key: VerificationKey;
  alg: string;
}

export type RejectionReason =
  | TokenParseFailure
  | ClaimFailureReason
  | 'missing_issuer'
  | 'unknown_issuer'
  | 'alg_not_allowed'
  | 'unknown_kid'
  | 'no_matching_key'
  | 'jwks_unavailable'
  | 'signature_invalid'
  | 'insufficient_scope'
  | 'unknown_consumer';

export interface Rejection {
  status: 401 | 403 | 503;
  error: 'invalid_token' | 'insufficient_scope';
  /** Client-safe text for error_description (fixed strings: never token, claim or key content). */
  description: string;
  reason: RejectionReason;
  /** Precise reason for the log (may name the issuer, kid, claim; never key material or the token). */
  detail: string;
  /** Required scopes, for the `scope` attribute of an insufficient_scope challenge. */
  scope?: string;
}

export type Verification = { ok: true; entry: VerifiedEntry; cached: boolean } | { ok: false; rejection: Rejection };

const MALFORMED = 'The access token is malformed';
const BAD_SIGNATURE = 'The access token signature is invalid';

export const DESCRIPTIONS: Readonly<Record<RejectionReason, string>> = {
  token_too_large: 'The access token is too large',
  malformed: MALFORMED,
  encrypted_token: MALFORMED,
  header_not_json: MALFORMED,
  claims_not_json: MALFORMED,
  duplicate_member: MALFORMED,
  crit_unsupported: MALFORMED,
  kid_invalid: MALFORMED,
  alg_none: 'The token signing algorithm is not accepted',
  alg_unsupported: 'The token signing algorithm is not accepted',
  alg_not_allowed: 'The token signing algorithm is not accepted',
  missing_issuer: 'The token issuer is not trusted',
  unknown_issuer: 'The token issuer is not trusted',
  unknown_kid: BAD_SIGNATURE,
  no_matching_key: BAD_SIGNATURE,
  signature_invalid: BAD_SIGNATURE,
  jwks_unavailable: 'The token signing keys are unavailable',
  claim_type: 'The access token has an invalid claim',
  missing_exp: 'The access token has no expiry',
  expired: 'The access token expired',
  not_yet_valid: 'The access token is not yet valid',
  iat_in_future: 'The access token is not yet valid',
  missing_iat: 'The access token age cannot be established',
  too_old: 'The access token is too old',
  missing_audience: 'The access token audience is not accepted',
  audience_mismatch: 'The access token audience is not accepted',
  typ_mismatch: 'The token type is not accepted',
  missing_claim: 'The access token lacks a required claim',
  claim_value_mismatch: 'The access token lacks a required claim',
  insufficient_scope: 'The access token does not grant the required scope',
  unknown_consumer: 'The access token is not linked to a known consumer',
};

function reject(reason: RejectionReason, detail: string, status: 401 | 503 = 401): Verification {
  return {
    ok: false,
    rejection: { status, error: 'invalid_token', description: DESCRIPTIONS[reason], reason, detail },
  };
}

/** Claims and scopes: run on every request, cached or not. */
function checkPolicy(entry: VerifiedEntry, conf: JwtConfig, nowSec: number): Verification | undefined {
  const failure = checkClaims(entry.header, entry.claims, conf.claims, entry.issuer.audience, nowSec);
  if (failure !== undefined) return reject(failure.reason, `${failure.detail} (issuer ${entry.issuer.issuer})`);
  const missing = missingScopes(entry.claims, conf.scopes);
  if (missing !== undefined) {
    const scope = conf.scopes.required.join(' ');
    return {
      ok: false,
      rejection: {
        status: 403,
        error: 'insufficient_scope',
        description: DESCRIPTIONS.insufficient_scope,
        reason: 'insufficient_scope',
        detail: `${conf.scopes.mode === 'any' ? 'none of the scopes' : 'missing scopes'} ${JSON.stringify(missing)}`,
        scope,
      },
    };
  }
  return undefined;
}

function stillTrusted(entry: VerifiedEntry, conf: JwtConfig): boolean {
  const issuer = conf.issuers.get(entry.issuer.issuer);
  if (issuer !== entry.issuer || !issuer.algorithms.has(entry.alg)) return false;
  return issuer.staticKeys.includes(entry.key) || (issuer.remote !== undefined && issuer.remote.contains(entry.key));
}

async function findKeys(issuer: IssuerPolicy, kid: string | undefined, alg: string): Promise<KeyLookup> {
  const fromStatic = selectKeys(issuer.staticKeys, kid, alg);
  if (fromStatic.length > 0) return { ok: true, keys: fromStatic };
  // HS* never goes to a JWKS: a JWKS supplies no symmetric keys (keys.ts), so there is nothing to fetch.
  if (issuer.remote === undefined || alg.startsWith('HS')) {
    return {
      ok: false,
      reason: 'no_matching_key',
      detail: `no configured key of issuer ${issuer.issuer} fits ${alg}${kid !== undefined ? ` kid ${JSON.stringify(kid.slice(0, 64))}` : ''}`,
    };
  }
  return issuer.remote.lookup(kid, alg);
}

/** Verify a bearer token against the instance config. `nowMs` is a parameter for tests. */
export async function verifyToken(token: string, conf: JwtConfig, nowMs: number = Date.now()): Promise<Verification> {
  const nowSec = Math.floor(nowMs / 1000);
  const hash = tokenHash(token);
  const hit = conf.tokenCache.get(hash);
  if (hit !== undefined) {
    if (stillTrusted(hit, conf)) return checkPolicy(hit, conf, nowSec) ?? { ok: true, entry: hit, cached: true };
    conf.tokenCache.delete(hash);
  }

  const parsed = parseToken(token, conf.maxTokenBytes);
  if (isParseError(parsed)) return reject(parsed.reason, parsed.detail);
  const { header, claims, alg, kid } = parsed;

  const iss = claims.iss;
  if (typeof iss !== 'string')
    return reject('missing_issuer', 'no "iss" claim (a string is required to choose the keys)');
  const issuer = conf.issuers.get(iss);
  if (issuer === undefined)
    return reject('unknown_issuer', `issuer ${JSON.stringify(iss.slice(0, 128))} is not configured`);
  if (!issuer.algorithms.has(alg))
    return reject('alg_not_allowed', `${alg} is not in the algorithms of issuer ${issuer.issuer}`);

  const lookup = await findKeys(issuer, kid, alg);
  if (!lookup.ok) {
    return reject(lookup.reason, lookup.detail, lookup.reason === 'jwks_unavailable' ? conf.unavailableStatus : 401);
  }

  let verifiedWith: VerificationKey | undefined;
  const failures: string[] = [];
  for (const key of lookup.keys) {
    try {
      const cryptoKey = await importedKeyFor(key, alg);
      await jose().compactVerify(token, cryptoKey as never, { algorithms: [alg] });
      verifiedWith = key;
      break;
    } catch (err) {
      failures.push(`${key.label}: ${joseErrorCode(err) ?? 'error'}`);
    }
  }
  if (verifiedWith === undefined)
    return reject(
      'signature_invalid',
      `${alg} signature did not verify (${failures.join('; ')}) for issuer ${issuer.issuer}`,
    );

  const entry: VerifiedEntry = { tokenHash: hash, issuer, header, claims, key: verifiedWith, alg };
  const claimFailure = checkClaims(header, claims, conf.claims, issuer.audience, nowSec);
  if (claimFailure !== undefined)
    return reject(claimFailure.reason, `${claimFailure.detail} (issuer ${issuer.issuer})`);

  const exp = typeof claims.exp === 'number' ? (claims.exp + conf.claims.leewaySec) * 1000 : Infinity;
  conf.tokenCache.set(hash, entry, Math.min(nowMs + conf.tokenCacheTtlMs, exp));
  return checkPolicy(entry, conf, nowSec) ?? { ok: true, entry, cached: false };
}
