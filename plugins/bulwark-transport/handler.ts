// bulwark-transport phase handlers: read over RPC, decide with the pure modules, act.
//
// RPC budget (each call is one round trip to Kong, ../../docs/kong-protocol.md §3.2):
// certificate (global config with mtls.enabled only): tls.requestClientCertificate + tls.disableSessionReuse
// access:   getHeaders(1000) + getScheme (+ client.getIp when trusted_proxies is set and the request carries
//           X-Forwarded-Proto, X-Forwarded-Host with trust_forwarded_host, or Forwarded: decision.ts peerIpNeeded)
//           (1000 header lines or more: getHeaders + log.warn + exit 431, lib/bounded-reads.ts)
//           (+ with mtls.enabled on a TLS connection: tls.getFullClientCertificateChain
//              (+ one client.loadConsumer per candidate value + client.authenticate when consumer_by is set)
//              + ctx.shared.set of the caller's identity when the certificate is accepted (docs/identity.md);
//              with `anonymous`: loadConsumer + authenticate + ctx.shared.set (an anonymous identity))
//           then one of: response.setHeaders (passed; none when no header is configured) + log.setSerializeValue
//                        (the decision record bulwark-guard checks, written by lib/plugin.ts)
//                      | getMethod + getPathWithQuery + exit (redirect) | exit (rejected).
//
// No response phase, on purpose: Kong reads the whole request and buffers the whole upstream response in memory
// for EVERY request on which any plugin with a `response` handler runs (plugins_iterator.lua, kong/init.lua
// Kong.response), which would end streaming (server-sent events, long polling, downloads) on every route this
// plugin covers. Headers set in access are sent with the proxied response (nginx keeps them; the upstream's
// headers of the same name are sent as well, see the README) and with any later plugin's kong.response.exit.
// Removing upstream headers needs the response phase: bulwark-response-headers, an opt-in of its own.
import type { HeaderValues, KongConsumer } from '../lib/pdk';
import { readRequestHeaders } from '../lib/bounded-reads';
import { certificateFingerprint } from '../lib/credential-fingerprint';
import { identityConsumer, publishIdentity } from '../lib/identity';
import type { PhaseContext } from '../lib/plugin';
import type { TransportConfig } from './config';
import { decideTransport, peerIpNeeded, redirectLocation, redirectStatusFor } from './decision';
import { mtlsIdentity, PUBLISHER } from './identity';
import { assessClientCertificate, consumerCandidates, type ClientCertificateAssessment } from './mtls';
import { TRANSPORT_REASONS } from './reasons';

type Context = PhaseContext<TransportConfig>;

// Kong's own 426 carries these (kong/runloop/handler.lua).
const UPGRADE_HEADERS: HeaderValues = { Connection: 'Upgrade', Upgrade: 'TLS/1.2, HTTP/1.1' };

export const MTLS_MESSAGES = {
  required: 'Client certificate required',
  rejected: 'Client certificate not accepted',
} as const;

/** Each candidate value costs one loadConsumer RPC: a certificate with 50 SANs must not cost 50. */
export const MAX_CONSUMER_LOOKUPS = 5;

// Kong runs the certificate phase for GLOBAL plugin configs only (plugins_iterator.lua, global iterator), and
// nginx has a client certificate only if that phase asked for one. This process-wide flag (one plugin
// server process serves every instance) only chooses the wording of the "no certificate" log line: whether
// any global instance has asked for a certificate since the process started. The decision never depends on it.
let clientCertificateRequested = false;

/** For tests: forget that a certificate phase has run. */
export function resetCertificateRequestTracking(): void {
  clientCertificateRequested = false;
}

/**
 * certificate phase (TLS handshake, global config only): ask the client for its certificate. Kong's
 * request_client_certificate requests but does not verify (kong/pdk/client/tls.lua); access verifies.
 */
