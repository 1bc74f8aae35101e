// Client-certificate (mTLS) verification as pure functions over PEM text, with node:crypto's X509Certificate.
//
// Why the plugin verifies the chain itself: Kong asks nginx for a client certificate with
// `kong.client.tls.request_client_certificate()` (kong/pdk/client/tls.lua), which REQUESTS but does not
// verify one: the handshake completes with any certificate, or none. What reaches the plugin is the chain
// exactly as the client sent it (`get_full_client_certificate_chain`, leaf first), so every check a TLS
// stack would make is made here, failing closed:
// - each link: `checkIssued` (issuer name, key identifiers, keyCertSign when the issuer has a keyUsage) and
//   the signature (`verify(issuer.publicKey)`); every issuer must be a CA (basicConstraints CA:TRUE);
// - the path must end at a configured CA (only the configured CAs are anchors: a root the client sends
//   along is ignored), within `maxDepth` issuing certificates;
// - validity dates of every certificate on the path, the anchor included (as OpenSSL does);
// - the leaf must not be a CA, and every certificate on the path that has an extendedKeyUsage must allow
//   clientAuth (or anyExtendedKeyUsage): a server or code-signing certificate is no client credential.
// Not checked (node:crypto exposes none of it): revocation (CRL/OCSP), pathLenConstraint, name constraints,
// policies, the leaf's keyUsage bits, the signature algorithm's strength.
import { X509Certificate } from 'node:crypto';

export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const OID_ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

/** Upper bounds on what a client may send, so a hostile chain cannot make us parse megabytes. */
export const MAX_CHAIN_PEM_LENGTH = 64 * 1024;
export const MAX_CHAIN_CERTIFICATES = 10;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;

/** The trust configuration, built once per plugin instance. */
export interface MtlsTrust {
  anchors: readonly X509Certificate[];
  /** Issuing certificates allowed from the leaf to the anchor, the anchor included (1 = issued by an anchor). */
  maxDepth: number;
  checkValidity: boolean;
}

export interface SubjectAltNames {
  dns: string[];
  email: string[];
  uri: string[];
}

export interface CertificateSubject {
  /** The subject's common name; undefined when there is none or more than one (ambiguous). */
  cn: string | undefined;
}

export type ChainFailure =
  | 'malformed_chain'
  | 'unknown_issuer'
  | 'issuer_not_ca'
  | 'chain_too_deep'
  | 'expired'
  | 'not_yet_valid'
  | 'leaf_is_ca'
  | 'client_auth_not_allowed'
  | 'unreadable_names';

export type ChainVerification =
  | {
      ok: true;
      subject: CertificateSubject;
      sans: SubjectAltNames;
      /** SHA-256 of the leaf's DER, lower-case hex without separators. */
      fingerprint: string;
      /** Issuing certificates used, the anchor included. */
      depth: number;
    }
  /** `fingerprint`: the leaf's, when the chain could be parsed (public; it names the certificate in events). */
  | { ok: false; reason: ChainFailure; detail: string; fingerprint?: string };

/** The PEM certificate blocks of a text, in order. Anything between blocks is ignored. */
export function pemBlocks(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? [];
}

/** Parses one PEM certificate; undefined when the text is not exactly one certificate node:crypto can read. */
export function parseSinglePem(text: string): { cert: X509Certificate } | { error: string } {
  const blocks = pemBlocks(text);
  if (blocks.length === 0) return { error: 'not a PEM certificate' };
  if (blocks.length > 1)
    return { error: `expected one certificate, found ${blocks.length} (give each CA its own element)` };
  try {
    return { cert: new X509Certificate(blocks[0] as string) };
  } catch {
    return { error: 'not a PEM certificate' };
  }
}

/** `Jan  1 00:00:00 2020 GMT` → epoch ms; NaN when unreadable (the caller fails closed). */
function certTime(value: string): number {
  return Date.parse(value);
}

function validityProblem(
  cert: X509Certificate,
  now: Date,
): 'expired' | 'not_yet_valid' | 'malformed_chain' | undefined {
  const from = certTime(cert.validFrom);
  const to = certTime(cert.validTo);
  if (Number.isNaN(from) || Number.isNaN(to)) return 'malformed_chain';
  const t = now.getTime();
  if (t < from) return 'not_yet_valid';
  if (t > to) return 'expired';
  return undefined;
}

/** extendedKeyUsage absent = any purpose; present = must name clientAuth or anyExtendedKeyUsage. */
export function allowsClientAuth(cert: X509Certificate): boolean {
  const eku = cert.keyUsage; // node:crypto's name for the extendedKeyUsage OIDs
  if (eku === undefined || eku === null) return true;
  return eku.includes(OID_CLIENT_AUTH) || eku.includes(OID_ANY_EXTENDED_KEY_USAGE);
}

function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function cnOf(cert: X509Certificate): string {
  const { cn } = parseSubject(cert.subject);
  return cn ?? cert.subject.replace(/\n/g, ', ');
}

/**
 * Verifies a client's certificate chain (PEM, leaf first, as Kong returns it) against the trust anchors.
 * `now` is a parameter so tests can move the clock.
 */
