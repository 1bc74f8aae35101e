// A real TLS-only redis-server for tests (Debian's build links OpenSSL: `redis-server --tls-port`). Certificates are
// made with the openssl CLI in a temp dir: a test CA, a server certificate it signs for 127.0.0.1 / localhost, and
// an unrelated CA (to test verification failures). The plain-text port is off (`--port 0`). Never a mock.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, startRedis, type RedisServer } from './redis';

export interface TestCertificates {
  dir: string;
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  /** PEM of an unrelated CA (verification with it must fail). */
  otherCa: string;
  serverCertFile: string;
  serverKeyFile: string;
  caFile: string;
}

export interface RedisTlsServer extends RedisServer {
  certs: TestCertificates;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** A CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost) signed by it, plus an unrelated CA. EC P-256 keys: fast. */
export function makeTestCertificates(): TestCertificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Bulwark Test CA'],
    dir,
  );
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'other-ca.key',
      '-out',
      'other-ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Unrelated CA',
    ],
    dir,
  );
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ],
    dir,
  );
  return {
    dir,
    ca: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    otherCa: fs.readFileSync(path.join(dir, 'other-ca.pem'), 'utf8'),
    serverCertFile: path.join(dir, 'server.pem'),
    serverKeyFile: path.join(dir, 'server.key'),
    caFile: path.join(dir, 'ca.pem'),
  };
}

/**
 * Starts a redis-server that speaks only TLS on a free port (clients need no certificate). `extraArgs` are added
 * after the TLS ones, e.g. ['--user', 'default', 'off', '--user', 'bulwark', 'on', '>pw', '~*', '+@all'].
 */
export async function startRedisTls(
  extraArgs: string[] = [],
  certs: TestCertificates = makeTestCertificates(),
): Promise<RedisTlsServer> {
  const port = await freePort();
  // startRedis passes `--port <port>` first; the later `--port 0` wins and turns the plain-text listener off.
  const server = await startRedis(
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      certs.serverCertFile,
      '--tls-key-file',
      certs.serverKeyFile,
      '--tls-ca-cert-file',
      certs.caFile,
      '--tls-auth-clients',
      'no',
      ...extraArgs,
    ],
    port,
  );
  return Object.assign(server, { certs });
}
