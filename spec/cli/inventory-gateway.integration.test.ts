// `bulwark inventory` from an event stream recorded through the gateway: bulwark-validator resolves each request's
// operation (its decision record), bulwark-audit writes the SecurityEvents to a JSON-lines file, and the built bin
// classifies them against the CURRENT document (spec/fixtures/inventory: v2, where POST /orders/{id}/cancel is gone)
// while the gateway still served v1 (with it). Documented, shadow, zombie (deprecated, sunset, removed) and orphan
// all appear.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { pluginServerEntries } from '../../kong/emulator/plugin-server';
import {
  afterAllNoFailOpen,
  serverKind,
  startGateway,
  waitFor,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  type Gateway,
} from '../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const root = path.join(__dirname, '..', '..');
const BIN = path.join(root, 'dist', 'js', 'cli', 'main.js');
const FIX = path.join(root, 'spec', 'fixtures', 'inventory');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-inventory-gw-'));
const eventsFile = path.join(dir, 'events.jsonl');
let gw: Gateway | undefined;

/** v1 of the document: the current one (the fixture) plus an operation v2 removed. */
function documentV1(): string {
  const doc = parseYaml(fs.readFileSync(path.join(FIX, 'orders.openapi.yaml'), 'utf8')) as {
    paths: Record<string, unknown>;
  };
  doc.paths['/orders/{id}/cancel'] = {
    post: {
      operationId: 'cancelOrder',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'ok' } },
    },
  };
  return JSON.stringify(doc);
}

const eventLines = (): string[] =>
  fs.existsSync(eventsFile)
    ? fs
        .readFileSync(eventsFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

beforeAll(async () => {
  const sockets = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-inventory-sock-'));
  gw = await startGateway({
    entries: pluginServerEntries(serverKind(), sockets, ['bulwark-audit', 'bulwark-validator']),
  });
  gw.configure(`
_format_version: "3.0"
services:
  - name: orders
    url: ECHO
    routes:
      - name: orders
        hosts: [api.example.com]
        paths: [/]
        plugins:
          - name: bulwark-validator
            config:
              openapi:
                spec: '${documentV1()}'
                unknown_operations: log
                reject_unknown_query: true
plugins:
  - name: bulwark-audit
    config:
      decisions: [allow, deny]
      sinks:
        file: { path: ${JSON.stringify(eventsFile)} }
`);
}, 120_000);

afterAllNoFailOpen(() => [gw]);

test('documented, shadow, zombie and orphan from a recorded event stream', async () => {
  const host = { host: 'api.example.com' };
  const sent: [string, string, number][] = [
    ['GET', '/orders', 200],
    ['GET', '/orders', 200],
    ['GET', '/orders/42', 200], // deprecated
    ['GET', '/v1/legacy', 200], // past its x-sunset
    ['POST', '/orders/42/cancel', 200], // removed in v2
    ['GET', '/admin/users/12345', 200], // undocumented: let through and logged (unknown_operations: log)
    ['GET', '/admin/users/67890', 200],
    ['GET', '/orders?x=1', 400], // documented, refused (undeclared query parameter): still counted there
  ];
  for (const [method, p, status] of sent) {
    const res = await gw!.send({ method, path: p, headers: host });
    expect([method, p, res.status]).toEqual([method, p, status]);
  }
  // One event per deciding plugin and request (bulwark-audit's own allow too): wait for the validator's.
  const validatorEvents = () => eventLines().filter((l) => l.includes('"plugin":"bulwark-validator"')).length;
  await waitFor(() => validatorEvents() >= sent.length, 15_000);

  const r = spawnSync(
    process.execPath,
    [
      BIN,
      'inventory',
      '--config',
      path.join(FIX, 'kong.yml'),
      '--events',
      eventsFile,
      '--now',
      '2030-01-01T00:00:00Z',
      '--format',
      'json',
      '--fail-on',
      'none',
    ],
    { encoding: 'utf8', cwd: root, env: { PATH: process.env.PATH ?? '' } },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout) as {
    totals: Record<string, number>;
    rows: { class: string; method: string; path_template: string; count: number; status: Record<string, number> }[];
  };
  expect(report.rows.map((x) => [x.class, x.method, x.path_template, x.count])).toEqual([
    ['shadow', 'GET', '/admin/users/{id}', 2],
    ['zombie', 'GET', '/orders/{id}', 1],
    ['zombie', 'POST', '/orders/{id}/cancel', 1],
    ['zombie', 'GET', '/v1/legacy', 1],
    ['orphan', 'POST', '/orders', 0],
    ['documented', 'GET', '/orders', 3],
  ]);
  expect(report.rows.find((x) => x.class === 'documented')!.status).toEqual({ '2xx': 2, '4xx': 1 });
  expect(report.totals).toMatchObject({ requests: sent.length, unclassified_requests: 0 });
  expect(r.stdout).not.toContain('12345');
}, 60_000);
