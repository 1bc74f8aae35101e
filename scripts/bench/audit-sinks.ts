#!/usr/bin/env node
// Throughput of each bulwark-audit sink, side by side in one run (the machine is shared: compare the ratios, not
// the absolute figures). Each sink is the shipped code (sinks/*.ts under the same BatchQueue, default batch of
// 100, one batch in flight) delivering N security events to a local peer:
//   file     JSON-lines file in a temporary directory
//   syslog   RFC 5424 over TCP to a real syslog-ng (Debian syslog-ng-core) writing a file, or, without it, to a
//            TCP peer that reads and discards
//   splunk   HTTP Event Collector wire format to a local HTTP receiver (answers 200)
//   elastic  `_bulk` NDJSON + ECS to the same receiver (answers {"errors":false})
//   otlp     OTLP/HTTP logs through the OpenTelemetry JS SDK to the same receiver (answers {})
// The peers run in child processes, so this process's CPU (process.cpuUsage) is the sink side only: what the
// plugin server spends per shipped event. Rounds alternate between the sinks so that machine noise hits all alike.
// Printed per sink: events per second (wall time from the first push until the queue is idle) and CPU µs per event,
// with the ratios to the file sink.
// Usage: npm run build && node dist/js/scripts/bench/audit-sinks.js [--events 20000] [--rounds 3]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileTransport } from '../../plugins/bulwark-audit/sinks/file';
import { elasticsearchTransport, splunkTransport } from '../../plugins/bulwark-audit/sinks/http';
import { otlpTransport } from '../../plugins/bulwark-audit/sinks/otlp';
import { BatchQueue, DEFAULT_QUEUE_OPTIONS, type Transport } from '../../plugins/bulwark-audit/sinks/queue';
import { syslogTransport } from '../../plugins/bulwark-audit/sinks/syslog';
import type { SecurityEvent } from '../../plugins/lib/security-event';
import { freePort } from '../free-port';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);

const SINKS = ['file', 'syslog', 'splunk', 'elastic', 'otlp'] as const;
type SinkName = (typeof SINKS)[number];

const event = (i: number): SecurityEvent => ({
  timestamp: new Date().toISOString(),
  request_id: `bench${i.toString(16).padStart(8, '0')}`,
  plugin: 'bulwark-jwt',
  decision: 'deny',
  reason: 'token_expired',
  status: 401,
  mode: 'enforce',
  route: { id: '7b0c2a4e-0000-4000-8000-000000000001', name: 'orders' },
  service: { id: '7b0c2a4e-0000-4000-8000-000000000002', name: 'orders-api' },
  client_ip: '203.0.113.7',
  http: { method: 'GET', host: 'api.example.com', path: '/orders/1234' },
  identity: { consumer: 'partner-a', credential_kind: 'jwt', subject: 'user-42' },
  credential_fingerprint: 'sha256:0123abcd',
});

/** A child process running `code`; resolves with it and the first line it prints (the port). */
function child(code: string): Promise<{ proc: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ proc, line: out.slice(0, nl) });
    });
    proc.on('error', reject);
    proc.once('exit', (code) => reject(new Error(`peer exited (${code})`)));
  });
}

const HTTP_PEER = `
const http = require('http');
const s = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => (n += c.length));
  req.on('end', () => {
    const body = req.url === '/_bulk' ? '{"errors":false,"items":[]}' : req.url === '/v1/logs' ? '{}' : '{"text":"Success","code":0}';
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
});
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

const TCP_PEER = `
const net = require('net');
const s = net.createServer((c) => c.on('data', () => {}));
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

