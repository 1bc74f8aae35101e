// Outbound HTTP(S) GET for a plugin that must fetch something itself (JWKS, OIDC discovery documents).
// The gateway making a request on its own is an SSRF-shaped risk and a latency risk, so every fetch is
// bounded: one overall deadline (connect + redirects + body), a response size limit (checked against
// Content-Length first, then counted while streaming), https only unless the caller allows http, and
// redirects only within the same origin (scheme, host and port), at most a few. Node's https agent
// verifies the server certificate against Node's root store plus any extra CA certificates given.
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';

export type OutboundFetchFailure =
  | 'invalid_url'
  | 'scheme_not_allowed'
  | 'timeout'
  | 'too_large'
  | 'redirect_refused'
  | 'too_many_redirects'
  | 'network';

export class OutboundFetchError extends Error {
  constructor(
    readonly reason: OutboundFetchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundFetchError';
  }
}

export interface OutboundFetchOptions {
  /** Deadline for the whole exchange, redirects and body included. */
  timeoutMs: number;
  /** Largest response body accepted, in bytes. */
  maxBytes: number;
  /** Allow plain http:// URLs (tests, a sidecar on loopback). Default false: https only. */
  allowHttp?: boolean;
  /** Same-origin redirects followed (default 2); a redirect to another origin is always refused. */
  maxRedirects?: number;
  /** Extra PEM CA certificates trusted besides Node's root store (a private PKI). */
  extraCaCertificates?: readonly string[];
  /** Request headers (e.g. Accept). */
  headers?: Record<string, string>;
  /** POST with this body instead of a GET (e.g. a JSON decision request; pass maxRedirects 0). */
  postBody?: string;
}

export interface OutboundFetchResult {
  status: number;
  /** The URL finally answered (after same-origin redirects). */
  url: string;
  contentType: string | undefined;
  body: Buffer;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Parse and check a URL against the scheme rule; throws OutboundFetchError. */
export function checkOutboundUrl(raw: string, allowHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundFetchError('invalid_url', `not a URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new OutboundFetchError(
      'scheme_not_allowed',
      `${url.protocol.replace(':', '')} URLs are not allowed${allowHttp ? '' : ' (https only)'}`,
    );
  }
  if (url.username !== '' || url.password !== '')
    throw new OutboundFetchError('invalid_url', 'credentials in URLs are not allowed');
  return url;
}

function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.hostname === b.hostname && a.port === b.port;
}

/** GET (or POST `postBody` to) `rawUrl` within the limits; resolves with any status (the caller decides). */
export async function fetchOutbound(rawUrl: string, options: OutboundFetchOptions): Promise<OutboundFetchResult> {
  const allowHttp = options.allowHttp === true;
  const maxRedirects = options.maxRedirects ?? 2;
  const first = checkOutboundUrl(rawUrl, allowHttp);
  const ca =
    options.extraCaCertificates !== undefined && options.extraCaCertificates.length > 0
      ? [...tls.rootCertificates, ...options.extraCaCertificates]
      : undefined;
  const deadline = Date.now() + options.timeoutMs;

  let url = first;
  for (let hop = 0; ; hop++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new OutboundFetchError('timeout', `no answer within ${options.timeoutMs} ms`);
    const res = await getOnce(url, remaining, options, ca);
    if (REDIRECT_STATUSES.has(res.status) && res.location !== undefined) {
      if (hop >= maxRedirects)
        throw new OutboundFetchError('too_many_redirects', `more than ${maxRedirects} redirects`);
      let next: URL;
      try {
        next = new URL(res.location, url);
      } catch {
        throw new OutboundFetchError('redirect_refused', 'redirect to an invalid URL');
      }
      if (!sameOrigin(first, next)) {
        throw new OutboundFetchError(
          'redirect_refused',
          `redirect to another origin (${next.protocol}//${next.host}) refused`,
        );
      }
      url = next;
      continue;
    }
    return { status: res.status, url: url.toString(), contentType: res.contentType, body: res.body };
  }
}

interface OneResponse {
  status: number;
  location: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

function getOnce(
  url: URL,
  timeoutMs: number,
  options: OutboundFetchOptions,
  ca: string[] | undefined,
): Promise<OneResponse> {
  return new Promise<OneResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, value?: OneResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== undefined) {
        req.destroy();
        reject(err);
      } else resolve(value!);
    };
    const requestOptions: https.RequestOptions = {
      method: options.postBody === undefined ? 'GET' : 'POST',
      headers: { 'user-agent': 'bulwark', ...options.headers },
      agent: false, // no pooled sockets kept open by a plugin server
    };
    if (ca !== undefined) requestOptions.ca = ca;
    const req = (url.protocol === 'https:' ? https : http).request(url, requestOptions, (res) => {
      const status = res.statusCode ?? 0;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        finish(new OutboundFetchError('too_large', `response of ${declared} bytes exceeds ${options.maxBytes}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          finish(new OutboundFetchError('too_large', `response exceeds ${options.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () =>
        finish(undefined, {
          status,
          location: typeof res.headers.location === 'string' ? res.headers.location : undefined,
          contentType: res.headers['content-type'],
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', (err) => finish(new OutboundFetchError('network', err.message)));
    });
    const timer = setTimeout(
      () => finish(new OutboundFetchError('timeout', `no answer within ${options.timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (err) => finish(new OutboundFetchError('network', err.message)));
    req.end(options.postBody);
  });
}