export async function certificate({ kong, conf, log }: Context): Promise<void> {
  if (!conf.mtls.enabled) return;
  const requested = await kong.client.tls.requestClientCertificate();
  if (requested !== true) {
    // Not fatal for the handshake (routes without mTLS must keep working); mTLS routes then reject in access.
    await log.err('mtls_request_failed', { detail: 'kong.client.tls.request_client_certificate did not return true' });
    return;
  }
  clientCertificateRequested = true;
  // A resumed TLS session carries no certificate message, and OpenSSL then returns no peer chain
  // (SSL_get_peer_cert_chain), so a client resuming a session would get 401: make every handshake a full one.
  await kong.client.tls.disableSessionReuse();
}

export async function access(ctx: Context): Promise<void> {
  const { kong, conf, reject } = ctx;
  const headers = await readRequestHeaders(ctx);
  if (headers === undefined) return;
  const connectionScheme = await kong.request.getScheme();
  // The peer only matters when someone is trusted to forward and the request carries what they forward.
  const peerIp = peerIpNeeded(headers, conf) ? await kong.client.getIp() : undefined;

  const decision = decideTransport({ connectionScheme, peerIp, headers }, conf);

  if (decision.action === 'pass') {
    if (conf.mtls.enabled && !(await authenticateClientCertificate(ctx, connectionScheme, decision.https))) return;
    // HSTS only when the client used HTTPS (directly or through a trusted proxy), as decided above.
    const toSet = decision.https ? conf.headers.https : conf.headers.http;
    if (Object.keys(toSet).length > 0) await kong.response.setHeaders(toSet);
    return;
  }

  if (decision.action === 'redirect') {
    const method = conf.https.redirectStatus === undefined ? await kong.request.getMethod() : undefined;
    const pathWithQuery = await kong.request.getPathWithQuery();
    const status = redirectStatusFor(method, conf.https.redirectStatus);
    const location = redirectLocation(decision.host, pathWithQuery, conf.https.redirectPort);
    // A redirect is an answer, not a rejection: kong.response.exit itself (reject is for 4xx/5xx).
    // '' rather than no body: a nil before the headers argument could make Kong drop the headers.
    await kong.response.exit(status, '', { ...conf.headers.http, Location: location });
    return;
  }

  const exitHeaders: HeaderValues = { ...(decision.https ? conf.headers.https : conf.headers.http) };
  if (decision.upgrade) Object.assign(exitHeaders, UPGRADE_HEADERS);
  await reject(decision.status, decision.message, exitHeaders, { reason: decision.reason });
}

/**
 * The mTLS step of access, after the transport checks passed. Returns false when it ended the request.
 * Nothing about the certificate is forwarded upstream or put in the response: the precise reason of a
 * refusal goes to Kong's log only, the client gets a generic 401.
 */
