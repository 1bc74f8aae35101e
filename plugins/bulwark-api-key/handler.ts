// bulwark-api-key's access handler: read the request once, check the key (format and checksum, then hash lookup),
// map it to a consumer, publish the identity, clean up what the upstream sees.
//
// RPC budget per request (each kong.* call is one round trip to Kong, ../../docs/kong-protocol.md §3.2); asserted in
// spec/plugins/bulwark-api-key/integration.test.ts:
//   valid key, no consumer:   request.getHeaders(1000) + service.request.setHeaders (X-Credential-Identifier)
//                             + service.request.clearHeader per spelling of a key header sent (hide_credentials)
//                             + ctx.shared.set (identity) + log.setSerializeValue (decision record) = 5 with one header
//   valid key with consumer:  + client.loadConsumer (only on a consumer-cache miss, cached for cache.ttl_seconds)
//                             + client.authenticate                                             = 6 (7 on a miss)
//   no key:                   request.getHeaders + response.exit (reject)                        = 2
//   invalid key:              request.getHeaders + client.getIp (lockout on) + log.info + response.exit = 4
//   store unreachable:        request.getHeaders + log.err (at most once per 10 s) + response.exit = 2-3
// Every refusal goes through the handler context's `reject` (one response.exit).
//   + request.getRawQuery with key_in_query; + client.getCredential first with `anonymous` (Kong's logical OR);
//   + request.getMethod with run_on_preflight false; + service.request.clearHeader per spoofed spelling of a
//   consumer header (X-Consumer-ID…) the client sent; + service.request.clearQueryArg when the key came in the query.
// Redis (store redis): a cache hit costs none; a miss one GET; an invalid key one EVALSHA for the lockout (none
// once the IP is known to be locked); a checksum failure no lookup at all.
//
// Responses follow Kong 3.9's key-auth (kong/plugins/key-auth/handler.lua): 401 {"message":"No API key found in
// request"} with `WWW-Authenticate: Key realm="kong"`, 401 "Invalid authentication credentials", 401 "Duplicate API
// key found"; with `anonymous`, any authentication failure (not a lockout, not an outage) continues as the anonymous
// consumer with X-Anonymous-Consumer: true. Bulwark adds the challenge to every 401 (RFC 9110 §15.5.2), 403 for
// missing required scopes, 429 for a locked-out IP and 503 when the store cannot answer (fail closed).
//
// `kong.client.authenticate(nil, credential)` cannot cross the plugin RPC (bulwark-jwt handler.ts): a key without a
// consumer is accepted without calling authenticate; its identity reaches later plugins through bulwark.identity.
import { readCredentialSources } from '../lib/bounded-reads';
import { clientIp } from '../lib/client-ip';
import { FINGERPRINT_LABELS, secretFingerprint } from '../lib/credential-fingerprint';
import { mayReplaceIdentity, publishIdentity, readIdentity } from '../lib/identity';
import { isKongUuid, type HeaderMultimap, type HeaderValues, type Kong, type KongConsumer } from '../lib/pdk';
import { describeError, type PhaseContext } from '../lib/plugin';
import { TtlCache } from '../lib/ttl-cache';
import { uuidFromParts } from '../lib/token-hash';
import { verifiedHeaderChanges } from '../lib/verified-headers';
import type { ApiKeyConfig } from './config';
import { displayPrefix, keyPrefix, parseKey, type KeyParse } from './key-format';
import { hashesEqual, hashKey, keyStatus, type KeyRecord } from './key-record';
import { extractKey, type KeyLocation } from './key-source';
import { StoreUnavailableError, type Lookup } from './key-store';
import { recordFailure } from './lockout';
import { API_KEY_REASONS, type ApiKeyReason } from './reasons';

export const PLUGIN_NAME = 'bulwark-api-key';

export const MESSAGES = {
  missing: 'No API key found in request',
  invalid: 'Invalid authentication credentials',
  duplicate: 'Duplicate API key found',
  forbidden: 'Forbidden',
  locked: 'Too many invalid API keys',
  unavailable: 'Service unavailable',
} as const;

/** Upstream headers Kong's key-auth sets (kong/constants.lua HEADERS), set or cleared on every authenticated request. */
export const CONSUMER_HEADERS = {
  id: 'X-Consumer-ID',
  customId: 'X-Consumer-Custom-ID',
  username: 'X-Consumer-Username',
  credential: 'X-Credential-Identifier',
  anonymous: 'X-Anonymous-Consumer',
} as const;

