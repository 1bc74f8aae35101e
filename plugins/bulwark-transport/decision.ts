// The access-phase decision of bulwark-transport, as pure functions of what the handler read over RPC.
//
// Order of checks, and why:
// 1. The Host. A Host that is present but not a well-formed `host[:port]` is refused (400) whatever
//    the allow-list: it would end up in redirects and routing. With `allowed_hosts`, an unlisted or
//    missing host gets 421 Misdirected Request (RFC 9110 §15.5.20), and this runs BEFORE the HTTPS
//    redirect so that we never redirect to a host we would not serve.
// 2. HTTPS. The effective scheme is the one a trusted proxy reports (the client's leg is what matters:
//    an LB may re-encrypt plain-HTTP traffic), else the connection's: the same rule as Kong's route
//    `protocols` check in kong/runloop/handler.lua. Not HTTPS → redirect or reject.
import { forwardingCarries, resolveForwarding, type ForwardingResult } from '../lib/client-ip';
import { formatAuthority, parseHostPort, type HostPort } from '../lib/host';
import { headerValues, type HeaderMultimap } from '../lib/pdk';
import { kongStringBytes } from '../lib/kong-strings';
import type { RedirectStatus, TransportConfig } from './config';
import { TRANSPORT_REASONS, type TransportReason } from './reasons';

export interface TransportInput {
  /** `kong.request.getScheme()`: the scheme of the connection to Kong. */
  connectionScheme: string | undefined;
  /** `kong.client.getIp()`; only read when it can matter (peerIpNeeded). */
  peerIp: string | undefined;
  /** `kong.request.getHeaders()`. */
  headers: HeaderMultimap;
}

export type TransportDecision =
  | { action: 'pass'; https: boolean }
  | { action: 'redirect'; host: HostPort }
  | { action: 'reject'; status: number; message: string; https: boolean; upgrade: boolean; reason: TransportReason };

export const MESSAGES = {
  badHost: 'Bad request',
  misdirected: 'Misdirected request',
  useHttps: 'Please use HTTPS protocol', // Kong's text for its own 426 (kong/runloop/handler.lua)
} as const;

/** The host the client addressed: a trusted proxy's (if allowed) or the Host header. */
export function effectiveHost(
  headers: HeaderMultimap,
  forwarding: ForwardingResult,
  trustForwardedHost: boolean,
): { ok: true; host: HostPort | undefined } | { ok: false } {
  if (trustForwardedHost && forwarding.peerTrusted) {
    if (forwarding.forwardedHostInvalid) return { ok: false };
    if (forwarding.forwardedHost !== undefined) return { ok: true, host: forwarding.forwardedHost };
  }
  const values = headerValues(headers, 'host');
  if (values.length === 0) return { ok: true, host: undefined };
  if (values.length > 1) return { ok: false };
  const host = parseHostPort(values[0]);
  return host === undefined ? { ok: false } : { ok: true, host };
}

export function isHttps(input: TransportInput, forwarding: ForwardingResult): boolean {
  if (forwarding.peerTrusted && forwarding.forwardedScheme !== undefined) return forwarding.forwardedScheme === 'https';
  return (input.connectionScheme ?? '').toLowerCase() === 'https';
}

function badHost(https: boolean): TransportDecision {
  return {
    action: 'reject',
    status: 400,
    message: MESSAGES.badHost,
    https,
    upgrade: false,
    reason: TRANSPORT_REASONS.badHost,
  };
}

/**
 * Whether the peer address can change the decision: only through the forwarded scheme and, with
 * `trust_forwarded_host`, the forwarded host (the decision uses nothing else of resolveForwarding's result). Where the
 * headers carry neither (forwardingCarries), a trusted peer and an untrusted one resolve alike, so the handler skips
 * `client.getIp`.
 */
export function peerIpNeeded(headers: HeaderMultimap, conf: TransportConfig): boolean {
  if (conf.trustedProxies.isEmpty) return false;
  const carries = forwardingCarries(headers, conf.forwardedHeader);
  return carries.scheme || (conf.trustForwardedHost && carries.host);
}

export function decideTransport(input: TransportInput, conf: TransportConfig): TransportDecision {
  const forwarding = conf.trustedProxies.isEmpty
    ? resolveForwarding({ peerIp: undefined, headers: input.headers, trustedProxies: conf.trustedProxies })
    : resolveForwarding({
        peerIp: input.peerIp,
        headers: input.headers,
        trustedProxies: conf.trustedProxies,
        header: conf.forwardedHeader,
      });
  const https = isHttps(input, forwarding);

  const hostResult = effectiveHost(input.headers, forwarding, conf.trustForwardedHost);
  if (!hostResult.ok) return badHost(https);
  const host = hostResult.host;
  if (!conf.allowedHosts.isEmpty && (host === undefined || !conf.allowedHosts.allows(host))) {
    return {
      action: 'reject',
      status: 421,
      message: MESSAGES.misdirected,
      https,
      upgrade: false,
      reason: TRANSPORT_REASONS.misdirectedHost,
    };
  }

  if (https || !conf.https.enforce) return { action: 'pass', https };
  if (conf.https.mode === 'reject') {
    const status = conf.https.rejectStatus;
    const reason = TRANSPORT_REASONS.httpsRequired;
    return { action: 'reject', status, message: MESSAGES.useHttps, https, upgrade: status === 426, reason };
  }
  // A redirect needs a host to send the client to.
  if (host === undefined) return badHost(https);
  return { action: 'redirect', host };
}

/** 301/302 let clients turn POST into GET and drop the body; 308 keeps method and body. */
export function redirectStatusFor(method: string | undefined, configured: RedirectStatus | undefined): RedirectStatus {
  if (configured !== undefined) return configured;
  const m = (method ?? '').toUpperCase();
  return m === 'GET' || m === 'HEAD' ? 301 : 308;
}

// RFC 3986 pchar / query characters plus '/', '?' and '%' (kept when it starts a valid escape).
const SAFE_TARGET_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/?]/;

/**
 * The request target for a Location header: must be origin-form (`/path?query`). Anything else
 * (absent, absolute-form, `*`) becomes `/`. Characters that are not allowed in a URI (controls, spaces,
 * quotes, non-ASCII, `#`, a stray `%`) are percent-encoded, so the header can never be split or changed.
 */
export function sanitizeRequestTarget(target: string | undefined): string {
  if (typeof target !== 'string' || !target.startsWith('/')) return '/';
  let out = '';
  for (let i = 0; i < target.length; i++) {
    const c = target[i] as string;
    if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(target.slice(i + 1, i + 3))) {
      out += c;
      continue;
    }
    if (SAFE_TARGET_CHAR.test(c)) {
      out += c;
      continue;
    }
    // Encode the whole code point (surrogate pairs included); an escaped byte of a path that is not UTF-8 as that
    // byte (plugins/lib/kong-strings.ts), so the redirect names the client's bytes.
    const cp = target.codePointAt(i) as number;
    const ch = String.fromCodePoint(cp);
    if (ch.length === 2) i++;
    for (const byte of kongStringBytes(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `https://host[:port]/path?query`; the client's port is dropped (it was the plain-HTTP one). */
export function redirectLocation(
  host: HostPort,
  pathWithQuery: string | undefined,
  redirectPort: number | undefined,
): string {
  const port = redirectPort === undefined || redirectPort === 443 ? undefined : redirectPort;
  return `https://${formatAuthority(host, port)}${sanitizeRequestTarget(pathWithQuery)}`;
}
