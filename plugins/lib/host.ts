// Host header parsing and host allow-lists.
//
// A Host value is accepted only if it is `hostname[:port]`, `IPv4[:port]` or `[IPv6][:port]` with a
// conservative hostname alphabet (letters, digits, `-`, `_`, `.`). Anything else (userinfo `a@b`, paths,
// spaces, percent-encoding, a second colon) is refused: these values end up in `Location` headers and in
// routing decisions, where a lenient parser is how host-header attacks work.
import { ConfigError } from './config';
import { parseIp } from './ip';

export interface HostPort {
  /** Lower-case; no brackets for IPv6 (canonical form); no trailing dot. */
  hostname: string;
  kind: 'name' | 'ipv4' | 'ipv6';
  port?: number;
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const MAX_NAME_LENGTH = 253;

function parsePort(text: string): number | undefined {
  if (!/^[1-9]\d{0,4}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** Validate a DNS-style name (already lower-cased, trailing dot removed). */
function isHostname(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) return false;
  // All-numeric dotted names that are not a valid IPv4 address (`999.1.1.1`, `1.2.3`) are ambiguous.
  if (labels.every((label) => /^\d+$/.test(label))) return false;
  return true;
}

/** Parse a Host header (or X-Forwarded-Host / Forwarded host=) value; undefined when not well-formed. */
export function parseHostPort(value: string | undefined): HostPort | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 300) return undefined;
  let hostPart: string;
  let portText: string | undefined;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return undefined;
    hostPart = value.slice(1, close);
    const rest = value.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
    const ip = parseIp(hostPart);
    if (ip === undefined || !hostPart.includes(':')) return undefined;
    const port = portText === undefined ? undefined : parsePort(portText);
    if (portText !== undefined && port === undefined) return undefined;
    // An IPv4-mapped literal unmaps to IPv4 (and is then written without brackets).
    return withPort({ hostname: ip.text, kind: ip.family === 6 ? 'ipv6' : 'ipv4' }, port);
  }
  const colon = value.indexOf(':');
  if (colon >= 0) {
    hostPart = value.slice(0, colon);
    portText = value.slice(colon + 1);
  } else {
    hostPart = value;
  }
  const port = portText === undefined ? undefined : parsePort(portText);
  if (portText !== undefined && port === undefined) return undefined;
  let name = hostPart.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  const ip = parseIp(name);
  if (ip !== undefined && ip.family === 4 && ip.text === name) return withPort({ hostname: name, kind: 'ipv4' }, port);
  if (!isHostname(name)) return undefined;
  return withPort({ hostname: name, kind: 'name' }, port);
}

function withPort(host: HostPort, port: number | undefined): HostPort {
  return port === undefined ? host : { ...host, port };
}

/** `host[:port]` for a URL authority; IPv6 gets brackets. The port is explicit: pass `host.port` to keep it. */
export function formatAuthority(host: HostPort, port: number | undefined): string {
  const name = host.kind === 'ipv6' ? `[${host.hostname}]` : host.hostname;
  return port === undefined ? name : `${name}:${port}`;
}

type HostPattern = { exact: string } | { suffix: string };

/**
 * An allow-list of hosts. Entries are exact names or IP literals (`api.example.com`, `10.0.0.5`, `[::1]`
 * or `::1`), or wildcards `*.example.com` matching one or more labels in front of `example.com` (not
 * `example.com` itself), like the wildcard hosts of Kong routes. Case-insensitive; ports are ignored.
 */
export class HostAllowList {
  private constructor(private readonly patterns: readonly HostPattern[]) {}

  static parse(entries: readonly string[], field: string): HostAllowList {
    const patterns = entries.map((entry, i): HostPattern => {
      const fail = (): never => {
        throw new ConfigError(`${field}[${i}]`, `invalid host ${JSON.stringify(entry)}`);
      };
      if (typeof entry !== 'string') return fail();
      if (entry.startsWith('*.')) {
        const base = parseHostPort(entry.slice(2));
        if (base === undefined || base.kind !== 'name' || base.port !== undefined) return fail();
        return { suffix: `.${(base as HostPort).hostname}` };
      }
      // Accept a bare IPv6 literal as well as the bracketed form.
      const host = parseHostPort(entry.includes(':') && !entry.startsWith('[') ? `[${entry}]` : entry);
      if (host === undefined || host.port !== undefined) return fail();
      return { exact: (host as HostPort).hostname };
    });
    return new HostAllowList(patterns);
  }

  get isEmpty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether the (parsed) host is listed. An empty list allows nothing: callers check isEmpty first. */
  allows(host: HostPort): boolean {
    const name = host.hostname;
    return this.patterns.some((p) =>
      'exact' in p
        ? p.exact === name
        : host.kind === 'name' && name.length > p.suffix.length && name.endsWith(p.suffix),
    );
  }
}