export type FailureReason = Exclude<
  ApiKeyReason,
  'allowed' | 'insufficient_scope' | 'locked_out' | 'store_unavailable' | 'anonymous_consumer_missing'
>;

/** Failures that look like guessing or scanning: counted toward the lockout. Known keys in a wrong state are not. */
const COUNTED: ReadonlySet<FailureReason> = new Set<FailureReason>([
  'malformed',
  'unknown_prefix',
  'checksum',
  'unknown_key',
]);

/** Consumers loaded for keys, per process, for the cache TTL (saves the loadConsumer RPC). */
const consumerCache = new TtlCache<string, KongConsumer>({ maxEntries: 10_000 });
const CONSUMER_CACHE_MS = 10_000;

/** Store outages are logged at most this often per store (an outage must not write one line per request). */
const OUTAGE_LOG_EVERY_MS = 10_000;
const lastOutageLog = new Map<string, number>();

function challenge(conf: ApiKeyConfig): HeaderValues {
  return { 'WWW-Authenticate': `Key realm="${conf.realm}"` };
}

interface RequestView {
  headers: HeaderMultimap;
  locations: KeyLocation[];
}

/** What the upstream sees: consumer facts set, spoofed spellings cleared, the key removed (hide_credentials). */
async function applyUpstreamChanges(
  kong: Kong,
  conf: ApiKeyConfig,
  req: RequestView,
  facts: HeaderValues,
): Promise<void> {
  const all = Object.values(CONSUMER_HEADERS);
  const withheld: string[] = all.filter((h) => !Object.keys(facts).some((f) => f.toLowerCase() === h.toLowerCase()));
  if (conf.hideCredentials) withheld.push(...conf.keyHeaderNames);
  const { set, clear } = verifiedHeaderChanges(req.headers, facts, withheld);
  if (conf.hideCredentials && req.locations.some((l) => l.type === 'authorization')) clear.push('authorization');
  if (Object.keys(set).length > 0) await kong.service.request.setHeaders(set);
  for (const name of clear) await kong.service.request.clearHeader(name);
  if (conf.hideCredentials) {
    for (const l of req.locations) if (l.type === 'query') await kong.service.request.clearQueryArg(l.name);
  }
}

function consumerFacts(consumer: KongConsumer | undefined): HeaderValues {
  const facts: HeaderValues = {};
  if (consumer === undefined) return facts;
  facts[CONSUMER_HEADERS.id] = consumer.id;
  if (typeof consumer.username === 'string' && consumer.username !== '')
    facts[CONSUMER_HEADERS.username] = consumer.username;
  if (typeof consumer.custom_id === 'string' && consumer.custom_id !== '')
    facts[CONSUMER_HEADERS.customId] = consumer.custom_id;
  return facts;
}

/** Kong consumer by id (a UUID) or username; undefined when Kong has none. */
async function loadConsumer(kong: Kong, ref: string, now: number): Promise<KongConsumer | undefined> {
  const cached = consumerCache.get(ref);
  if (cached !== undefined) return cached;
  const byId = isKongUuid(ref);
  const loaded = await kong.client.loadConsumer(ref, !byId);
  // Kong's load_consumer tries an id first when the value looks like a UUID: accept only the kind asked for.
  if (loaded === undefined || loaded === null || (byId ? loaded.id !== ref : loaded.username !== ref)) return undefined;
  consumerCache.set(ref, loaded, now + CONSUMER_CACHE_MS);
  return loaded;
}

/**
 * The presented key's credential fingerprint (lib/credential-fingerprint.ts): labelled with its prefix when that is
 * a configured one, else `api-key`. None for a malformed value: it may be a password pasted in the wrong place, and a
 * fast hash of a password in the events would be a guessing oracle.
 */
export function keyFingerprint(key: string, parsed: KeyParse): string | undefined {
  if (parsed.ok) return secretFingerprint(parsed.prefix, key);
  if (parsed.reason === 'malformed') return undefined;
  // checksum: the prefix is a configured one (parseKey checks it first); unknown_prefix: it is the caller's choice.
  return secretFingerprint(parsed.reason === 'checksum' ? keyPrefix(key) : FINGERPRINT_LABELS.apiKey, key);
}

async function lookupKey(conf: ApiKeyConfig, hash: string, now: number): Promise<Lookup> {
  return conf.store.lookup(hash, now);
}

