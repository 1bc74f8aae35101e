// Field types that more than one plugin declares alike, as Kong's kong/db/schema/typedefs.lua does for Kong's
// own plugins (typedefs.port, typedefs.header_name, ...). Each takes the plugin's own description (and, where
// plugins differ, the bound or default) and returns a field of lib/fields.ts: the Kong definition and the reader
// come from here, so two plugins cannot drift apart on what a "trusted proxy" or a "header name" is.
import { MAX_OUTBOUND_WAIT_MS } from './config';
import { array, integer, string } from './fields';

/** Lua pattern of an HTTP header name as Bulwark accepts it: letters, digits and '-'. */
export const HEADER_NAME_PATTERN = '^[%w%-]+$';
const HEADER_NAME = /^[A-Za-z0-9-]+$/;

/** A request or response header name (1–128 letters, digits, '-'). Kong's typedefs.header_name, narrower. */
export const headerName = <const D extends string | undefined = undefined>(description?: D) =>
  string({
    len_max: 128,
    match: HEADER_NAME_PATTERN,
    ...(description === undefined ? {} : { description }),
    check: (v: string) => (HEADER_NAME.test(v) ? undefined : `invalid header name ${JSON.stringify(v.slice(0, 64))}`),
  });

/**
 * CIDRs (IPv4 or IPv6, or bare addresses) of the proxies in front of Kong whose forwarding header is believed.
 * The Lua pattern only keeps out what cannot be an address; lib/ip.ts CidrList.parse checks each entry when
 * the instance starts (host bits, prefix length).
 */
export const trustedProxies = (description: string) =>
  array(string({ len_max: 64, match: '^[%x%.:]+/?%d*$' }), { len_max: 256, default: [], description });

/** Which header trusted proxies use to pass the client address (lib/client-ip.ts ForwardedHeaderKind). */
export const forwardedHeader = (description: string) =>
  string({ one_of: ['x-forwarded-for', 'forwarded'], default: 'x-forwarded-for', description });

/** Lua pattern that finds a PEM certificate block. */
export const PEM_CERTIFICATE_PATTERN = '%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-';

/** PEM certificate text (one certificate, or a bundle when `err` says so). */
export const pemCertificate = <const O extends { len_max: number; err?: string; description?: string }>(options: O) =>
  string({
    match: PEM_CERTIFICATE_PATTERN,
    err: 'expected a PEM certificate (-----BEGIN CERTIFICATE-----)',
    ...options,
  });

/** A TCP port. Kong's typedefs.port. */
export const port = <const O extends { description: string; required?: boolean; default?: number }>(options: O) =>
  integer({ ...options, between: [1, 65535] });

/**
 * Milliseconds a handler may wait on something outside Kong. At most MAX_OUTBOUND_WAIT_MS (10 s): Kong waits 60 s
 * for a step's reply and then skips the plugin (fail-open).
 */
export const outboundTimeoutMs = <const O extends { description: string; default: number; min: number }>(options: O) =>
  integer({ default: options.default, between: [options.min, MAX_OUTBOUND_WAIT_MS], description: options.description });

/**
 * A secret string that may be a vault reference ({vault://env/NAME}). Kong resolves it before the plugin sees
 * the config; the reader refuses "" (what Kong leaves of a reference it cannot resolve) and an unresolved one.
 */
export const secret = <
  const O extends { len_max: number; description?: string; required?: boolean; encrypted?: boolean },
>(
  options: O,
) => string({ ...options, referenceable: true });
