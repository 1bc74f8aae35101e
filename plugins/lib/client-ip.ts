// Client-IP, scheme and host resolution through trusted proxies. Pure functions, and `clientIp`, the one way every
// plugin gets the client's address (one kong.client.getIp RPC).
//
// Kong's own answer is global (kong.conf `trusted_ips` + `real_ip_header` + `real_ip_recursive`, applied
// by nginx realip before any plugin runs; default: trust nobody). Bulwark plugins take their own list
// of trusted proxy CIDRs and resolve from what `kong.client.getIp()` (the connection peer) and the request
// headers say:
//
// - The peer is the only address nobody can forge. Forwarding headers count only when the peer is a
//   trusted proxy.
// - X-Forwarded-For / Forwarded are walked RIGHT TO LEFT: each trusted proxy appends the address it saw,
//   so the rightmost entries are the ones our proxies wrote and everything left of the first untrusted
//   address is client-controlled (a spoofed leftmost XFF never matters).
// - The walk stops at the first address that is not trusted: that is the client. It also stops at an
//   entry that is not an IP (garbage, `unknown`, an obfuscated `_id`): the client is then the last
//   trusted hop, flagged `malformed`, so a caller may refuse instead. Garbage is never returned as an IP.
// - Only ONE of the two headers is used, chosen by configuration: a proxy that appends X-Forwarded-For
//   usually passes a client's `Forwarded` header through untouched, so reading both would let a client
//   pick its address.
// - The forwarded scheme and host are read only when the peer is trusted. X-Forwarded-Proto/-Host must
//   then be a single value (several values are ambiguous: Kong itself refuses several X-Forwarded-Proto,
//   kong/tools/http.lua check_https); with `Forwarded` they come from the element that describes the
//   client's request (the one where the walk stopped).
import { joinedHeader, headerValues, type HeaderMultimap, type Kong } from './pdk';
import { CidrList, parseIp } from './ip';
import { parseHostPort, type HostPort } from './host';

export type ForwardedHeaderKind = 'x-forwarded-for' | 'forwarded';

export interface ForwardingInput {
  /** The connection peer, `kong.client.getIp()`. */
  peerIp: string | undefined;
  /** `kong.request.getHeaders()`. */
  headers: HeaderMultimap;
  trustedProxies: CidrList;
  /** Which header carries the chain; default `x-forwarded-for`. */
  header?: ForwardedHeaderKind;
  /** Stop walking after this many trusted hops (bounds the work on long headers). Default 32. */
  maxHops?: number;
}

export interface ForwardingResult {
  /** Canonical client IP; undefined only when the peer address itself is missing or unparseable. */
  clientIp: string | undefined;
  /** The client IP came from the peer (no trusted hop) or from a forwarding header. */
  source: 'peer' | ForwardedHeaderKind;
  peerTrusted: boolean;
  /** Number of trusted proxies walked through (0 = the peer is the client). */
  hops: number;
  /** The walk stopped at an entry that is not an IP address (or the header did not parse). */
  malformed: boolean;
  /** The scheme the client used according to a trusted proxy; undefined when not given or not valid. */
  forwardedScheme: 'http' | 'https' | undefined;
  /** The host the client addressed according to a trusted proxy; undefined when not given or not valid. */
  forwardedHost: HostPort | undefined;
  /** A trusted proxy sent a host value that is not a single well-formed host (callers should refuse). */
  forwardedHostInvalid: boolean;
}

const DEFAULT_MAX_HOPS = 32;

/**
 * Parse one node of X-Forwarded-For or a `for=` value of Forwarded: an IP with an optional port
 * (`1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`). Returns the
 * canonical IP or undefined (which covers `unknown` and obfuscated identifiers like `_hidden`).
 */
export function parseNodeAddress(node: string): string | undefined {
  const text = node.trim();
  if (text.length === 0 || text.length > 64) return undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !/^:(?:[1-9]\d{0,4}|_[A-Za-z0-9._-]+)$/.test(rest)) return undefined;
    const inner = text.slice(1, close);
    if (!inner.includes(':')) return undefined;
    return parseIp(inner)?.text;
  }
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    // IPv4 with a port.
    const [addr, port] = text.split(':') as [string, string];
    if (!/^(?:[1-9]\d{0,4}|_[A-Za-z0-9._-]+)$/.test(port)) return undefined;
    const ip = parseIp(addr);
    return ip !== undefined && ip.family === 4 ? ip.text : undefined;
  }
  // A bare IPv4 or a bare IPv6 (unbracketed IPv6 cannot carry a port).
  return parseIp(text)?.text;
}

