// The backend side of bulwark-upstream-trust: checks that a request came through the gateway, unaltered, once.
// Framework-free: `createVerifier(options).verify(request)` takes what Node's http server received (method,
// request target, headers, raw body bytes) and returns the identity or an error code. Fail closed: anything
// unexpected (a JWKS that cannot be fetched, a full replay cache, a thrown error) is a refusal with a code.
import { KeyObject, verify as cryptoVerify } from 'node:crypto';
import { jose, joseErrorCode } from '../../lib/jose';
import {
  canonicalHost,
  coveredComponents,
  DEFAULT_TOKEN_HEADER,
  digestMatches,
  HTTPSIG_ALGORITHM,
  IDENTITY_HEADER,
  MAX_TOKEN_LIFETIME_SECONDS,
  parseSignature,
  parseSignatureInput,
  SIGNATURE_TAG,
  SIGNING_ALGORITHMS,
  signatureBase,
  splitTarget,
  TOKEN_TYPE,
  type Format,
  type SigningAlgorithm,
} from '../protocol';
import { MemoryReplayCache, type ReplayStore } from './replay-cache';

export type VerifyErrorCode =
  | 'missing_token'
  | 'malformed_token'
  | 'wrong_type'
  | 'alg_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime_too_long'
  | 'method_mismatch'
  | 'path_mismatch'
  | 'query_mismatch'
  | 'host_mismatch'
  | 'body_digest_mismatch'
  | 'body_unbound'
  | 'body_too_large'
  | 'replayed'
  | 'replay_cache_full'
  | 'jwks_unavailable'
  | 'internal_error';

/** HTTP status a middleware answers for each code: 401 for the caller's fault, 503 for the backend's own. */
export const ERROR_STATUS: Record<VerifyErrorCode, number> = {
  missing_token: 401,
  malformed_token: 401,
  wrong_type: 401,
  alg_not_allowed: 401,
  unknown_key: 401,
  bad_signature: 401,
  wrong_issuer: 401,
  wrong_audience: 401,
  expired: 401,
  not_yet_valid: 401,
  lifetime_too_long: 401,
  method_mismatch: 401,
  path_mismatch: 401,
  query_mismatch: 401,
  host_mismatch: 401,
  body_digest_mismatch: 401,
  body_unbound: 401,
  body_too_large: 413,
  replayed: 401,
  replay_cache_full: 503,
  jwks_unavailable: 503,
  internal_error: 500,
};

/** What the backend received, as Node's http server reports it. */
export interface VerifiableRequest {
  method: string;
  /** The request target as received (`req.url`: path and query, not decoded). */
  url: string;
  /** Lower-case header names (Node's `req.headers`). */
  headers: Record<string, string | string[] | undefined>;
  /** The raw body bytes; undefined or empty: no body. */
  body?: Uint8Array;
}

export interface GatewayIdentity {
  authenticated?: boolean;
  method?: string;
  subject?: string;
  consumer?: { id: string; username?: string };
  credential?: { kind: string; id: string };
  scopes?: string[];
  groups?: string[];
  [key: string]: unknown;
}

export type VerifyResult =
  | { ok: true; identity: GatewayIdentity | null; tokenId: string; claims: Record<string, unknown> }
  | { ok: false; error: VerifyErrorCode; status: number; message: string };

export type JwksSource =
  | { url: string; timeoutMs?: number; cooldownMs?: number; cacheMaxAgeMs?: number }
  | { keys: Record<string, unknown>[] };

export interface VerifierOptions {
  /** The gateway's `issuer` (exact). */
  issuer: string;
  /** This backend's name: the plugin's `audience` (default: the Kong service name). */
  audience: string;
  /** Where the public keys come from: the plugin's jwks_path URL (cached, refetched on an unknown kid at most once
   * per cooldown, 30 s by default), or pinned keys. */
  jwks: JwksSource;
  format?: Format;
  headerName?: string;
  /** Subset of EdDSA, ES256 (default both). */
  algorithms?: SigningAlgorithm[];
  /** Leeway for clock skew on exp/iat (default 5 s, at most 30). */
  clockToleranceSeconds?: number;
  /** Refuse tokens living longer than this (default and maximum 60 s). */
  maxTokenLifetimeSeconds?: number;
  replayStore?: ReplayStore;
  /** Accept tokens whose body was too large for the gateway to digest (oversized_body: sign_without_digest). */
  allowUnboundBody?: boolean;
  /** Largest body the middleware reads (default 1 MiB): larger is refused with body_too_large (413). */
  maxBodyBytes?: number;
  /** Clock (ms since epoch), for tests and the conformance vectors. */
  now?: () => number;
}