export async function access(ctx: PhaseContext<ApiKeyConfig>): Promise<void> {
  const { kong, conf } = ctx;
  if (!conf.runOnPreflight && (await kong.request.getMethod()) === 'OPTIONS') return;
  if (conf.anonymous !== undefined) {
    // As Kong's key-auth: with anonymous configured, an already authenticated request is done (logical OR).
    const existing = await kong.client.getCredential();
    if (existing !== undefined && existing !== null) return;
  }
  const read = await readCredentialSources(ctx, conf.sources.queryParams.length > 0);
  if (read === undefined) return;
  const { headers, query } = read;
  const now = Date.now();
  const extraction = extractKey(headers, query, conf.sources);
  if (extraction.kind === 'none') return fail(ctx, { headers, locations: [] }, 'missing', {});
  if (extraction.kind === 'duplicate')
    return fail(ctx, { headers, locations: [] }, 'duplicate', { detail: extraction.detail });
  const req: RequestView = { headers, locations: extraction.locations };
  const key = extraction.key;

  const parsed = parseKey(key, conf.prefixes);
  const fingerprint = keyFingerprint(key, parsed);
  // A malformed value is not logged at all (it may be a password pasted in the wrong place): only its length.
  if (!parsed.ok)
    return fail(
      ctx,
      req,
      parsed.reason,
      parsed.reason === 'malformed' ? { length: key.length } : { key: displayPrefix(key) },
      fingerprint,
    );

  const hash = hashKey(key, conf.pepper);
  let lookup: Lookup;
  try {
    lookup = await lookupKey(conf, hash, now);
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    const last = lastOutageLog.get(err.store) ?? 0;
    if (now - last >= OUTAGE_LOG_EVERY_MS) {
      lastOutageLog.set(err.store, now);
      await ctx.log.err('store_unavailable', {
        store: err.store,
        reason: err.detail,
        policy: conf.onStoreError,
        action: 'rejected with 503',
      });
    }
    return ctx.reject(503, MESSAGES.unavailable, undefined, {
      reason: API_KEY_REASONS.storeUnavailable,
      credential_fingerprint: fingerprint,
    });
  }
  const display = parsed.displayPrefix;
  if (!lookup.found) {
    if ('invalidRecord' in lookup)
      return fail(ctx, req, 'invalid_record', { key: display, detail: lookup.invalidRecord }, fingerprint);
    return fail(ctx, req, 'unknown_key', { key: display }, fingerprint);
  }
  const record: KeyRecord = lookup.record;
  // The lookup was by hash; this comparison is constant-time all the same (a store could hand back another record).
  if (!hashesEqual(record.hash, hash)) return fail(ctx, req, 'unknown_key', { key: display }, fingerprint);
  const status = keyStatus(record, now);
  if (status !== 'valid') return fail(ctx, req, status, { key: display, key_id: record.id }, fingerprint);

  const missingScopes = conf.requiredScopes.filter((s) => !record.scopes.includes(s));
  if (missingScopes.length > 0) {
    await ctx.log.info('api_key_rejected', {
      reason: 'insufficient_scope',
      key_id: record.id,
      missing: missingScopes,
      status: 403,
    });
    return ctx.reject(403, MESSAGES.forbidden, undefined, {
      reason: API_KEY_REASONS.insufficientScope,
      credential_fingerprint: fingerprint,
    });
  }

  let consumer: KongConsumer | undefined;
  if (record.consumer !== undefined) {
    consumer = await loadConsumer(kong, record.consumer, now);
    if (consumer === undefined) {
      // The key is valid but its consumer is gone: a configuration error, refused (never authenticated as nobody).
      return fail(ctx, req, 'consumer_missing', { key_id: record.id, consumer: record.consumer }, fingerprint);
    }
    const credentialId = uuidFromParts(PLUGIN_NAME, record.id);
    await kong.client.authenticate(consumer, { id: credentialId, consumer: { id: consumer.id } });
  }
  await applyUpstreamChanges(kong, conf, req, { ...consumerFacts(consumer), [CONSUMER_HEADERS.credential]: record.id });
  await publishIdentity(kong, {
    authenticated: true,
    authenticatedBy: PLUGIN_NAME,
    method: 'api-key',
    ...(consumer !== undefined
      ? {
          consumer: {
            id: consumer.id,
            ...(typeof consumer.username === 'string' && consumer.username !== ''
              ? { username: consumer.username }
              : {}),
          },
        }
      : {}),
    credential: { kind: 'api-key', id: record.id },
    subject: record.id,
    scopes: record.scopes,
    groups: record.labels,
    claims: record.metadata,
  });
  // Written by lib/plugin.ts as this request's allow record (the one it writes anyway: no extra RPC).
  ctx.record('allow', { reason: API_KEY_REASONS.allowed, credential_fingerprint: fingerprint });
}