export interface ForwardedElement {
  for?: string;
  by?: string;
  proto?: string;
  host?: string;
}

/**
 * Parse an RFC 7239 Forwarded value (all header instances joined with ","). Returns undefined when the
 * syntax is broken anywhere: element boundaries cannot be trusted past a syntax error (a stray quote
 * can swallow the rest of the header).
 */
export function parseForwarded(value: string): ForwardedElement[] | undefined {
  const elements: ForwardedElement[] = [];
  let element: Record<string, string> = {};
  let i = 0;
  const n = value.length;
  const skipWs = () => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
  let expectPair = true;
  while (true) {
    skipWs();
    if (i >= n) {
      if (expectPair && Object.keys(element).length > 0) return undefined; // trailing ";"
      break;
    }
    if (value[i] === ',') {
      // An empty element (",,") is tolerated as RFC 7230 list syntax allows; a dangling ";" is not.
      if (expectPair && Object.keys(element).length > 0) return undefined;
      if (Object.keys(element).length > 0) elements.push(element);
      element = {};
      expectPair = true;
      i++;
      continue;
    }
    if (!expectPair) {
      if (value[i] !== ';') return undefined;
      i++;
      expectPair = true;
      continue;
    }
    // name
    const nameStart = i;
    while (i < n && TOKEN.test(value[i] as string)) i++;
    const name = value.slice(nameStart, i).toLowerCase();
    if (name.length === 0 || value[i] !== '=') return undefined;
    i++;
    let paramValue: string;
    if (value[i] === '"') {
      i++;
      let out = '';
      let closed = false;
      while (i < n) {
        const c = value[i] as string;
        if (c === '\\') {
          if (i + 1 >= n) return undefined;
          out += value[i + 1];
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        out += c;
        i++;
      }
      if (!closed) return undefined;
      paramValue = out;
    } else {
      const start = i;
      while (i < n && TOKEN.test(value[i] as string)) i++;
      paramValue = value.slice(start, i);
      if (paramValue.length === 0) return undefined;
    }
    if (Object.prototype.hasOwnProperty.call(element, name)) return undefined; // RFC 7239 §4: once per element
    element[name] = paramValue;
    expectPair = false;
  }
  if (Object.keys(element).length > 0) elements.push(element);
  return elements.map((e) => {
    const out: ForwardedElement = {};
    if (e.for !== undefined) out.for = e.for;
    if (e.by !== undefined) out.by = e.by;
    if (e.proto !== undefined) out.proto = e.proto;
    if (e.host !== undefined) out.host = e.host;
    return out;
  });
}

function normalizeScheme(value: string | undefined): 'http' | 'https' | undefined {
  if (value === undefined) return undefined;
  const lower = value.trim().toLowerCase();
  return lower === 'http' || lower === 'https' ? lower : undefined;
}

/** A header that must appear once with one value (no list); undefined otherwise. */
function singleValue(headers: HeaderMultimap, name: string): string | undefined {
  const values = headerValues(headers, name);
  if (values.length !== 1) return undefined;
  const value = (values[0] as string).trim();
  return value.length === 0 || value.includes(',') ? undefined : value;
}

/**
 * Which of a forwarded scheme and host the request's headers can carry in `kind` mode: the headers resolveForwarding
 * reads them from (X-Forwarded-Proto / X-Forwarded-Host, or Forwarded's proto= / host=). Where one says false,
 * resolveForwarding leaves forwardedScheme (or forwardedHost and forwardedHostInvalid) unset whoever the peer is, so a
 * caller that uses nothing else of the result need not read the peer address (bulwark-transport's peerIpNeeded).
 */
export function forwardingCarries(
  headers: HeaderMultimap,
  kind: ForwardedHeaderKind,
): { scheme: boolean; host: boolean } {
  if (kind === 'forwarded') {
    const present = headerValues(headers, 'forwarded').length > 0;
    return { scheme: present, host: present };
  }
  return {
    scheme: headerValues(headers, 'x-forwarded-proto').length > 0,
    host: headerValues(headers, 'x-forwarded-host').length > 0,
  };
}

/** Resolve client IP, forwarded scheme and forwarded host. See the file comment for the rules. */
export function resolveForwarding(input: ForwardingInput): ForwardingResult {
  const kind = input.header ?? 'x-forwarded-for';
  const maxHops = input.maxHops ?? DEFAULT_MAX_HOPS;
  const peer = input.peerIp === undefined ? undefined : parseIp(input.peerIp);
  const result: ForwardingResult = {
    clientIp: peer?.text,
    source: 'peer',
    peerTrusted: false,
    hops: 0,
    malformed: false,
    forwardedScheme: undefined,
    forwardedHost: undefined,
    forwardedHostInvalid: false,
  };
  if (peer === undefined || !input.trustedProxies.contains(peer)) return result;
  result.peerTrusted = true;

  if (kind === 'x-forwarded-for') {
    const joined = joinedHeader(input.headers, 'x-forwarded-for');
    result.forwardedScheme = normalizeScheme(singleValue(input.headers, 'x-forwarded-proto'));
    if (headerValues(input.headers, 'x-forwarded-host').length > 0) {
      const hostValue = singleValue(input.headers, 'x-forwarded-host');
      result.forwardedHost = hostValue === undefined ? undefined : parseHostPort(hostValue);
      result.forwardedHostInvalid = result.forwardedHost === undefined;
    }
    if (joined === undefined) return result;
    const nodes = joined.split(',');
    walk(
      result,
      nodes.length,
      (index) => parseNodeAddress(nodes[index] as string),
      input.trustedProxies,
      maxHops,
      kind,
    );
    return result;
  }

  const joined = joinedHeader(input.headers, 'forwarded');
  if (joined === undefined) return result;
  const elements = parseForwarded(joined);
  if (elements === undefined) {
    result.malformed = true;
    return result;
  }
  const stoppedAt = walk(
    result,
    elements.length,
    (index) => {
      const f = (elements[index] as ForwardedElement).for;
      return f === undefined ? undefined : parseNodeAddress(f);
    },
    input.trustedProxies,
    maxHops,
    kind,
  );
  // The element that describes the client's request: where the walk stopped on an untrusted address, or
  // the leftmost one when every hop was trusted. None when it stopped on garbage or at the hop limit.
  if (stoppedAt !== undefined) {
    const element = elements[stoppedAt] as ForwardedElement;
    result.forwardedScheme = normalizeScheme(element.proto);
    if (element.host !== undefined) {
      result.forwardedHost = parseHostPort(element.host);
      result.forwardedHostInvalid = result.forwardedHost === undefined;
    }
  }
  return result;
}

/**
 * Walk entries right to left from the trusted peer. Updates `result`; returns the index of the entry
 * that names the client (for Forwarded proto/host), or undefined when the walk ended on garbage or on the
 * hop limit.
 */
function walk(
  result: ForwardingResult,
  count: number,
  addressAt: (index: number) => string | undefined,
  trusted: CidrList,
  maxHops: number,
  kind: ForwardedHeaderKind,
): number | undefined {
  for (let index = count - 1; index >= 0; index--) {
    if (result.hops >= maxHops) {
      result.malformed = true;
      return undefined;
    }
    const address = addressAt(index);
    if (address === undefined) {
      result.malformed = true;
      return undefined;
    }
    result.clientIp = address;
    result.source = kind;
    result.hops++;
    if (!trusted.contains(address)) return index;
  }
  return count > 0 ? 0 : undefined;
}

/** The client-IP settings plugins share (`trusted_proxies`, `forwarded_header`). */
export interface ClientIpSettings {
  trustedProxies: CidrList;
  forwardedHeader: ForwardedHeaderKind;
}

/**
 * The client's address as every Bulwark plugin reports and keys it: the canonical text of the address
 * (`::ffff:192.0.2.1` → `192.0.2.1`, IPv6 compressed and lower-case), resolved through trusted proxies only. A peer
 * that is not an IP at all (Kong's `unix:` on a unix-socket listener) is kept as Kong gives it: it is not a trusted
 * proxy, so it is the client, and dropping it would put all such clients under one "unknown" key.
 */
export function clientAddress(
  peerIp: unknown,
  headers: HeaderMultimap | undefined,
  settings: ClientIpSettings,
): string | undefined {
  const peer = typeof peerIp === 'string' && peerIp !== '' ? peerIp : undefined;
  if (peer === undefined) return undefined;
  const resolved = settings.trustedProxies.isEmpty
    ? parseIp(peer)?.text
    : resolveForwarding({
        peerIp: peer,
        headers: headers ?? {},
        trustedProxies: settings.trustedProxies,
        header: settings.forwardedHeader,
      }).clientIp;
  return resolved ?? peer;
}

/**
 * `clientAddress` of the current request: one `kong.client.getIp` RPC. `headers` are the request headers the caller
 * already read (lib/bounded-reads.ts); without trusted proxies they are not needed.
 */
export async function clientIp(
  kong: Pick<Kong, 'client'>,
  settings: ClientIpSettings,
  headers: HeaderMultimap | undefined,
): Promise<string | undefined> {
  return clientAddress(await kong.client.getIp(), headers, settings);
}
