// The echo upstream (kong/echo-upstream/server.ts) that gateway tests proxy to: it must report the request
// exactly as it arrived, and let a test choose the status and response headers.
import * as http from 'http';
import { EchoedRequest, startEchoUpstream, EchoUpstream } from '../../../kong/echo-upstream/server';

let echo: EchoUpstream;
beforeAll(async () => {
  echo = await startEchoUpstream();
});
afterAll(() => echo.close());

function send(opts: { method?: string; path: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string }) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; json: EchoedRequest }>((resolve, reject) => {
    const r = http.request(
      { host: '127.0.0.1', port: echo.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            json: JSON.parse(Buffer.concat(chunks).toString()),
          }),
        );
      },
    );
    r.on('error', reject);
    r.end(opts.body);
  });
}

test('echoes method, raw path, raw query, headers (repeats kept) and body', async () => {
  const res = await send({
    method: 'POST',
    path: '/a%20b/c?x=1&y=%2F',
    headers: { 'X-One': ['1', '2'], 'content-type': 'text/plain' },
    body: 'héllo',
  });
  expect(res.status).toBe(200);
  expect(res.json).toMatchObject({ method: 'POST', path: '/a%20b/c', query: 'x=1&y=%2F', body: 'héllo' });
  expect(res.json.headers['x-one']).toEqual(['1', '2']);
  expect(res.json.body_base64).toBeUndefined();
  expect(res.json.remote_address).toMatch(/127\.0\.0\.1/);
});

test('a body that is not UTF-8 is also given as base64', async () => {
  const bytes = Buffer.from([0xff, 0x00, 0xc3]);
  const res = await send({ method: 'PUT', path: '/', body: bytes });
  expect(Buffer.from(res.json.body_base64!, 'base64')).toEqual(bytes);
});

test('?status= and x-echo-status choose the status; x-echo-response-headers adds headers', async () => {
  expect((await send({ path: '/?status=503' })).status).toBe(503);
  expect((await send({ path: '/', headers: { 'x-echo-status': '418' } })).status).toBe(418);
  const res = await send({
    path: '/',
    headers: { 'x-echo-response-headers': JSON.stringify({ Server: 'leaky/1.0', 'X-Powered-By': 'PHP' }) },
  });
  expect(res.headers.server).toBe('leaky/1.0');
  expect(res.headers['x-powered-by']).toBe('PHP');
});
