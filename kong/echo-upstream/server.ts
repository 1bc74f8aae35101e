// A test upstream that answers every request with the request exactly as it arrived, so tests (against the
// emulator or a real Kong) can see what the gateway forwarded. Only node:http.
//
//   response body: { method, path, query, headers, body, body_base64?, remote_address }
//   ?status=NNN or `x-echo-status: NNN`          choose the status (default 200)
//   `x-echo-response-headers: {"Server":"x"}`    extra response headers (e.g. to test header scrubbing)

import * as http from 'http';
import type { AddressInfo } from 'net';

export interface EchoUpstream {
  port: number;
  close(): Promise<void>;
}

export interface EchoedRequest {
  method: string;
  /** The request target's path, as received (not decoded). */
  path: string;
  /** The raw query string without `?`, or '' when there was none. */
  query: string;
  /** Header names lower-cased (node's view); repeated headers keep every value, in order. */
  headers: Record<string, string | string[]>;
  /** The body decoded as UTF-8. */
  body: string;
  /** The exact body bytes, present when the body is not valid UTF-8. */
  body_base64?: string;
  remote_address: string;
}

function statusFrom(req: http.IncomingMessage, query: string): number {
  const fromQuery = new URLSearchParams(query).get('status');
  const header = req.headers['x-echo-status'];
  const candidate = fromQuery ?? (Array.isArray(header) ? header[0] : header);
  const n = candidate !== undefined && /^\d{3}$/.test(candidate) ? Number(candidate) : 200;
  return n >= 100 && n <= 599 ? n : 200;
}

function extraHeaders(req: http.IncomingMessage): Record<string, string | string[]> {
  const raw = req.headers['x-echo-response-headers'];
  if (typeof raw !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v === 'string') out[k] = v;
      else if (Array.isArray(v) && v.every((e) => typeof e === 'string')) out[k] = v as string[];
    }
    return out;
  } catch {
    return {};
  }
}

/** Headers as received, with repeated ones kept as arrays (rawHeaders preserves duplicates). */
function receivedHeaders(req: http.IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

export function handleEcho(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const query = q >= 0 ? target.slice(q + 1) : '';
    const bytes = Buffer.concat(chunks);
    const echoed: EchoedRequest = {
      method: req.method ?? '',
      path: q >= 0 ? target.slice(0, q) : target,
      query,
      headers: receivedHeaders(req),
      body: bytes.toString('utf8'),
      remote_address: req.socket.remoteAddress ?? '',
    };
    let validUtf8 = true;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      validUtf8 = false;
    }
    if (!validUtf8) echoed.body_base64 = bytes.toString('base64');

    const payload = Buffer.from(JSON.stringify(echoed));
    const status = statusFrom(req, query);
    const headers: Record<string, string | string[] | number> = {
      'content-type': 'application/json',
      'content-length': payload.length,
      ...extraHeaders(req),
    };
    try {
      res.writeHead(status, headers);
    } catch {
      // An invalid header name/value from x-echo-response-headers: answer without the extras.
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length });
    }
    res.end(req.method === 'HEAD' ? undefined : payload);
  });
}

/** Starts the echo upstream on 127.0.0.1 (port 0 = any free port). */
export function startEchoUpstream(port = 0, host = '127.0.0.1'): Promise<EchoUpstream> {
  const server = http.createServer(handleEcho);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

// Run as a program (the compose `echo` service): listen on all interfaces, PORT or 8080.
if (require.main === module) {
  const port = Number(process.env.PORT ?? 8080);
  startEchoUpstream(port, '0.0.0.0').then(
    (s) => process.stdout.write(`echo upstream listening on ${s.port}\n`),
    (e: Error) => {
      process.stderr.write(`echo upstream failed: ${e.message}\n`);
      process.exit(1);
    },
  );
}
