// Strict IP address and CIDR parsing (IPv4 and IPv6), shared by every plugin that looks at addresses.
//
// Strict on purpose: these parse values taken from headers an attacker may write. No leading zeros in IPv4
// octets (`010.0.0.1` is octal to some parsers), no shorthand (`10.1`), no zone ids (`fe80::1%eth0`), no
// surrounding whitespace. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are unmapped to IPv4, so a list of
// IPv4 CIDRs matches a dual-stack socket's view of an IPv4 client.
import { ConfigError } from './config';

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  /** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6. */
  text: string;
}

export interface Cidr {
  family: IpFamily;
  bytes: Uint8Array;
  prefix: number;
  /** Canonical `address/prefix`. */
  text: string;
}

const IPV4_OCTET = /^(?:0|[1-9]\d{0,2})$/;

function parseIpv4Bytes(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!IPV4_OCTET.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv6Bytes(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  let head = text;
  let tailV4: Uint8Array | undefined;
  // An embedded IPv4 tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) takes the last 32 bits.
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > lastColon) {
    tailV4 = parseIpv4Bytes(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1);
    // `::1.2.3.4` leaves `::`, `a::1.2.3.4` leaves `a::`, `a:b:c:d:e:f:1.2.3.4` leaves `a:b:c:d:e:f:`
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const groupsWanted = tailV4 ? 6 : 8;
  const doubleColon = head.indexOf('::');
  if (doubleColon !== head.lastIndexOf('::') && doubleColon >= 0) return undefined;
  let groups: string[];
  if (doubleColon >= 0) {
    const left = head.slice(0, doubleColon);
    const right = head.slice(doubleColon + 2);
    const leftGroups = left === '' ? [] : left.split(':');
    const rightGroups = right === '' ? [] : right.split(':');
    const missing = groupsWanted - leftGroups.length - rightGroups.length;
    if (missing < 1) return undefined;
    groups = [...leftGroups, ...new Array<string>(missing).fill('0'), ...rightGroups];
  } else {
    groups = head === '' ? [] : head.split(':');
  }
  if (groups.length !== groupsWanted) return undefined;
  const bytes = new Uint8Array(16);
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] as string;
    if (!HEX_GROUP.test(g)) return undefined;
    const n = parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  }
  if (tailV4) bytes.set(tailV4, 12);
  return bytes;
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

function formatIpv4(bytes: Uint8Array): string {
  return Array.from(bytes).join('.');
}

function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parse an IP address literal (no brackets, no port). IPv4-mapped IPv6 comes back as IPv4. */
export function parseIp(text: string): IpAddress | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 45) return undefined;
  if (text.includes(':')) {
    const bytes = parseIpv6Bytes(text);
    if (bytes === undefined) return undefined;
    if (isV4Mapped(bytes)) {
      const v4 = bytes.slice(12);
      return { family: 4, bytes: v4, text: formatIpv4(v4) };
    }
    return { family: 6, bytes, text: formatIpv6(bytes) };
  }
  const bytes = parseIpv4Bytes(text);
  return bytes === undefined ? undefined : { family: 4, bytes, text: formatIpv4(bytes) };
}

/** True if `text` is an IP literal parseIp accepts. */
export function isIp(text: string): boolean {
  return parseIp(text) !== undefined;
}

function hostBitsSet(bytes: Uint8Array, prefix: number): boolean {
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    if (((bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1) return true;
  }
  return false;
}

/**
 * Parse `address/prefix` (or a bare address = a single host). Throws an Error saying why on anything else.
 * Host bits set (`10.1.0.0/8`) are refused rather than masked: they usually mean a typo whose masked
 * reading would trust far more addresses than the operator meant.
 */
export function parseCidr(text: string): Cidr {
  if (typeof text !== 'string' || text.length === 0) throw new Error('empty');
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const address = parseIp(addressText);
  if (address === undefined) throw new Error('not an IP address');
  const mapped = addressText.includes(':') && address.family === 4;
  const width = address.family === 4 ? 32 : 128;
  let prefix = width;
  if (prefixText !== undefined) {
    if (!/^(?:0|[1-9]\d{0,2})$/.test(prefixText)) throw new Error('bad prefix length');
    prefix = Number(prefixText);
    if (mapped) {
      // `::ffff:10.0.0.0/104` is the IPv4 block 10.0.0.0/8.
      if (prefix < 96 || prefix > 128) throw new Error('an IPv4-mapped prefix must be between 96 and 128');
      prefix -= 96;
    }
    if (prefix > width) throw new Error(`prefix length above ${width}`);
  }
  if (hostBitsSet(address.bytes, prefix)) {
    throw new Error(`host bits set (did you mean ${maskedText(address, prefix)}?)`);
  }
  return { family: address.family, bytes: address.bytes, prefix, text: `${address.text}/${prefix}` };
}

function maskedText(address: IpAddress, prefix: number): string {
  const bytes = address.bytes.slice();
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    (bytes as Uint8Array)[bit >> 3] = (bytes[bit >> 3] as number) & ~(1 << (7 - (bit & 7)));
  }
  return `${address.family === 4 ? formatIpv4(bytes) : formatIpv6(bytes)}/${prefix}`;
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== ip.bytes[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((cidr.bytes[full] as number) & mask) === ((ip.bytes[full] as number) & mask);
}

/** A list of CIDRs, e.g. the trusted proxies. Parsing errors name the offending element. */
export class CidrList {
  private constructor(readonly cidrs: readonly Cidr[]) {}

  static readonly EMPTY = new CidrList([]);

  /**
   * @param field the config path used in errors, e.g. `trusted_proxies` → `trusted_proxies[1]: invalid CIDR "10.0.0/8" (not an IP address)`.
   *   Indexes are 0-based, as in jq/JSON paths.
   */
  static parse(list: readonly string[], field: string): CidrList {
    const cidrs = list.map((entry, i) => {
      try {
        return parseCidr(entry);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new ConfigError(`${field}[${i}]`, `invalid CIDR ${JSON.stringify(entry)} (${reason})`);
      }
    });
    return new CidrList(cidrs);
  }

  get isEmpty(): boolean {
    return this.cidrs.length === 0;
  }

  /** Whether the address (text or parsed) is inside one of the CIDRs; false for anything unparseable. */
  contains(ip: IpAddress | string | undefined): boolean {
    const parsed = typeof ip === 'string' ? parseIp(ip) : ip;
    if (parsed === undefined) return false;
    return this.cidrs.some((cidr) => cidrContains(cidr, parsed));
  }
}