export function verifyClientChain(chainPem: string, trust: MtlsTrust, now: Date): ChainVerification {
  let leafFingerprint: string | undefined;
  const fail = (reason: ChainFailure, detail: string): ChainVerification =>
    leafFingerprint === undefined
      ? { ok: false, reason, detail }
      : { ok: false, reason, detail, fingerprint: leafFingerprint };
  if (chainPem.length > MAX_CHAIN_PEM_LENGTH)
    return fail('malformed_chain', `chain longer than ${MAX_CHAIN_PEM_LENGTH} characters`);
  const blocks = pemBlocks(chainPem);
  if (blocks.length === 0) return fail('malformed_chain', 'no PEM certificate in the chain');
  if (blocks.length > MAX_CHAIN_CERTIFICATES)
    return fail('malformed_chain', `more than ${MAX_CHAIN_CERTIFICATES} certificates`);
  let certs: X509Certificate[];
  try {
    certs = blocks.map((b) => new X509Certificate(b));
  } catch {
    return fail('malformed_chain', 'a certificate of the chain cannot be parsed');
  }

  const leaf = certs[0] as X509Certificate;
  leafFingerprint = fingerprintHex(leaf);
  if (leaf.ca) return fail('leaf_is_ca', `client certificate "${cnOf(leaf)}" is a CA certificate`);

  // Walk up from the leaf: an anchor first (the shortest path wins), else an unused certificate the client sent.
  const path: X509Certificate[] = [leaf];
  const unused = certs.slice(1);
  let current = leaf;
  let anchor: X509Certificate | undefined;
  for (;;) {
    anchor = trust.anchors.find((a) => issuedBy(current, a));
    if (anchor !== undefined) break;
    const index = unused.findIndex((c) => issuedBy(current, c));
    if (index < 0)
      return fail(
        'unknown_issuer',
        `no trusted issuer for "${cnOf(current)}" (issuer "${current.issuer.replace(/\n/g, ', ')}")`,
      );
    const issuer = unused.splice(index, 1)[0] as X509Certificate;
    if (!issuer.ca)
      return fail('issuer_not_ca', `"${cnOf(current)}" is signed by "${cnOf(issuer)}", which is not a CA`);
    // +1 for the anchor still to come.
    if (path.length + 1 > trust.maxDepth)
      return fail('chain_too_deep', `more than ${trust.maxDepth} issuing certificates`);
    path.push(issuer);
    current = issuer;
  }
  const depth = path.length; // intermediates + the anchor

  for (const cert of path) {
    if (!allowsClientAuth(cert)) {
      return fail('client_auth_not_allowed', `"${cnOf(cert)}" has an extendedKeyUsage without clientAuth`);
    }
  }
  if (trust.checkValidity) {
    for (const cert of [...path, anchor]) {
      const problem = validityProblem(cert, now);
      if (problem !== undefined) {
        return fail(problem, `"${cnOf(cert)}" is valid from ${cert.validFrom} to ${cert.validTo}`);
      }
    }
  }

  let subject: CertificateSubject;
  let sans: SubjectAltNames;
  try {
    subject = parseSubject(leaf.subject);
    sans = parseSubjectAltNames(leaf.subjectAltName);
  } catch (err) {
    return fail('unreadable_names', err instanceof Error ? err.message : 'unreadable subject or subjectAltName');
  }
  return { ok: true, subject, sans, fingerprint: leafFingerprint, depth };
}

export function fingerprintHex(cert: X509Certificate): string {
  return cert.fingerprint256.replace(/:/g, '').toLowerCase();
}

/**
 * The subject as node:crypto prints it: one `KEY=value` per line (RFC 2253 escaping: `\,`, `\0A` for
 * controls, so a value cannot contain a real line break), ` + ` between the parts of a multi-valued RDN.
 */
export function parseSubject(subject: string): CertificateSubject {
  const cns: string[] = [];
  for (const line of subject.split('\n')) {
    for (const part of splitUnescaped(line, ' + ')) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      if (part.slice(0, eq) === 'CN') cns.push(unescapeRfc2253(part.slice(eq + 1)));
    }
  }
  return { cn: cns.length === 1 ? cns[0] : undefined };
}

function splitUnescaped(text: string, separator: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text.startsWith(separator, i)) {
      out.push(text.slice(start, i));
      start = i + separator.length;
      i = start - 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

function unescapeRfc2253(value: string): string {
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\' && i + 1 < value.length) {
      const hex = value.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else {
        bytes.push(...encoder.encode(value[i + 1] as string));
        i += 1;
      }
      continue;
    }
    const cp = value.codePointAt(i) as number;
    const ch = String.fromCodePoint(cp);
    if (ch.length === 2) i++;
    bytes.push(...encoder.encode(ch));
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
}

/**
 * node:crypto's subjectAltName text: `TYPE:value` entries joined by ", "; a value with special characters
 * (comma, quote, controls) is printed as a JSON string literal (Node's fix for CVE-2021-44532), so splitting
 * on ", " outside quotes is exact. Throws on anything else: the caller fails closed.
 */