async function authenticateClientCertificate(
  ctx: Context,
  connectionScheme: string | undefined,
  https: boolean,
): Promise<boolean> {
  const { kong, conf, log, reject } = ctx;
  const mtls = conf.mtls;
  const connectionTls = (connectionScheme ?? '').toLowerCase() === 'https';
  // Only ever from Kong's TLS layer: a certificate in a request header is never looked at.
  const chainPem = connectionTls ? await kong.client.tls.getFullClientCertificateChain() : undefined;
  const assessment = assessClientCertificate(
    { connectionTls, forwardedHttps: https && !connectionTls, chainPem },
    mtls.trust,
    mtls.allowedSubjects,
    new Date(),
  );
  const exitHeaders = https ? conf.headers.https : conf.headers.http;
  // The certificate's fingerprint names it in this plugin's decision record (lib/credential-fingerprint.ts), on a
  // pass (the allow record lib/plugin.ts writes anyway) and on a refusal: no extra RPC.
  const fingerprinted =
    assessment.fingerprint === undefined
      ? {}
      : { credential_fingerprint: certificateFingerprint(assessment.fingerprint) };
  if (assessment.fingerprint !== undefined)
    ctx.record('allow', { reason: TRANSPORT_REASONS.allowed, ...fingerprinted });

  if (!assessment.ok) {
    const fields = logFields(assessment);
    if (mtls.required) {
      await log.warn('mtls_rejected', fields);
      await reject(401, assessment.presented ? MTLS_MESSAGES.rejected : MTLS_MESSAGES.required, exitHeaders, {
        reason: assessment.reason,
        ...fingerprinted,
      });
      return false;
    }
    if (assessment.presented || fields.hint !== undefined) await log.info('mtls_unauthenticated', fields);
    return authenticateAnonymous(ctx, exitHeaders);
  }

  if (mtls.consumerBy.length === 0) {
    await publishIdentity(kong, mtlsIdentity(assessment.subject, assessment.sans, assessment.fingerprint, undefined));
    return true;
  }
  const candidates = consumerCandidates(mtls.consumerBy, assessment.subject, assessment.sans, MAX_CONSUMER_LOOKUPS);
  for (const candidate of candidates) {
    const consumer = await kong.client.loadConsumer(candidate, true);
    // Usernames only: Kong's load_consumer tries an id first when the value looks like a UUID, and a
    // certificate value must not select a consumer by id.
    if (consumer !== undefined && consumer !== null && consumer.username === candidate) {
      await kong.client.authenticate(consumer, { id: assessment.fingerprint, consumer: { id: consumer.id } });
      await publishIdentity(kong, mtlsIdentity(assessment.subject, assessment.sans, assessment.fingerprint, consumer));
      return true;
    }
  }
  const noConsumer = {
    reason: TRANSPORT_REASONS.noConsumer,
    detail: `no consumer username matches ${JSON.stringify(candidates)}`,
    fingerprint: assessment.fingerprint,
  };
  if (mtls.anonymous === undefined) {
    await log.warn('mtls_rejected', noConsumer);
    await reject(401, MTLS_MESSAGES.rejected, exitHeaders, { reason: TRANSPORT_REASONS.noConsumer, ...fingerprinted });
    return false;
  }
  await log.info('mtls_unauthenticated', noConsumer);
  return authenticateAnonymous(ctx, exitHeaders);
}

function logFields(a: Extract<ClientCertificateAssessment, { ok: false }>): Record<string, unknown> {
  const fields: Record<string, unknown> = { reason: a.reason, detail: a.detail };
  if (a.reason === 'no_certificate' && !clientCertificateRequested) {
    fields.hint =
      'no global bulwark-transport config with mtls.enabled has requested a client certificate since the plugin server started: ' +
      'Kong runs the certificate phase (the only place a certificate can be requested) for GLOBAL plugin configs only, so add a ' +
      'global bulwark-transport with mtls.enabled (required=false keeps it from rejecting anything itself)';
  }
  return fields;
}

/** Continue as the `anonymous` consumer when one is configured, else unauthenticated. False when it ended the request. */
async function authenticateAnonymous(
  { kong, conf, log, reject }: Context,
  exitHeaders: HeaderValues,
): Promise<boolean> {
  const anonymous = conf.mtls.anonymous;
  if (anonymous === undefined) return true;
  const consumer: KongConsumer | undefined = await kong.client.loadConsumer(anonymous, true);
  if (consumer === undefined || consumer === null) {
    // As Kong's own auth plugins: a configured but missing anonymous consumer is a server error, never a pass.
    await log.err('mtls_anonymous_missing', { anonymous });
    await reject(500, undefined, exitHeaders, { reason: TRANSPORT_REASONS.anonymousConsumerMissing });
    return false;
  }
  await kong.client.authenticate(consumer, null);
  // No read first (mayReplaceIdentity): bulwark-transport (2600) runs before every other identity publisher.
  const anonymousConsumer = identityConsumer(consumer);
  await publishIdentity(kong, {
    authenticated: false,
    authenticatedBy: PUBLISHER,
    method: 'anonymous',
    ...(anonymousConsumer === undefined ? {} : { consumer: anonymousConsumer }),
  });
  return true;
}