export interface Verifier {
  verify(request: VerifiableRequest): Promise<VerifyResult>;
  readonly options: Readonly<Required<Pick<VerifierOptions, 'maxBodyBytes' | 'headerName' | 'format'>>>;
}

type KeyResolver = (header: { alg: string; kid?: string }, token?: unknown) => Promise<unknown>;

const MESSAGES: Record<VerifyErrorCode, string> = {
  missing_token: 'The request carries no gateway signature',
  malformed_token: 'The gateway signature does not parse',
  wrong_type: 'The token is not a gateway token',
  alg_not_allowed: 'The signature algorithm is not allowed',
  unknown_key: 'The signing key is not one of the gateway keys',
  bad_signature: 'The signature does not verify',
  wrong_issuer: 'The token was issued by another gateway',
  wrong_audience: 'The token is for another backend',
  expired: 'The token has expired',
  not_yet_valid: 'The token was issued in the future',
  lifetime_too_long: 'The token lives longer than allowed',
  method_mismatch: 'The request method is not the one signed',
  path_mismatch: 'The request path is not the one signed',
  query_mismatch: 'The query string is not the one signed',
  host_mismatch: 'The Host is not the one signed',
  body_digest_mismatch: 'The body is not the one signed',
  body_unbound: 'The gateway did not bind the body',
  body_too_large: 'The request body is too large',
  replayed: 'The token was already used',
  replay_cache_full: 'Replay protection is at capacity',
  jwks_unavailable: 'The gateway keys cannot be fetched',
  internal_error: 'Verification failed',
};

export function failure(error: VerifyErrorCode, detail?: string): VerifyResult {
  return { ok: false, error, status: ERROR_STATUS[error], message: detail ?? MESSAGES[error] };
}

class Refusal extends Error {
  constructor(readonly code: VerifyErrorCode) {
    super(code);
  }
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,4096}\.[A-Za-z0-9_-]{1,16384}\.[A-Za-z0-9_-]{0,1024}$/;

function singleHeader(headers: VerifiableRequest['headers'], name: string): string | undefined | null {
  const v = headers[name.toLowerCase()];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.length === 1 ? v[0]! : null;
  return v;
}

function keyResolver(source: JwksSource): KeyResolver {
  const j = jose();
  if ('keys' in source) {
    const publicOnly = source.keys.map((k) => {
      if ('d' in k || 'k' in k) throw new Error('jwks.keys must hold public keys only');
      return k;
    });
    return j.createLocalJWKSet({ keys: publicOnly as never }) as unknown as KeyResolver;
  }
  return j.createRemoteJWKSet(new URL(source.url), {
    timeoutDuration: source.timeoutMs ?? 5000,
    cooldownDuration: source.cooldownMs ?? 30_000,
    cacheMaxAge: source.cacheMaxAgeMs ?? 600_000,
  }) as unknown as KeyResolver;
}

/** jose's key/verify errors as codes. */
function joseFailure(err: unknown): VerifyErrorCode {
  const code = joseErrorCode(err);
  const claim = err !== null && typeof err === 'object' ? (err as { claim?: unknown }).claim : undefined;
  switch (code) {
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'unknown_key';
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return 'jwks_unavailable';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'alg_not_allowed';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad_signature';
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'iss') return 'wrong_issuer';
      if (claim === 'aud') return 'wrong_audience';
      if (claim === 'typ') return 'wrong_type';
      if (claim === 'nbf' || claim === 'iat') return 'not_yet_valid';
      return 'malformed_token';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'malformed_token';
    default:
      // fetch() failures (connection refused, DNS) carry no jose code.
      return code === undefined &&
        err instanceof Error &&
        /fetch|ECONNREFUSED|ENOTFOUND/i.test(`${err.message} ${String(err.cause)}`)
        ? 'jwks_unavailable'
        : code === undefined &&
            err !== null &&
            typeof err === 'object' &&
            (err as { name?: unknown }).name === 'TypeError'
          ? 'jwks_unavailable'
          : 'internal_error';
  }
}

