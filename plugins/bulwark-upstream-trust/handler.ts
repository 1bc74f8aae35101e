// bulwark-upstream-trust access phase: after every other decision, sign what the upstream must trust (identity +
// request binding) into request headers, and remove every inbound copy of those headers.
//
// RPC budget (each kong.* call is one round trip; lib/plugin.ts adds the decision record):
//   readIdentity + getMethod + getHeaders(1000) + nginx.getVar("upstream_uri") + getRawQuery     = 5
//   + nginx.getVar("upstream_host")  unless upstream_host is configured                           (+1)
//   + router.getService             when audience is unset or the Host is the service's            (+1)
//   + getRawBody                    when the request has a body (Content-Length > 0 or chunked)    (+1)
//   + setHeaders (+ one clearHeader per inbound spelling of a signed header, normally none)       = +1
//   + the decision record                                                                          = +1
//   GET without body, defaults: 9 (7 with audience and upstream_host configured).
//   jwks_path set: + getPath on every request; the JWKS request itself: getPath + getMethod + exit = 3.
import { readRequestHeaders } from '../lib/bounded-reads';
import { readIdentity } from '../lib/identity';
import type { HeaderMultimap, Kong } from '../lib/pdk';
import type { PhaseContext } from '../lib/plugin';
import { verifiedHeaderChanges } from '../lib/verified-headers';
import type { UpstreamTrustConfig } from './config';
import { IDENTITY_HEADER, serviceHostHeader } from './protocol';
import { signMessage, signToken, type RequestBinding } from './sign';
import { UPSTREAM_TRUST_REASONS } from './reasons';

/** Injected clock for tests. */
export const clock = { now: (): number => Date.now() };

/** Headers a client must never be able to hand the upstream in any spelling, in either format. */
function signedHeaderNames(conf: UpstreamTrustConfig): string[] {
  const names = [conf.headerName, 'Signature', 'Signature-Input', IDENTITY_HEADER];
  if (conf.format === 'http-message-signatures') names.push('Content-Digest');
  return names;
}

export async function access(ctx: PhaseContext<UpstreamTrustConfig>): Promise<void> {
  const { kong, conf, log, reject } = ctx;
  if (conf.jwksPath !== undefined) {
    const path = await kong.request.getPath();
    if (path === conf.jwksPath || path === `${conf.jwksPath}/`) return serveJwks(ctx);
  }
  const identity = await readIdentity(kong);
  const method = await kong.request.getMethod();
  const headers = await readRequestHeaders(ctx);
  if (headers === undefined) return;

  // In access, Kong has set $upstream_uri to the escaped path it will proxy to (handler.lua access.before, after
  // strip_path and the service path; kong.service.request.set_path rewrites it); access.after appends `?` + $args.
  const upstreamPath = await kong.nginx.getVar('upstream_uri');
  if (typeof upstreamPath !== 'string' || !upstreamPath.startsWith('/')) {
    await log.err('no_upstream_uri', {
      reason: 'ngx.var.upstream_uri is not set in access',
      action: 'rejected with 500',
    });
    return reject(500, undefined, undefined, { reason: UPSTREAM_TRUST_REASONS.noUpstreamUri });
  }
  const query = (await kong.request.getRawQuery()) ?? '';

  let host = conf.upstreamHost ?? (await kong.nginx.getVar('upstream_host'));
  let audience = conf.audience;
  if (host === undefined || host === '' || audience === undefined) {
    const service = await kong.router.getService();
    if (service === undefined || typeof service.host !== 'string') {
      await log.err('no_service', { reason: 'the request has no service to sign for', action: 'rejected with 500' });
      return reject(500, undefined, undefined, { reason: UPSTREAM_TRUST_REASONS.noService });
    }
    audience ??= typeof service.name === 'string' && service.name !== '' ? service.name : service.id;
    if (host === undefined || host === '') host = serviceHostHeader(service.host, service.port, service.protocol);
  }

  const body = await requestBody(kong, conf, headers);
  if (body === 'too-large') {
    await log.warn('body_too_large', { max_body_size: conf.maxBodySize, action: 'rejected with 413' });
    return reject(413, 'Request body too large', undefined, { reason: UPSTREAM_TRUST_REASONS.bodyTooLarge });
  }
  const binding: RequestBinding = { method, upstreamPath, query, host, body };
  const input = { binding, identity, audience, nowMs: clock.now() };
  const facts = conf.format === 'jwt' ? { [conf.headerName]: await signToken(conf, input) } : signMessage(conf, input);
  const changes = verifiedHeaderChanges(headers, facts, signedHeaderNames(conf));
  for (const name of changes.clear) await kong.service.request.clearHeader(name);
  await kong.service.request.setHeaders(changes.set);
}

function hasBody(headers: HeaderMultimap): { declared: number | undefined; chunked: boolean } {
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  const declared = cl !== undefined && cl.length > 0 && /^\d{1,16}$/.test(cl[0]!) ? Number(cl[0]) : undefined;
  return { declared, chunked: te !== undefined && te.length > 0 };
}

/**
 * The body Kong forwards (get_raw_body reads what a plugin before us set with set_raw_body), bounded by
 * max_body_size: checked on Content-Length before reading, and on the bytes read (chunked bodies).
 */
async function requestBody(
  kong: Kong,
  conf: UpstreamTrustConfig,
  headers: HeaderMultimap,
): Promise<RequestBinding['body'] | 'too-large'> {
  const { declared, chunked } = hasBody(headers);
  if (!chunked && (declared === undefined || declared === 0)) return undefined;
  const oversized = conf.oversizedBody === 'reject' ? 'too-large' : 'unbound';
  if (declared !== undefined && declared > conf.maxBodySize) return oversized;
  // max_allowed_file_size = max_body_size (0 would mean "no limit" to Kong: 1 byte then, and every body is over).
  const raw = await kong.request.getRawBody(Math.max(conf.maxBodySize, 1));
  if (raw === undefined || raw.length > conf.maxBodySize) return oversized;
  return raw.length === 0 ? undefined : raw;
}

/** The JWKS document is an answer, not an error: it goes out with `exit`; a wrong method is refused with `reject`. */
async function serveJwks({ kong, conf, reject }: PhaseContext<UpstreamTrustConfig>): Promise<void> {
  const method = await kong.request.getMethod();
  if (method !== 'GET' && method !== 'HEAD')
    return reject(
      405,
      'Method not allowed',
      { Allow: 'GET, HEAD' },
      { reason: UPSTREAM_TRUST_REASONS.methodNotAllowed },
    );
  await kong.response.exit(200, conf.keys.jwksJson, {
    'Content-Type': 'application/jwk-set+json',
    'Cache-Control': `public, max-age=${conf.jwksMaxAge}`,
  });
}