/** A refused key: lockout count, then anonymous (as Kong) or the 401. */
async function fail(
  ctx: PhaseContext<ApiKeyConfig>,
  req: RequestView,
  reason: FailureReason,
  fields: Record<string, unknown>,
  fingerprint?: string,
): Promise<void> {
  const { kong, conf, log, reject } = ctx;
  const fingerprinted = fingerprint === undefined ? {} : { credential_fingerprint: fingerprint };
  let ip: string | undefined;
  if (conf.lockout !== undefined && COUNTED.has(reason)) {
    ip = await clientIp(kong, conf, req.headers);
    if (ip !== undefined) {
      const state = await recordFailure(conf.lockoutTarget, ip, conf.lockout, Date.now());
      if (state.lockedMs > 0) {
        const line = {
          reason,
          ...fields,
          ip,
          counter: state.counter,
          retry_after_s: Math.ceil(state.lockedMs / 1000),
          ...(state.redisError ? { redis_error: state.redisError } : {}),
        };
        if (state.newlyLocked) await log.warn('client_locked_out', { ...line, max_failures: conf.lockout.maxFailures });
        else if (state.tableFull) await log.warn('lockout_table_full', line);
        else await log.info('api_key_rejected', { ...line, locked: true, status: 429 });
        return reject(
          429,
          MESSAGES.locked,
          { 'Retry-After': String(Math.max(1, Math.ceil(state.lockedMs / 1000))) },
          { reason: API_KEY_REASONS.lockedOut, ...fingerprinted },
        );
      }
      if (state.redisError !== undefined)
        fields = { ...fields, lockout_counter: 'memory (redis failed)', redis_error: state.redisError };
    }
  }
  if (conf.anonymous !== undefined) {
    if (reason !== 'missing')
      await log.info('api_key_rejected', { reason, ...fields, ...(ip ? { ip } : {}), action: 'anonymous' });
    // The anonymous consumer's allow record still names the key that was refused.
    ctx.record('allow', { reason: API_KEY_REASONS.allowed, ...fingerprinted });
    return authenticateAnonymous(ctx, req);
  }
  const status = 401;
  const message =
    reason === 'missing' ? MESSAGES.missing : reason === 'duplicate' ? MESSAGES.duplicate : MESSAGES.invalid;
  // A request without any key is routine (a client that does not know it needs one): no log line, as Kong.
  if (reason !== 'missing') {
    const line = { reason, ...fields, ...(ip ? { ip } : {}), status };
    if (reason === 'consumer_missing' || reason === 'invalid_record') await log.err('api_key_rejected', line);
    else await log.info('api_key_rejected', line);
  }
  return reject(status, message, challenge(conf), { reason, ...fingerprinted });
}

async function authenticateAnonymous(ctx: PhaseContext<ApiKeyConfig>, req: RequestView): Promise<void> {
  const { kong, conf, log } = ctx;
  let consumer: KongConsumer | undefined;
  try {
    const loaded = await kong.client.loadConsumer(conf.anonymous!, true);
    if (loaded !== undefined && loaded !== null) consumer = loaded;
  } catch (err) {
    await log.err('anonymous_consumer_error', {
      anonymous: conf.anonymous,
      reason: describeError(err),
    });
  }
  if (consumer === undefined) {
    await log.err('anonymous_consumer_missing', { anonymous: conf.anonymous });
    return ctx.reject(500, undefined, undefined, { reason: API_KEY_REASONS.anonymousConsumerMissing });
  }
  await kong.client.authenticate(consumer, null);
  await applyUpstreamChanges(kong, conf, req, { ...consumerFacts(consumer), [CONSUMER_HEADERS.anonymous]: 'true' });
  const existing = await readIdentity(kong);
  if (mayReplaceIdentity(existing, { authenticated: false })) {
    const username =
      typeof consumer.username === 'string' && consumer.username !== '' ? { username: consumer.username } : {};
    await publishIdentity(kong, {
      authenticated: false,
      authenticatedBy: PLUGIN_NAME,
      method: 'anonymous',
      consumer: { id: consumer.id, ...username },
    });
  }
}
