// bulwark-jwt access handler: read the request once, verify (verifier.ts), then act.
//
// RPC budget (each kong.* call is one round trip, ../../docs/kong-protocol.md §3.2):
//   accepted: request.getHeaders(1000) (+ request.getRawQuery when query_params are configured)
//             (+ client.loadConsumer when consumer.claim is set) (+ client.authenticate when a consumer is known)
//             + ctx.shared.set (the caller's identity, plugins/lib/identity.ts, docs/identity.md)
//             (+ service.request.setHeaders when claims are forwarded or a cookie is rewritten)
//             (+ one service.request.clearHeader per removed header) (+ service.request.clearQueryArg)
//             (+ one service.request.clearHeader per other spelling of a forwarded claim header the client sent)
//   rejected: request.getHeaders (+ getRawQuery) + log.warn/info + response.exit (reject)
//   + one log.warn per JWKS key dropped by a fetch (once per key while the JWKS keeps publishing it)
//   no token: request.getHeaders (+ getRawQuery) + response.exit — or, with `anonymous`:
//             client.getCredential (+ client.loadConsumer + client.authenticate
//             + ctx.shared.get, + ctx.shared.set unless an earlier plugin published an authenticated identity)
//             (+ clearHeader as above).
//   too many headers (1000 lines or more) / query arguments (over 1000): the read + log.warn + response.exit
//             (lib/bounded-reads.ts: Kong would have cut the list, so nothing is decided on it).
// JWKS fetches are outbound HTTP from the plugin server, not RPCs.
//
// `kong.client.authenticate(nil, credential)` (an identity without consumer) cannot be sent over the
// plugin RPC: Kong's MessagePack unpacker builds the argument table with a hole at [1] and `unpack`
// may then pass no argument at all (../../docs/kong-protocol.md §1.5). A token without a Kong consumer is therefore
// accepted without calling authenticate: the identity reaches the upstream through forward_claims.
import { readCredentialSources } from '../lib/bounded-reads';
import { identityConsumer, publishAnonymousIdentity, publishIdentity } from '../lib/identity';
import type { PhaseContext } from '../lib/plugin';
import { isKongUuid, type KongConsumer } from '../lib/pdk';
import { FINGERPRINT_LABELS, secretFingerprint, secretFingerprintOfHash } from '../lib/credential-fingerprint';
import { tokenFingerprint, uuidFromParts } from '../lib/token-hash';
import { challengeHeaders } from './challenge';
import type { JwtConfig } from './config';
import { jwtIdentity, PUBLISHER } from './identity';
import { JWT_REASONS } from './reasons';
import { describeLocation, extractToken } from './token-source';
import { anonymousUpstreamChanges, upstreamChanges } from './upstream';
import { DESCRIPTIONS, verifyToken, type Rejection, type VerifiedEntry } from './verifier';

/**
 * The namespace of the credential ids this plugin derives (uuidFromParts). Not the plugin's name by reference:
 * these ids are seen by later plugins and in logs, and must stay the same whatever the plugin is called.
 */
const CREDENTIAL_ID_NAMESPACE = 'bulwark-jwt';

type Context = PhaseContext<JwtConfig>;

export const MESSAGES = {
  missing: 'Unauthorized',
  invalid: 'Unauthorized',
  forbidden: 'Forbidden',
  badRequest: 'Bad request',
  unavailable: 'Service unavailable',
} as const;

/** Reasons logged at info (routine: clients with stale tokens); everything else is a warn. */
const ROUTINE_REASONS = new Set(['expired', 'insufficient_scope']);

/** The token's credential fingerprint (lib/credential-fingerprint.ts): `jwt:` + the log lines' `token` field. */
export function jwtFingerprint(token: string): string {
  return secretFingerprint(FINGERPRINT_LABELS.jwt, token);
}

async function rejectRequest(
  { conf, log, reject }: Context,
  r: Rejection,
  token: string,
  fields: Record<string, unknown>,
): Promise<void> {
  const line = { reason: r.reason, detail: r.detail, status: r.status, token: tokenFingerprint(token), ...fields };
  if (ROUTINE_REASONS.has(r.reason)) await log.info('jwt_rejected', line);
  else await log.warn('jwt_rejected', line);
  const outcome = { reason: r.reason, credential_fingerprint: jwtFingerprint(token) };
  if (r.status === 503) return reject(503, MESSAGES.unavailable, undefined, outcome);
  const headers = challengeHeaders({ realm: conf.realm, error: r.error, description: r.description, scope: r.scope });
  await reject(r.status, r.status === 403 ? MESSAGES.forbidden : MESSAGES.invalid, headers, outcome);
}

