// End to end: `npm run gateway`'s program with the repository's kong.yml, over real HTTP, with the real
// plugin server, the built bulwark-transport plugin and the embedded echo upstream.
import { spawn, ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

function get(port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, headers }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

describe('npm run gateway with kong.yml (end to end)', () => {
  let proc: ChildProcess;
  let proxy = 0;
  let admin = 0;
  beforeAll(async () => {
    proc = spawn(process.execPath, [path.join(root, 'dist/js/kong/emulator/gateway-cli.js'), '--port', '0', '--admin-port', '0'], { cwd: root });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${out}`)), 20000);
      proc.stdout!.on('data', (c) => {
        out += c;
        const p = /proxy:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        const a = /admin API:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (p && a) {
          proxy = Number(p[1]);
          admin = Number(a[1]);
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr!.on('data', (c) => (out += c));
      proc.on('exit', () => reject(new Error(`gateway exited:\n${out}`)));
    });
  });
  afterAll(() => {
    proc?.kill('SIGTERM');
  });

  test('a request on the public service reaches the echo upstream; the response carries bulwark-transport headers', async () => {
    const res = await get(proxy, '/public/hello');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).path).toBe('/public/hello');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin'); // browser preset
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  test('plain HTTP to the API is refused with Kong exit behaviour: a redirect, no upstream call', async () => {
    const res = await get(proxy, '/api/orders?id=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('https://127.0.0.1/api/orders?id=1');
    expect(res.headers.server).toBe('kong/3.9.3'); // Kong-generated response
  });

  test('an unexpected Host is refused with 421; partners get 426', async () => {
    expect((await get(proxy, '/public/x', { host: 'evil.example' })).status).toBe(421);
    const partners = await get(proxy, '/partners/x');
    expect(partners.status).toBe(426);
    expect(JSON.parse(partners.body)).toHaveProperty('message');
  });

  test('the Admin API lists the plugins of kong.yml', async () => {
    const res = await get(admin, '/plugins');
    const names = JSON.parse(res.body).data.map((p: { name: string }) => p.name);
    expect(names).toEqual(['bulwark-transport', 'bulwark-transport', 'bulwark-transport']);
  });
});
