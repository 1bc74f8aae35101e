// bulwark-audit end to end: the Kong emulator with the real plugin server (both servers). Another Bulwark plugin
// decides; bulwark-audit's log phase builds the security events after the response and ships them to a JSON-lines
// file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  afterAllNoFailOpen,
  startGateway,
  waitFor,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  type Gateway,
} from '../../helpers/emulator';
import { auditEventsFile } from '../../helpers/jsonl';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const { dir, file: eventsFile, readEvents } = auditEventsFile('bulwark-audit-');
const fileLog = path.join(dir, 'file-log.jsonl');
const logs: string[] = [];
let gw: Gateway | undefined;

beforeAll(async () => {
  gw = await startGateway({
    plugins: ['bulwark-audit', 'bulwark-rate-limit'],
    onLog: (l: string) => logs.push(l),
    fileLogPath: fileLog,
  });
  gw.configure(`
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - { name: limited, paths: ["/limited"] }
plugins:
  - name: bulwark-audit
    config:
      decisions: [allow, deny, error]
      sinks:
        file: { path: ${JSON.stringify(eventsFile)} }
  - name: bulwark-rate-limit
    route: limited
    config:
      limit_by: [ip]
      limits: [{ name: minute, limit: 1, window_seconds: 60 }]
`);
}, 60_000);

afterAllNoFailOpen(() => [gw]);

test('an allowed and a refused request become events after the response: plugin, decision, status, path without query', async () => {
  const ok = await gw!.send({ path: '/limited/a?apikey=SECRET-IN-QUERY' });
  expect(ok.status).toBe(200);
  const refused = await gw!.send({ path: '/limited/b?apikey=SECRET-IN-QUERY' });
  expect(refused.status).toBe(429);
  await waitFor(() => readEvents().filter((e) => e.plugin === 'bulwark-rate-limit').length >= 2, 10_000);
  const events = readEvents();
  const rl = events.filter((e) => e.plugin === 'bulwark-rate-limit');
  expect(rl.map((e) => [e.decision, e.status, e.http.path])).toEqual([
    ['allow', 200, '/limited/a'],
    ['deny', 429, '/limited/b'],
  ]);
  expect(rl[1]).toMatchObject({
    mode: 'enforce',
    route: { name: 'limited' },
    http: { method: 'GET' },
    client_ip: '127.0.0.1',
  });
  expect(rl[1]!.request_id).toMatch(/^[0-9a-f]+$/);
  expect(new Date(rl[1]!.timestamp).toISOString()).toBe(rl[1]!.timestamp);
  expect(fs.readFileSync(eventsFile, 'utf8')).not.toContain('SECRET-IN-QUERY');
});

test("a key sent in the query or a credential header never appears in any log output: Kong's error log, the events, file-log", async () => {
  const key = 'bwk_test_QUERYKEYdoNotLeak0123456789';
  const headerKey = 'HEADERKEYdoNotLeak987';
  const res = await gw!.send({
    path: `/limited/c?x=1&apikey=${key}&Access_Token=${key}2`,
    headers: { 'x-api-key': headerKey, cookie: `session=${key}3`, authorization: `Bearer ${key}4` },
  });
  expect(res.status).toBe(429);
  await waitFor(() => readEvents().some((e) => e.http.path === '/limited/c'), 10_000);
  await waitFor(() => fs.existsSync(fileLog) && fs.readFileSync(fileLog, 'utf8').includes('/limited/c'), 10_000);
  const everything = [logs.join('\n'), fs.readFileSync(eventsFile, 'utf8'), fs.readFileSync(fileLog, 'utf8')].join(
    '\n',
  );
  expect(everything).not.toContain('QUERYKEYdoNotLeak');
  expect(everything).not.toContain(headerKey);
  // The key is kept, the value replaced (OTel convention), in every copy Kong serializes.
  const entry = fs
    .readFileSync(fileLog, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, any>) // eslint-disable-line @typescript-eslint/no-explicit-any
    .find((e) => String(e.request.uri).startsWith('/limited/c'))!;
  expect(entry.request.uri).toBe('/limited/c?x=1&apikey=REDACTED&Access_Token=REDACTED');
  expect(entry.request.url).toMatch(/^http:\/\/[^/]+:\d+\/limited\/c\?x=1&apikey=REDACTED&Access_Token=REDACTED$/);
  expect(entry.request.querystring).toEqual({ x: '1', apikey: 'REDACTED', Access_Token: 'REDACTED' });
  expect(entry.request.headers).toMatchObject({
    'x-api-key': 'REDACTED',
    cookie: 'REDACTED',
    authorization: 'REDACTED',
  });
  expect(entry.upstream_uri).toBe('REDACTED');
});
