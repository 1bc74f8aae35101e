// bulwark-oauth2 access phase: the token endpoint and the JWKS endpoint, both answered with
// kong.response.exit (never proxied). Requests to any other path pass through untouched.
//
// RPC budget (each kong.* call is one round trip to Kong, ../../docs/kong-protocol.md §3.2):
// other paths:     getPath + the allow record (lib/plugin.ts)                       = 2
// JWKS:            getPath + getMethod + the allow record + exit                    = 4
// token, issued:   getPath + getMethod + getHeaders + getRawBody + client.getIp + the allow record + exit = 7
//                  (client.getIp only when failure_limit is enabled)
// token, refused before the body: getPath + getMethod + getHeaders + the deny record + exit = 5
// (an answer given with kong.response.exit is a decision too: its record costs one log.set_serialize_value, written by
// lib/plugin.ts before the exit; no PDK call carries it along with the exit)
//                  (getHeaders is getHeaders(1000); 1000 header lines or more: + log.warn, 431, lib/bounded-reads.ts)
// failed client authentication / lockout: + one log line (warn) before the exit.
import { readRequestHeaders } from '../lib/bounded-reads';
import { RawBody } from '../lib/errors';
import { parseIp } from '../lib/ip';
import { clientIp } from '../lib/client-ip';
import { bodyText, headerValues } from '../lib/pdk';
import type { PhaseContext } from '../lib/plugin';
import type { DecisionOutcome } from '../lib/security-event';
import { verifySecret } from '../lib/secret-hash';
import { buildClaims, signAccessToken } from './access-token';
import type { OAuth2Config } from './config';
import { limiterFor, type FailureLimiter } from './failure-limiter';
import { errorResponse, successResponse, type OAuthError, type TokenEndpointResponse } from './oauth-errors';
import { decideScopes } from './scopes';
import { OAUTH2_REASONS } from './reasons';
import { checkEnvelope, extractTokenRequest, parseForm } from './token-request';

type Context = PhaseContext<OAuth2Config>;

/** Injected clock for tests. */
export const clock = { now: (): number => Date.now() };

const limiters = new WeakMap<OAuth2Config, FailureLimiter>();
function limiter(conf: OAuth2Config): FailureLimiter {
  let l = limiters.get(conf);
  if (l === undefined) {
    l = limiterFor(conf.pluginId);
    limiters.set(conf, l);
  }
  return l;
}

export async function access(ctx: Context): Promise<void> {
  const { kong, conf } = ctx;
  // Kong's get_path keeps a trailing slash (`/oauth2/token/.` → `/oauth2/token/`, kong/tools/uri.lua normalize):
  // such a path is the endpoint too, so a token request sent there is answered here, never proxied with its secret.
  const path = withoutTrailingSlash(await kong.request.getPath());
  if (path === conf.jwksPath) return serveJwks(ctx);
  if (path === conf.tokenPath) return tokenEndpoint(ctx);
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

async function serveJwks({ kong, conf, reject, record }: Context): Promise<void> {
  const method = await kong.request.getMethod();
  if (method !== 'GET' && method !== 'HEAD')
    return reject(405, 'Method not allowed', { Allow: 'GET, HEAD' }, { reason: OAUTH2_REASONS.methodNotAllowed });
  // The JWKS is an answer, not a rejection: kong.response.exit itself (reject is for 4xx/5xx). Its allow record is
  // written by lib/plugin.ts just before the exit (one kong.log.set_serialize_value).
  record('allow', { reason: OAUTH2_REASONS.allowed });
  await kong.response.exit(200, conf.keys.jwksJson, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': `public, max-age=${conf.jwksMaxAge}`,
  });
}

/** Who asked, as the decision record names it: the client id presented, and the credential that matched. */
type Caller = Pick<DecisionOutcome, 'identity' | 'credential_fingerprint'>;

/** The client as the security event names it (this plugin publishes no identity record: it answers itself). */
export function clientCaller(clientId: string, credentialFingerprint?: string): Caller {
  const caller: Caller = { identity: { credential_kind: 'oauth2-client', credential_id: clientId, subject: clientId } };
  // Only once the secret matched: the fingerprint of the client's stored secret hash (config.ts), never of a
  // presented secret (a person may have chosen it).
  if (credentialFingerprint !== undefined) caller.credential_fingerprint = credentialFingerprint;
  return caller;
}

/**
 * The token endpoint's answer: a token (200) or an RFC 6749 §5.2 error, whose body the plugin serialised. Both are
 * decisions with a record: a refusal through reject, an issued token through ctx.record (lib/plugin.ts writes it
 * just before the exit: one kong.log.set_serialize_value either way).
 */
function send({ kong, reject, record }: Context, res: TokenEndpointResponse, caller: Caller = {}): Promise<void> {
  if (res.status >= 400)
    return reject(res.status, new RawBody(res.body), res.headers, {
      reason: res.reason ?? OAUTH2_REASONS.invalidRequest,
      ...caller,
    });
  record('allow', { reason: OAUTH2_REASONS.allowed, ...caller });
  return kong.response.exit(res.status, res.body, res.headers);
}

