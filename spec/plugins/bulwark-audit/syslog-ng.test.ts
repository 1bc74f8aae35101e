// bulwark-audit's syslog sink against a REAL syslog-ng (Debian package syslog-ng-core, started here) over TCP and
// TLS (RFC 5425/6587 octet-counted RFC 5424 messages: syslog-ng's `syslog()` source), reading the files syslog-ng
// wrote. The TLS server certificate comes from a throw-away CA made with openssl; the sink trusts only that CA.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchQueue, DEFAULT_QUEUE_OPTIONS } from '../../../plugins/bulwark-audit/sinks/queue';
import { syslogTransport, type SyslogConfig } from '../../../plugins/bulwark-audit/sinks/syslog';
import { waitFor } from '../../helpers/emulator';
import type { SecurityEvent } from '../../../plugins/lib/security-event';

const SYSLOG_NG = ['/usr/sbin/syslog-ng', 'syslog-ng'].find((b) => spawnSync(b, ['--version']).status === 0);
// CI installs syslog-ng-core (.ci/run): there a missing server is a failure, not a skip.
const maybe = SYSLOG_NG !== undefined || process.env.CI ? describe : describe.skip;

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

const event = (reason: string, decision: SecurityEvent['decision'] = 'deny'): SecurityEvent => ({
  timestamp: '2026-01-02T03:04:05.678Z',
  request_id: `req-${reason}`,
  plugin: 'bulwark-api-key',
  decision,
  reason,
  status: 401,
  mode: 'enforce',
  client_ip: '203.0.113.7',
  http: { method: 'GET', host: 'api.example.com', path: '/orders' },
});

maybe('syslog sink → real syslog-ng', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-syslog-ng-'));
  let server: ChildProcess | undefined;
  let tcpPort = 0;
  let tlsPort = 0;
  let ca = '';

  beforeAll(async () => {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Bulwark Test CA'], dir); // prettier-ignore
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir); // prettier-ignore
    fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf'], dir); // prettier-ignore
    ca = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    tcpPort = await freePort();
    tlsPort = await freePort();
    const template = 'template("${PRI} ${PROGRAM} ${MSGID} ${MSG}\\n")';
    fs.writeFileSync(
      path.join(dir, 'syslog-ng.conf'),
      `@version: 3.35
options { stats-freq(0); };
source s_tcp { syslog(ip("127.0.0.1") port(${tcpPort}) transport("tcp")); };
source s_tls { syslog(ip("127.0.0.1") port(${tlsPort}) transport("tls")
  tls(key-file("${dir}/server.key") cert-file("${dir}/server.pem") peer-verify(optional-untrusted))); };
destination d_tcp { file("${dir}/tcp.log" ${template}); };
destination d_tls { file("${dir}/tls.log" ${template}); };
log { source(s_tcp); destination(d_tcp); };
log { source(s_tls); destination(d_tls); };
`,
    );
    server = spawn(
      SYSLOG_NG as string,
      [
        '-F',
        '-f',
        `${dir}/syslog-ng.conf`,
        '-R',
        `${dir}/persist`,
        '-p',
        `${dir}/pid`,
        '-c',
        `${dir}/ctl`,
        '--no-caps',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const ready = async (port: number) => {
      for (let i = 0; i < 200; i++) {
        const ok = await new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('syslog-ng did not start');
    };
    await ready(tcpPort);
    await ready(tlsPort);
  }, 60_000);

  afterAll(() => {
    server?.kill('SIGTERM');
  });

  const conf = (protocol: 'tcp' | 'tls', extra: Partial<SyslogConfig> = {}): SyslogConfig => ({
    host: protocol === 'tls' ? 'localhost' : '127.0.0.1',
    port: protocol === 'tls' ? tlsPort : tcpPort,
    protocol,
    facility: 13,
    appName: 'bulwark',
    format: 'bulwark',
    tlsVerify: true,
    ...extra,
  });

  const lines = (file: string): string[] =>
    fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), 'utf8').trim().split('\n') : [];

  for (const protocol of ['tcp', 'tls'] as const) {
    test(`${protocol}: RFC 5424 messages arrive whole, with priority (facility 13 * 8 + severity), app name, msgid and the event as MSG`, async () => {
      const queue = new BatchQueue<SecurityEvent>(
        `test-${protocol}`,
        syslogTransport(conf(protocol, { caCertificate: ca })),
        {
          ...DEFAULT_QUEUE_OPTIONS,
          flushIntervalMs: 10,
        },
      );
      queue.push(event('key_unknown'));
      queue.push(event('allowed', 'allow'));
      await queue.idle();
      const file = `${protocol}.log`;
      await waitFor(() => lines(file).length >= 2, 10_000);
      const got = lines(file);
      expect(got[0]).toMatch(/^108 bulwark deny \{/); // 13*8+4 (warning)
      expect(got[1]).toMatch(/^110 bulwark allow \{/); // 13*8+6 (informational)
      expect(JSON.parse(got[0]!.slice(got[0]!.indexOf('{')))).toEqual(event('key_unknown'));
      expect(queue.stats).toMatchObject({ sent: 2, queue_depth: 0, send_failures: 0 });
      await queue.close();
    }, 30_000);
  }

  test('tls: a server certificate from another CA is refused (nothing delivered, the failure counted and retried)', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-other-ca-'));
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'o.key', '-out', 'o.pem', '-days', '2', '-subj', '/CN=Other CA'], other); // prettier-ignore
    const queue = new BatchQueue<SecurityEvent>(
      'test-tls-wrong-ca',
      syslogTransport(conf('tls', { caCertificate: fs.readFileSync(path.join(other, 'o.pem'), 'utf8') })),
      { ...DEFAULT_QUEUE_OPTIONS, flushIntervalMs: 10, backoffBaseMs: 60_000 },
    );
    queue.push(event('wrong_ca'));
    await waitFor(() => queue.stats.send_failures >= 1, 10_000);
    expect(queue.stats.sent).toBe(0);
    expect(lines('tls.log').join('\n')).not.toContain('wrong_ca');
  }, 30_000);
});
