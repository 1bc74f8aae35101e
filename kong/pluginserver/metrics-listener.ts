// The opt-in Prometheus endpoint of bulwark-pluginserver (`--metrics-listen HOST:PORT`): GET /metrics serves the
// one Bulwark registry (plugins/lib/metrics.ts) that every plugin of this process records into. Plain HTTP on the
// address given and nothing else (no auth, no TLS): bind it to loopback or to a network only Prometheus reaches.
import * as http from 'node:http';
import { metricsExposition } from '../../plugins/lib/metrics';
import type { JsonLogger } from './log';
import { errorMessage } from './log';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces is never implied: an empty host means 127.0.0.1). */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new Error(`--metrics-listen must be HOST:PORT, [IPv6]:PORT or :PORT (got ${JSON.stringify(text)})`);
  return { host: m[1] ?? (m[2] === '' || m[2] === undefined ? '127.0.0.1' : m[2]), port };
}

export interface MetricsListener {
  readonly address: ListenAddress;
  close(): Promise<void>;
}

export async function startMetricsListener(addr: ListenAddress, log: JsonLogger): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    metricsExposition().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        log.error('metrics exposition failed', { error: errorMessage(err) });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref(); // never keeps the process alive on its own
  const bound = server.address();
  const address = typeof bound === 'object' && bound !== null ? { host: addr.host, port: bound.port } : addr;
  return {
    address,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