/** A real syslog-ng on a TCP port, writing what it receives to a file; undefined when syslog-ng is not installed. */
async function startSyslogNg(dir: string): Promise<{ proc: ChildProcess; port: number } | undefined> {
  const bin = ['/usr/sbin/syslog-ng', 'syslog-ng'].find((b) => spawnSync(b, ['--version']).status === 0);
  if (bin === undefined) return undefined;
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'syslog-ng.conf'),
    `@version: 3.35
options { stats-freq(0); };
source s_tcp { syslog(ip("127.0.0.1") port(${port}) transport("tcp") log-msg-size(65536)); };
destination d_file { file("${dir}/syslog.log"); };
log { source(s_tcp); destination(d_file); };
`,
  );
  const proc = spawn(
    bin,
    ['-F', '-f', `${dir}/syslog-ng.conf`, '-R', `${dir}/persist`, '-p', `${dir}/pid`, '-c', `${dir}/ctl`, '--no-caps'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return { proc, port };
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGTERM');
  throw new Error('syslog-ng did not start');
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-sink-bench-'));
  const procs: ChildProcess[] = [];
  try {
    const http = await child(HTTP_PEER);
    procs.push(http.proc);
    const base = `http://127.0.0.1:${http.line.trim()}`;
    let syslogPeer = 'syslog-ng (real, TCP)';
    let syslogPort: number;
    const ng = await startSyslogNg(dir);
    if (ng) {
      procs.push(ng.proc);
      syslogPort = ng.port;
    } else {
      const tcp = await child(TCP_PEER);
      procs.push(tcp.proc);
      syslogPort = Number(tcp.line.trim());
      syslogPeer = 'a TCP peer (syslog-ng not installed)';
    }
    const transports: Record<SinkName, Transport<SecurityEvent>> = {
      file: fileTransport(path.join(dir, 'events.jsonl')),
      syslog: syslogTransport({
        host: '127.0.0.1',
        port: syslogPort,
        protocol: 'tcp',
        facility: 13,
        appName: 'bulwark',
        tlsVerify: true,
        format: 'bulwark',
      }),
      splunk: splunkTransport({
        url: base,
        token: 't',
        sourcetype: 'bulwark:security',
        source: 'bulwark-audit',
        tlsVerify: true,
        format: 'bulwark',
      }),
      elastic: elasticsearchTransport({ url: base, indexPrefix: 'bulwark-security', tlsVerify: true }),
      otlp: otlpTransport({
        endpoint: base,
        headers: {},
        timeoutMs: 10_000,
        tlsVerify: true,
        serviceName: 'bulwark',
        resourceAttributes: {},
        maxQueueEvents: EVENTS,
        batchSize: 100,
        flushIntervalMs: 1000,
        maxAgeMs: 300_000,
      }),
    };
    const options = { ...DEFAULT_QUEUE_OPTIONS, maxEvents: EVENTS };
    const events = Array.from({ length: EVENTS }, (_, i) => event(i));
    const wallMs: Record<SinkName, number> = { file: 0, syslog: 0, splunk: 0, elastic: 0, otlp: 0 };
    const cpuUs: Record<SinkName, number> = { file: 0, syslog: 0, splunk: 0, elastic: 0, otlp: 0 };
    // Warm-up: connections open, JIT warm, the OTel SDK loaded.
    for (const name of SINKS) {
      const q = new BatchQueue(`bench-warm-${name}`, transports[name], options);
      for (const e of events.slice(0, 500)) q.push(e);
      await q.idle();
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of SINKS) {
        const q = new BatchQueue(`bench-${name}-${round}`, transports[name], options);
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        for (const e of events) q.push(e);
        await q.idle();
        const wall = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        if (q.stats.sent !== EVENTS) throw new Error(`${name}: sent ${q.stats.sent} of ${EVENTS}`);
        wallMs[name] += wall;
        cpuUs[name] += cpu.user + cpu.system;
      }
    }
    const total = EVENTS * ROUNDS;
    console.log(
      `${ROUNDS} rounds × ${EVENTS} events per sink, batches of 100, one batch in flight; syslog peer: ${syslogPeer}; ` +
        `${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)}`,
    );
    console.log('sink     events/s   ×file   CPU µs/event   ×file');
    const fileRate = total / (wallMs.file / 1000);
    const fileCpu = cpuUs.file / total;
    for (const name of SINKS) {
      const rate = total / (wallMs[name] / 1000);
      const cpu = cpuUs[name] / total;
      console.log(
        `${name.padEnd(8)} ${rate.toFixed(0).padStart(8)}   ${(rate / fileRate).toFixed(2).padStart(5)}   ` +
          `${cpu.toFixed(1).padStart(12)}   ${(cpu / fileCpu).toFixed(2).padStart(5)}`,
      );
    }
    for (const t of Object.values(transports)) await t.close?.();
  } finally {
    for (const p of procs) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
