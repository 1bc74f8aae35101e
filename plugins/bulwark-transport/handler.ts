// bulwark-transport phase handlers: read over RPC, decide with the pure modules, act.
//
// RPC budget (each call is one round trip to Kong, kong-protocol.md §3.2):
// access:   getHeaders + getScheme (+ client.getIp when trusted_proxies is set)
//           (+ ctx.shared.set when the response phase needs the scheme, see ResponseSchemeSource)
//           (+ getMethod + getPathWithQuery only when redirecting) (+ exit)
// response: (response.getHeaders + one clearHeader per leaking header present, when removal is configured)
//           (+ getScheme or ctx.shared.get, see ResponseSchemeSource) + one setHeaders.
//
// The response phase runs only for requests that were proxied (Kong's buffered proxying; no response phase
// after any plugin's exit, kong-protocol.md §1.8). This plugin's own rejections therefore carry the
// security headers themselves.
import type { HeaderValues, Kong } from '../lib/pdk';
import { errorBody } from '../lib/errors';
import type { TransportConfig } from './config';
import { decideTransport, redirectLocation, redirectStatusFor } from './decision';
import { headersToClear } from './security-headers';

/** kong.ctx.shared key holding "the client used HTTPS" between access and response. */
export const SHARED_HTTPS_KEY = 'bulwark_transport_https';

// Kong's own 426 carries these (kong/runloop/handler.lua).
const UPGRADE_HEADERS: HeaderValues = { Connection: 'Upgrade', Upgrade: 'TLS/1.2, HTTP/1.1' };

export async function access(kong: Kong, conf: TransportConfig): Promise<void> {
  const headers = await kong.request.getHeaders();
  const connectionScheme = await kong.request.getScheme();
  // The peer only matters when someone is trusted to forward: save the RPC otherwise.
  const peerIp = conf.trustedProxies.isEmpty ? undefined : await kong.client.getIp();

  const decision = decideTransport({ connectionScheme, peerIp, headers }, conf);

  if (decision.action === 'pass') {
    if (conf.responseScheme === 'shared-ctx') await kong.ctx.shared.set(SHARED_HTTPS_KEY, decision.https);
    return;
  }

  if (decision.action === 'redirect') {
    const method = conf.https.redirectStatus === undefined ? await kong.request.getMethod() : undefined;
    const pathWithQuery = await kong.request.getPathWithQuery();
    const status = redirectStatusFor(method, conf.https.redirectStatus);
    const location = redirectLocation(decision.host, pathWithQuery, conf.https.redirectPort);
    // '' rather than no body: a nil before the headers argument could make Kong drop the headers.
    await kong.response.exit(status, '', { ...conf.headers.http, Location: location });
    return;
  }

  const exitHeaders: HeaderValues = { ...(decision.https ? conf.headers.https : conf.headers.http) };
  if (decision.upgrade) Object.assign(exitHeaders, UPGRADE_HEADERS);
  await kong.response.exit(decision.status, errorBody(decision.status, decision.message), exitHeaders);
}

async function clientUsedHttps(kong: Kong, conf: TransportConfig): Promise<boolean> {
  switch (conf.responseScheme) {
    case 'none':
      return false; // no HSTS configured: both header sets are the same
    case 'assume-https':
      return true; // HTTPS is enforced: plain-HTTP requests never get past access
    case 'connection':
      return (await kong.request.getScheme()) === 'https';
    case 'shared-ctx':
      // Anything but an explicit `true` (e.g. another plugin overwrote the key) means no HSTS, which
      // is the harmless direction: HSTS on a plain-HTTP response is ignored by browsers anyway.
      return (await kong.ctx.shared.get(SHARED_HTTPS_KEY)) === true;
  }
}

export async function response(kong: Kong, conf: TransportConfig): Promise<void> {
  const https = await clientUsedHttps(kong, conf);
  const toSet = https ? conf.headers.https : conf.headers.http;

  if (conf.removeResponseHeaders.length > 0) {
    const present = await kong.response.getHeaders();
    for (const name of headersToClear(conf.removeResponseHeaders, Object.keys(present), Object.keys(toSet))) {
      await kong.response.clearHeader(name);
    }
  }
  if (Object.keys(toSet).length > 0) await kong.response.setHeaders(toSet);
}
