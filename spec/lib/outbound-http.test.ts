// fetchOutbound against real local HTTP and HTTPS servers.
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { checkOutboundUrl, fetchOutbound, OutboundFetchError } from '../../plugins/lib/outbound-http';
import { selfSignedCert } from '../fixtures/jwt/idp';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof OutboundFetchError ? err.reason : String(err);
  }
};

describe('fetchOutbound', () => {
  let port: number;
  let server: http.Server;
  let handler: Handler;
  const open = new Set<http.ServerResponse>();
  beforeAll(async () => {
    server = http.createServer((req, res) => handler(req, res));
    port = await listen(server);
  });
  afterAll(async () => {
    for (const r of open) r.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  const opts = { timeoutMs: 500, maxBytes: 1000, allowHttp: true };

  it('GETs a body with its status and content type', async () => {
    handler = (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"path":"${req.url}"}`);
    const res = await fetchOutbound(url('/a'), opts);
    expect(res).toMatchObject({ status: 200, contentType: 'application/json', url: url('/a') });
    expect(res.body.toString()).toBe('{"path":"/a"}');
  });

  it('refuses http unless allowed, and non-http schemes always', async () => {
    expect(await failure(fetchOutbound(url('/a'), { ...opts, allowHttp: false }))).toBe('scheme_not_allowed');
    expect(await failure(fetchOutbound('file:///etc/passwd', opts))).toBe('scheme_not_allowed');
    expect(await failure(fetchOutbound('not a url', opts))).toBe('invalid_url');
    expect(() => checkOutboundUrl('https://user:pw@idp.example/jwks', false)).toThrow(
      'credentials in URLs are not allowed',
    );
  });

  it('bounds the response size by Content-Length and while streaming', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000));
    expect(await failure(fetchOutbound(url('/big'), opts))).toBe('too_large');
    handler = (_req, res) => {
      res.writeHead(200); // chunked, no length
      res.write('x'.repeat(800));
      res.end('x'.repeat(800));
    };
    expect(await failure(fetchOutbound(url('/big'), opts))).toBe('too_large');
  });

  it('times out a server that never answers', async () => {
    handler = (_req, res) => void open.add(res);
    expect(await failure(fetchOutbound(url('/hang'), { ...opts, timeoutMs: 150 }))).toBe('timeout');
  });

  it('times out a body that trickles', async () => {
    handler = (_req, res) => {
      open.add(res);
      res.writeHead(200);
      res.write('{');
    };
    expect(await failure(fetchOutbound(url('/trickle'), { ...opts, timeoutMs: 150 }))).toBe('timeout');
  });

  it('follows same-origin redirects only, a bounded number of times', async () => {
    handler = (req, res) => {
      if (req.url === '/moved') res.writeHead(301, { location: '/final' }).end();
      else if (req.url === '/away') res.writeHead(302, { location: `http://localhost:${port}/final` }).end();
      else if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end();
      else res.writeHead(200).end('final');
    };
    const moved = await fetchOutbound(url('/moved'), opts);
    expect(moved.url).toBe(url('/final'));
    expect(moved.body.toString()).toBe('final');
    expect(await failure(fetchOutbound(url('/away'), opts))).toBe('redirect_refused');
    expect(await failure(fetchOutbound(url('/loop'), opts))).toBe('too_many_redirects');
  });

  it('reports a refused connection as a network failure', async () => {
    const tmp = http.createServer();
    const p = await listen(tmp);
    await new Promise((r) => tmp.close(r));
    expect(await failure(fetchOutbound(`http://127.0.0.1:${p}/`, opts))).toBe('network');
  });
});

describe('fetchOutbound over https', () => {
  const cert = selfSignedCert();
  let server: https.Server;
  let port: number;
  beforeAll(async () => {
    server = https.createServer(cert, (_req, res) => res.writeHead(200).end('secure'));
    port = await listen(server as unknown as http.Server);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('refuses a certificate no trusted CA signed, accepts it with extraCaCertificates', async () => {
    const u = `https://127.0.0.1:${port}/`;
    expect(await failure(fetchOutbound(u, { timeoutMs: 1000, maxBytes: 100 }))).toBe('network');
    const res = await fetchOutbound(u, { timeoutMs: 1000, maxBytes: 100, extraCaCertificates: [cert.cert] });
    expect(res.body.toString()).toBe('secure');
  });
});