/** The key failures are counted under: the address itself, or its /64 for IPv6 (one host usually has a whole /64). */
export function failureKeyForIp(ip: string | undefined): string | undefined {
  if (ip === undefined) return undefined;
  const parsed = parseIp(ip);
  if (parsed === undefined) return ip;
  if (parsed.family === 4) return parsed.text;
  return `${Buffer.from(parsed.bytes.subarray(0, 8)).toString('hex')}::/64`;
}

/** A client-supplied value for a log line: bounded, JSON-escaped by the logger. */
function forLog(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}

async function tokenEndpoint(ctx: Context): Promise<void> {
  const { kong, conf, log } = ctx;
  const method = await kong.request.getMethod();
  const headers = await readRequestHeaders(ctx);
  if (headers === undefined) return;
  const envelope = checkEnvelope(method, headers, conf.maxBodySize);
  if (!envelope.ok) return send(ctx, errorResponse(envelope.error));

  let text = '';
  if (envelope.value > 0) {
    // The size is checked on Content-Length above; getRawBody's limit is the second line of defence.
    const raw: Uint8Array | string | undefined = await kong.request.getRawBody(conf.maxBodySize);
    const body = typeof raw === 'string' ? Buffer.from(raw) : raw;
    if (body === undefined || body.length > conf.maxBodySize) {
      return send(
        ctx,
        errorResponse({ code: 'invalid_request', description: 'The request body is too large', status: 413 }),
      );
    }
    text = bodyText(body);
  }
  const form = parseForm(text);
  if (!form.ok) return send(ctx, errorResponse(form.error));
  const request = extractTokenRequest(form.value, headerValues(headers, 'authorization'));
  if (!request.ok) return send(ctx, errorResponse(request.error));
  const { credentials } = request.value;
  const { clientId } = credentials;
  const basic = credentials.method === 'basic';

  const store = limiter(conf);
  const ip = conf.limits.enabled ? await clientIp(kong, conf, headers) : undefined;
  const ipKey = failureKeyForIp(ip);

  const lock = store.check(clientId, ipKey, conf.limits, clock.now());
  if (lock.locked) {
    // info, not warn: the lock itself was logged (warn, locked: true) when it started; a client hammering a
    // lock must not flood the log at warn level.
    // store_full: not this key's lock; the failure store is full of locked keys and cannot count a new one.
    await log.info('token_request_locked', {
      client_id: forLog(clientId),
      client_ip: ip ?? null,
      locked_by: lock.by,
      retry_after: lock.retryAfterSeconds,
      ...(lock.storeFull ? { store_full: true } : {}),
    });
    return send(ctx, errorResponse(tooManyFailures(lock.retryAfterSeconds)), clientCaller(clientId));
  }

  // Always one hash check, against a dummy hash of the same cost when the id is unknown.
  const client = conf.clients.get(clientId);
  const hash = client?.secretHash ?? conf.dummyHash;
  const matches = hash !== undefined ? await verifySecret(credentials.clientSecret, hash) : false;
  if (client === undefined || !matches) {
    const after = store.recordFailure(clientId, ipKey, conf.limits, clock.now());
    await log.warn('client_authentication_failed', {
      reason: client === undefined ? 'unknown_client_id' : 'wrong_secret',
      client_id: forLog(clientId),
      auth_method: credentials.method,
      client_ip: ip ?? (await clientIp(kong, conf, headers)) ?? null,
      locked: after.locked,
    });
    return send(
      ctx,
      errorResponse({
        code: 'invalid_client',
        description: 'Client authentication failed',
        basicChallenge: basic,
        reason: client === undefined ? OAUTH2_REASONS.unknownClient : OAUTH2_REASONS.wrongSecret,
      }),
      clientCaller(clientId),
    );
  }
  store.recordSuccess(clientId);
  const caller = clientCaller(clientId, client.credentialFingerprint);

  const scopes = decideScopes(request.value.scope, { allowed: client.allowedScopes, defaults: client.defaultScopes });
  if (!scopes.ok) return send(ctx, errorResponse({ code: scopes.error, description: scopes.description }), caller);

  const claims = buildClaims({
    issuer: conf.issuer,
    clientId,
    audience: client.audience ?? conf.audience,
    scopes: scopes.granted,
    ttlSeconds: conf.tokenTtl,
    nowMs: clock.now(),
  });
  const token = await signAccessToken(claims, conf.keys.active);
  const body: Parameters<typeof successResponse>[0] = {
    access_token: token,
    token_type: 'Bearer',
    expires_in: conf.tokenTtl,
  };
  if (claims.scope !== undefined) body.scope = claims.scope;
  return send(ctx, successResponse(body), caller);
}

export function tooManyFailures(retryAfterSeconds: number): OAuthError {
  return {
    code: 'invalid_request',
    description: 'Too many failed authentication attempts; retry later',
    status: 429,
    headers: { 'Retry-After': String(retryAfterSeconds) },
    reason: OAUTH2_REASONS.clientLockedOut,
  };
}
