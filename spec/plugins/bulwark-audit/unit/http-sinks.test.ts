// The Splunk HEC and Elasticsearch `_bulk` sinks against a local receiver that checks the exact wire formats (no
// real Splunk or Elasticsearch runs in CI): path, method, authorization, content type, and the body framing.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchQueue, DEFAULT_QUEUE_OPTIONS } from '../../../../plugins/bulwark-audit/sinks/queue';
import { elasticsearchTransport, splunkTransport } from '../../../../plugins/bulwark-audit/sinks/http';
import type { SecurityEvent } from '../../../../plugins/lib/security-event';
import { fileTransport } from '../../../../plugins/bulwark-audit/sinks/file';
import { syslogMessage } from '../../../../plugins/bulwark-audit/sinks/syslog';
import { OCSF_CLASS, toEcs, toOcsf } from '../../../../plugins/bulwark-audit/mappings';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server;
let base = '';
const received: Received[] = [];
let answer: (r: Received) => [number, string] = () => [200, '{"text":"Success","code":0}'];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      received.push(r);
      const [status, text] = answer(r);
      res.writeHead(status, { 'content-type': 'application/json' }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  received.length = 0;
  answer = () => [200, '{"text":"Success","code":0}'];
});

const event = (reason: string, timestamp = '2026-01-02T03:04:05.678Z'): SecurityEvent => ({
  timestamp,
  request_id: `req-${reason}`,
  plugin: 'bulwark-jwt',
  decision: 'deny',
  reason,
  status: 401,
  mode: 'enforce',
  client_ip: '203.0.113.7',
  http: { method: 'GET', host: 'api.example.com', path: '/orders' },
});

const fast = { ...DEFAULT_QUEUE_OPTIONS, flushIntervalMs: 5, backoffBaseMs: 5, backoffMaxMs: 20 };

test('Splunk HEC: POST /services/collector/event, Authorization: Splunk <token>, concatenated event objects', async () => {
  const q = new BatchQueue(
    'splunk-test',
    splunkTransport({
      url: `${base}/`,
      token: 'hec-token-1',
      index: 'security',
      sourcetype: 'bulwark:security',
      source: 'bulwark-audit',
      tlsVerify: true,
      format: 'bulwark',
    }),
    fast,
  );
  q.push(event('token_expired'));
  q.push(event('token_missing'));
  await q.idle();
  expect(received).toHaveLength(1);
  const r = received[0]!;
  expect([r.method, r.url, r.headers.authorization, r.headers['content-type']]).toEqual([
    'POST',
    '/services/collector/event',
    'Splunk hec-token-1',
    'application/json',
  ]);
  // HEC's batch format: JSON objects one after another (no array, no separator needed).
  const objects = r.body.split(/(?<=\})(?=\{"time")/).map((t) => JSON.parse(t) as Record<string, unknown>);
  expect(objects).toEqual([
    {
      time: 1767323045.678,
      host: 'api.example.com',
      source: 'bulwark-audit',
      sourcetype: 'bulwark:security',
      index: 'security',
      event: event('token_expired'),
    },
    expect.objectContaining({ event: event('token_missing') }),
  ]);
});

test('Elasticsearch _bulk: NDJSON create actions into a dated index, ECS documents, newline at the end; 503 retried', async () => {
  let calls = 0;
  answer = (r) => {
    calls++;
    if (calls === 1) return [503, '{"error":"unavailable"}'];
    const items = r.body.trim().split('\n').length / 2;
    return [
      200,
      JSON.stringify({ errors: false, items: Array.from({ length: items }, () => ({ create: { status: 201 } })) }),
    ];
  };
  const q = new BatchQueue(
    'es-test',
    elasticsearchTransport({
      url: base,
      indexPrefix: 'bulwark-security',
      username: 'elastic',
      password: 'pw',
      tlsVerify: true,
    }),
    fast,
  );
  q.push(event('token_expired', '2026-01-02T23:59:59.999Z'));
  q.push(event('token_missing', '2026-01-03T00:00:00.000Z'));
  await q.idle();
  expect(received).toHaveLength(2); // the 503, then the retry
  const r = received[1]!;
  expect([r.method, r.url, r.headers['content-type'], r.headers.authorization]).toEqual([
    'POST',
    '/_bulk',
    'application/x-ndjson',
    `Basic ${Buffer.from('elastic:pw').toString('base64')}`,
  ]);
  expect(r.body.endsWith('\n')).toBe(true);
  const lines = r.body
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines[0]).toEqual({ create: { _index: 'bulwark-security-2026.01.02' } });
  expect(lines[2]).toEqual({ create: { _index: 'bulwark-security-2026.01.03' } });
  expect(lines[1]).toMatchObject({
    '@timestamp': '2026-01-02T23:59:59.999Z',
    event: { kind: 'event', type: ['access', 'denied'], action: 'deny', reason: 'token_expired' },
    source: { ip: '203.0.113.7' },
  });
  expect(q.stats).toMatchObject({ sent: 2, send_failures: 1, dropped_rejected: 0 });
});

test('a 400 drops the batch for good (counted), it is not retried', async () => {
  answer = () => [400, '{"text":"Invalid data format","code":6}'];
  const q = new BatchQueue(
    'splunk-bad',
    splunkTransport({ url: base, token: 't', sourcetype: 's', source: 's', tlsVerify: true, format: 'bulwark' }),
    fast,
  );
  q.push(event('x'));
  await q.idle();
  expect(received).toHaveLength(1);
  expect(q.stats).toMatchObject({ sent: 0, dropped_rejected: 1, queue_depth: 0 });
});

describe('per-sink format: the event as documented, its ECS or its OCSF form', () => {
  test('Splunk HEC with format ocsf: each HEC event is the OCSF document', async () => {
    const q = new BatchQueue(
      'splunk-ocsf',
      splunkTransport({ url: base, token: 't', sourcetype: 's', source: 's', tlsVerify: true, format: 'ocsf' }),
      fast,
    );
    q.push(event('token_expired'));
    await q.idle();
    const wrapped = JSON.parse(received[0]!.body) as { event: Record<string, unknown> };
    expect(wrapped.event).toEqual(toOcsf(event('token_expired')));
    expect(Object.values(OCSF_CLASS)).toContain(wrapped.event.class_uid);
  });

  test('file sink with format ecs: one ECS document per line', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-format-')), 'ecs.jsonl');
    await fileTransport(file, 'ecs').send([event('a'), event('b')]);
    const lines = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([toEcs(event('a')), toEcs(event('b'))]);
  });

  test('syslog with format ocsf: MSG is the OCSF document; the default is the event itself', () => {
    const msg = (format?: 'ocsf') => syslogMessage(event('x'), 13, 'bulwark', 'h', format);
    expect(JSON.parse(msg('ocsf').split(' - ')[1]!)).toEqual(toOcsf(event('x')));
    expect(JSON.parse(msg().split(' - ')[1]!)).toEqual(event('x'));
  });
});