export async function access(ctx: Context): Promise<void> {
  const { kong, conf, log, reject } = ctx;
  const read = await readCredentialSources(ctx, conf.sources.queryParams.length > 0);
  if (read === undefined) return;
  const { headers, query } = read;
  const extraction = extractToken(headers, query, conf.sources);

  if (extraction.kind === 'invalid') {
    await log.warn('jwt_rejected', { reason: JWT_REASONS.invalidRequest, detail: extraction.detail, status: 400 });
    const h = challengeHeaders({
      realm: conf.realm,
      error: 'invalid_request',
      description: 'The request carries more than one token or a malformed one',
    });
    return reject(400, MESSAGES.badRequest, h, { reason: JWT_REASONS.invalidRequest });
  }
  if (extraction.kind === 'none') {
    if (conf.anonymous !== undefined) {
      if (!(await authenticateAnonymous(ctx))) return;
      ctx.record('allow', { reason: JWT_REASONS.anonymous });
      for (const name of anonymousUpstreamChanges(conf, headers)) await kong.service.request.clearHeader(name);
      return;
    }
    // RFC 6750 §3.1: no error code when the request carried no credentials at all. No log line (routine; one RPC
    // less): the security event will carry JWT_REASONS.missingToken.
    return reject(401, MESSAGES.missing, challengeHeaders({ realm: conf.realm }), { reason: JWT_REASONS.missingToken });
  }

  const result = await verifyToken(extraction.token, conf);
  await logKeyRefusals(conf, log);
  if (!result.ok) {
    await rejectRequest(ctx, result.rejection, extraction.token, { source: describeLocation(extraction.location) });
    return;
  }

  const authenticated = await authenticate(ctx, result.entry, extraction.token);
  if (authenticated === false) return;
  await publishIdentity(kong, jwtIdentity(conf, result.entry, authenticated.consumer));
  // Written by lib/plugin.ts as this request's allow record (the one it writes anyway: no extra RPC).
  // The verified entry carries the token's hash: no second SHA-256 of the token for its fingerprint.
  const fingerprint = secretFingerprintOfHash(FINGERPRINT_LABELS.jwt, result.entry.tokenHash);
  ctx.record('allow', { reason: JWT_REASONS.allowed, credential_fingerprint: fingerprint });

  const changes = upstreamChanges(conf, result.entry.claims, headers, extraction.location);
  if (Object.keys(changes.set).length > 0) await kong.service.request.setHeaders(changes.set);
  for (const name of changes.clear) await kong.service.request.clearHeader(name);
  if (changes.clearQueryArg !== undefined) await kong.service.request.clearQueryArg(changes.clearQueryArg);
}

/** JWKS keys dropped by fetches since the last request: one line each, naming the kid and the reason. */
async function logKeyRefusals(conf: JwtConfig, log: Context['log']): Promise<void> {
  for (const issuer of conf.issuers.values()) {
    for (const r of issuer.remote?.takeRefusals() ?? []) {
      await log.warn('jwks_key_refused', {
        issuer: issuer.issuer,
        kid: r.kid ?? null,
        index: r.index,
        reason: r.reason,
        jwks: r.jwks,
      });
    }
  }
}

/** Map the token to a Kong consumer when configured: the consumer (if any), or false when it ended the request. */
async function authenticate(
  ctx: Context,
  entry: VerifiedEntry,
  token: string,
): Promise<{ consumer?: KongConsumer } | false> {
  const { kong, conf } = ctx;
  const { claim, by, required } = conf.consumer;
  if (claim === undefined) return {};
  const raw = entry.claims[claim];
  const value = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : undefined;
  let consumer: KongConsumer | undefined;
  // By id: a value that is no UUID cannot be a consumer id, and Kong would raise a Lua error (500) for it.
  if (value !== undefined && value !== '' && (by === 'username' || isKongUuid(value))) {
    const loaded = await kong.client.loadConsumer(value, by === 'username');
    // By username only when so configured: Kong's load_consumer tries an id first when the value looks
    // like a UUID, and a username claim must not select a consumer by id (nor the reverse).
    if (
      loaded !== undefined &&
      loaded !== null &&
      (by === 'username' ? loaded.username === value : loaded.id === value)
    )
      consumer = loaded;
  }
  if (consumer === undefined) {
    const detail =
      value === undefined
        ? `no usable "${claim}" claim`
        : `no consumer with ${by} ${JSON.stringify(value.slice(0, 128))}`;
    if (required) {
      await rejectRequest(
        ctx,
        {
          status: 401,
          error: 'invalid_token',
          description: DESCRIPTIONS.unknown_consumer,
          reason: JWT_REASONS.unknownConsumer,
          detail,
        },
        token,
        { issuer: entry.issuer.issuer },
      );
      return false;
    }
    return {}; // identity without consumer (see the note at the top)
  }
  const subject = typeof entry.claims.sub === 'string' ? entry.claims.sub : value!;
  await kong.client.authenticate(consumer, {
    id: uuidFromParts(CREDENTIAL_ID_NAMESPACE, entry.issuer.issuer, subject),
    consumer: { id: consumer.id },
  });
  return { consumer };
}

/** False when it ended the request. */
async function authenticateAnonymous({ kong, conf, log, reject }: Context): Promise<boolean> {
  // As Kong's auth plugins: a request already authenticated by a higher-priority plugin keeps its identity.
  const existing = await kong.client.getCredential();
  if (existing !== undefined && existing !== null) return true;
  const consumer = await kong.client.loadConsumer(conf.anonymous!, true);
  if (consumer === undefined || consumer === null) {
    await log.err('anonymous_consumer_missing', {
      reason: JWT_REASONS.anonymousConsumerMissing,
      anonymous: conf.anonymous,
    });
    await reject(500, undefined, undefined, { reason: JWT_REASONS.anonymousConsumerMissing });
    return false;
  }
  await kong.client.authenticate(consumer, null);
  await publishAnonymousIdentity(kong, { authenticatedBy: PUBLISHER, consumer: identityConsumer(consumer) });
  return true;
}