export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options.issuer !== 'string' || options.issuer === '') throw new Error('issuer is required');
  if (typeof options.audience !== 'string' || options.audience === '') throw new Error('audience is required');
  const algorithms = options.algorithms ?? [...SIGNING_ALGORITHMS];
  for (const a of algorithms)
    if (!SIGNING_ALGORITHMS.includes(a)) throw new Error(`algorithm ${a} is not allowed (EdDSA, ES256)`);
  const tolerance = options.clockToleranceSeconds ?? 5;
  if (!(tolerance >= 0 && tolerance <= 30)) throw new Error('clockToleranceSeconds must be between 0 and 30');
  const maxLifetime = options.maxTokenLifetimeSeconds ?? MAX_TOKEN_LIFETIME_SECONDS;
  if (!(maxLifetime > 0 && maxLifetime <= MAX_TOKEN_LIFETIME_SECONDS))
    throw new Error('maxTokenLifetimeSeconds must be between 1 and 60');
  const format = options.format ?? 'jwt';
  const headerName = (options.headerName ?? DEFAULT_TOKEN_HEADER).toLowerCase();
  const replay = options.replayStore ?? new MemoryReplayCache();
  const now = options.now ?? Date.now;
  const resolveKey = keyResolver(options.jwks);
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;

  /** Checks common to both formats once the signature holds: lifetime, binding of the body, replay. */
  async function finish(
    t: { iat: number; exp: number; jti: string; bodyUnbound: boolean },
    nowMs: number,
  ): Promise<void> {
    if (t.exp - t.iat > maxLifetime) throw new Refusal('lifetime_too_long');
    if (t.iat > nowMs / 1000 + tolerance) throw new Refusal('not_yet_valid');
    if (t.exp < nowMs / 1000 - tolerance) throw new Refusal('expired');
    if (t.bodyUnbound && !options.allowUnboundBody) throw new Refusal('body_unbound');
    const verdict = await replay.remember(t.jti, (t.exp + tolerance) * 1000, nowMs);
    if (verdict === 'replayed') throw new Refusal('replayed');
    if (verdict === 'full') throw new Refusal('replay_cache_full');
  }

  function received(request: VerifiableRequest): {
    path: string;
    query: string;
    host: string;
    body: Uint8Array | undefined;
  } {
    const { path, query } = splitTarget(request.url);
    const host = singleHeader(request.headers, 'host');
    if (typeof host !== 'string') throw new Refusal('host_mismatch');
    const body = request.body !== undefined && request.body.length > 0 ? request.body : undefined;
    if (body !== undefined && body.length > maxBodyBytes) throw new Refusal('body_too_large');
    return { path, query, host: canonicalHost(host), body };
  }

  async function verifyJwt(request: VerifiableRequest, nowMs: number): Promise<VerifyResult> {
    const token = singleHeader(request.headers, headerName);
    if (token === undefined) return failure('missing_token');
    if (token === null || !TOKEN_PATTERN.test(token)) return failure('malformed_token');
    const j = jose();
    let header: { alg?: unknown; typ?: unknown; kid?: unknown };
    try {
      header = j.decodeProtectedHeader(token);
    } catch {
      return failure('malformed_token');
    }
    // Checked before any key is looked up: an `alg` outside the list (HS256 with the public key, none) never
    // reaches a verification routine.
    if (typeof header.alg !== 'string' || !(algorithms as string[]).includes(header.alg))
      return failure('alg_not_allowed');
    if (header.typ !== TOKEN_TYPE) return failure('wrong_type');
    let payload: Record<string, unknown>;
    try {
      const result = await j.jwtVerify(token, resolveKey as never, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        typ: TOKEN_TYPE,
        clockTolerance: tolerance,
        currentDate: new Date(nowMs),
        requiredClaims: ['iat', 'exp', 'jti', 'htm', 'htu', 'hth'],
      });
      payload = result.payload as Record<string, unknown>;
    } catch (err) {
      return failure(joseFailure(err));
    }
    const { iat, exp, jti, htm, htu, hth, cdg } = payload;
    if (typeof iat !== 'number' || typeof exp !== 'number' || typeof jti !== 'string' || jti.length > 256)
      return failure('malformed_token');
    if (typeof htm !== 'string' || typeof htu !== 'string' || typeof hth !== 'string')
      return failure('malformed_token');
    if (cdg !== undefined && typeof cdg !== 'string') return failure('malformed_token');
    try {
      const got = received(request);
      if (htm !== request.method) throw new Refusal('method_mismatch');
      const signed = splitTarget(htu);
      if (signed.path !== got.path) throw new Refusal('path_mismatch');
      if (signed.query !== got.query) throw new Refusal('query_mismatch');
      if (hth !== got.host) throw new Refusal('host_mismatch');
      const unbound = payload.body_unbound === true;
      if (!unbound) {
        if (cdg === undefined ? got.body !== undefined : got.body === undefined || !digestMatches(cdg, got.body)) {
          throw new Refusal('body_digest_mismatch');
        }
      }
      await finish({ iat, exp, jti, bodyUnbound: unbound }, nowMs);
    } catch (err) {
      if (err instanceof Refusal) return failure(err.code);
      throw err;
    }
    const identity = payload.identity;
    return {
      ok: true,
      identity: identity !== null && typeof identity === 'object' ? (identity as GatewayIdentity) : null,
      tokenId: jti,
      claims: payload,
    };
  }

  async function verifyMessage(request: VerifiableRequest, nowMs: number): Promise<VerifyResult> {
    const input = singleHeader(request.headers, 'signature-input');
    const sigHeader = singleHeader(request.headers, 'signature');
    const identityHeader = singleHeader(request.headers, IDENTITY_HEADER);
    if (input === undefined && sigHeader === undefined) return failure('missing_token');
    if (typeof input !== 'string' || typeof sigHeader !== 'string' || typeof identityHeader !== 'string')
      return failure('malformed_token');
    const parsed = parseSignatureInput(input);
    const signature = parseSignature(sigHeader);
    if (parsed === undefined || signature === undefined) return failure('malformed_token');
    const { created, expires, keyid, alg, nonce, tag } = parsed.params;
    if (tag !== SIGNATURE_TAG || typeof keyid !== 'string' || typeof nonce !== 'string' || nonce.length > 256)
      return failure('malformed_token');
    if (typeof created !== 'number' || typeof expires !== 'number') return failure('malformed_token');
    const jwsAlg = (Object.keys(HTTPSIG_ALGORITHM) as SigningAlgorithm[]).find((a) => HTTPSIG_ALGORITHM[a] === alg);
    if (jwsAlg === undefined || !algorithms.includes(jwsAlg)) return failure('alg_not_allowed');
    const digestCovered = parsed.components.includes('content-digest');
    if (parsed.components.join(' ') !== coveredComponents(digestCovered).join(' ')) return failure('malformed_token');
    let claims: { iss?: unknown; aud?: unknown; identity?: unknown; body_unbound?: unknown };
    try {
      if (identityHeader.length > 65536 || !/^[A-Za-z0-9_-]*$/.test(identityHeader)) throw new Error('not base64url');
      claims = JSON.parse(Buffer.from(identityHeader, 'base64url').toString('utf8')) as typeof claims;
      if (claims === null || typeof claims !== 'object') throw new Error('not an object');
    } catch {
      return failure('malformed_token');
    }
    let key: unknown;
    try {
      key = await resolveKey({ alg: jwsAlg, kid: keyid });
    } catch (err) {
      return failure(joseFailure(err));
    }
    try {
      const got = received(request);
      const digest = singleHeader(request.headers, 'content-digest');
      const unbound = claims.body_unbound === true;
      if (digestCovered) {
        if (typeof digest !== 'string' || got.body === undefined || !digestMatches(digest, got.body))
          throw new Refusal('body_digest_mismatch');
      } else if (got.body !== undefined && !unbound) throw new Refusal('body_digest_mismatch');
      const base = signatureBase(
        parsed.components,
        {
          method: request.method,
          authority: got.host,
          path: got.path,
          query: got.query,
          contentDigest: digest ?? undefined,
          identity: identityHeader,
        },
        parsed.raw,
      );
      const keyObject = KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
      const valid =
        jwsAlg === 'EdDSA'
          ? cryptoVerify(null, Buffer.from(base), keyObject, signature)
          : cryptoVerify('sha256', Buffer.from(base), { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature);
      if (!valid) throw new Refusal('bad_signature');
      if (claims.iss !== options.issuer) throw new Refusal('wrong_issuer');
      if (claims.aud !== options.audience) throw new Refusal('wrong_audience');
      await finish({ iat: created, exp: expires, jti: nonce, bodyUnbound: unbound }, nowMs);
    } catch (err) {
      if (err instanceof Refusal) return failure(err.code);
      throw err;
    }
    const identity = claims.identity;
    return {
      ok: true,
      identity: identity !== null && typeof identity === 'object' ? (identity as GatewayIdentity) : null,
      tokenId: nonce,
      claims: { ...claims, iat: created, exp: expires, jti: nonce },
    };
  }

  return {
    options: { maxBodyBytes, headerName, format },
    async verify(request: VerifiableRequest): Promise<VerifyResult> {
      try {
        const nowMs = now();
        return format === 'jwt' ? await verifyJwt(request, nowMs) : await verifyMessage(request, nowMs);
      } catch {
        return failure('internal_error');
      }
    },
  };
}