export function parseSubjectAltNames(text: string | undefined): SubjectAltNames {
  const sans: SubjectAltNames = { dns: [], email: [], uri: [] };
  if (text === undefined || text === '') return sans;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) throw new Error('unreadable subjectAltName');
    const type = text.slice(i, colon);
    let value: string;
    let j = colon + 1;
    if (text[j] === '"') {
      let k = j + 1;
      while (k < text.length && text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
      if (k >= text.length) throw new Error('unterminated quoted subjectAltName value');
      value = JSON.parse(text.slice(j, k + 1)) as string;
      j = k + 1;
    } else {
      const end = text.indexOf(', ', j);
      value = text.slice(j, end < 0 ? text.length : end);
      j = end < 0 ? text.length : end;
    }
    if (type === 'DNS') sans.dns.push(value);
    else if (type === 'email') sans.email.push(value);
    else if (type === 'URI') sans.uri.push(value);
    // IP Address, DirName, othername, Registered ID: not identities this plugin matches on.
    if (j < text.length) {
      if (!text.startsWith(', ', j)) throw new Error('unreadable subjectAltName');
      j += 2;
    }
    i = j;
  }
  return sans;
}

/**
 * `allowed_subjects`: exact values, matched against the subject CN and the SAN DNS names, emails and URIs.
 * DNS names compare case-insensitively (RFC 4343); the rest exactly.
 */
export class SubjectAllowList {
  private readonly exact: ReadonlySet<string>;
  private readonly dnsLower: ReadonlySet<string>;

  constructor(readonly entries: readonly string[]) {
    this.exact = new Set(entries);
    this.dnsLower = new Set(entries.map((e) => e.toLowerCase()));
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  /** Empty list: every verified certificate is allowed. */
  allows(subject: CertificateSubject, sans: SubjectAltNames): boolean {
    if (this.isEmpty) return true;
    if (subject.cn !== undefined && this.exact.has(subject.cn)) return true;
    if (sans.dns.some((d) => this.dnsLower.has(d.toLowerCase()))) return true;
    return sans.email.some((e) => this.exact.has(e)) || sans.uri.some((u) => this.exact.has(u));
  }
}

export type ConsumerSource = 'san' | 'cn';

/**
 * The certificate values to look consumers up by (as usernames), in the configured order, without
 * duplicates, at most `limit` (each one is an RPC).
 */
export function consumerCandidates(
  consumerBy: readonly ConsumerSource[],
  subject: CertificateSubject,
  sans: SubjectAltNames,
  limit: number,
): string[] {
  const out: string[] = [];
  const add = (v: string) => {
    if (v !== '' && !out.includes(v) && out.length < limit) out.push(v);
  };
  for (const source of consumerBy) {
    if (source === 'san') [...sans.dns, ...sans.email, ...sans.uri].forEach(add);
    else if (subject.cn !== undefined) add(subject.cn);
  }
  return out;
}

export type ClientCertificateFailure = ChainFailure | 'not_tls' | 'no_certificate' | 'subject_not_allowed';

export interface ClientCertificateInput {
  /** The connection to Kong is TLS (`kong.request.getScheme()`, never a forwarded scheme). */
  connectionTls: boolean;
  /** A trusted proxy reported HTTPS although the connection to Kong is not: TLS ended in front of Kong. */
  forwardedHttps: boolean;
  /** `kong.client.tls.getFullClientCertificateChain()`; undefined when not read or none was presented. */
  chainPem: string | undefined;
}

export type ClientCertificateAssessment =
  | Extract<ChainVerification, { ok: true }>
  | { ok: false; reason: ClientCertificateFailure; detail: string; presented: boolean; fingerprint?: string };

/**
 * Everything about the client certificate that needs no RPC: is there one (a client certificate only
 * exists on a TLS connection to Kong itself), does it verify, is it on the allow-list.
 */
export function assessClientCertificate(
  input: ClientCertificateInput,
  trust: MtlsTrust,
  allowList: SubjectAllowList,
  now: Date,
): ClientCertificateAssessment {
  if (!input.connectionTls) {
    const detail = input.forwardedHttps
      ? 'TLS ends at a proxy in front of Kong: the client certificate never reaches Kong'
      : 'plain-HTTP request: no client certificate without TLS';
    return { ok: false, reason: 'not_tls', detail, presented: false };
  }
  if (input.chainPem === undefined || input.chainPem === '') {
    return {
      ok: false,
      reason: 'no_certificate',
      detail: 'no client certificate: the client sent none, or none was requested during the handshake',
      presented: false,
    };
  }
  const verified = verifyClientChain(input.chainPem, trust, now);
  if (!verified.ok) return { ...verified, presented: true };
  if (!allowList.allows(verified.subject, verified.sans)) {
    return {
      ok: false,
      reason: 'subject_not_allowed',
      detail: `certificate ${verified.fingerprint} (CN ${JSON.stringify(verified.subject.cn ?? null)}) matches no allowed_subjects entry`,
      presented: true,
      fingerprint: verified.fingerprint,
    };
  }
  return verified;
}
