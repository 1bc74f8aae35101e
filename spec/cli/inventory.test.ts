// `bulwark inventory` (cli/inventory): from an event stream in the security-event shape (plugins/lib/security-event.ts) and the OpenAPI document the
// validator is configured with, every class is found (shadow, zombie, orphan, documented), shadow paths are
// templated (no raw id in the report), and the exit code serves CI. Runs the built bin (after `npm run build`).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INVENTORY_RULES, templatePath } from '../../cli/inventory/inventory';
import { sarifValidator } from '../helpers/sarif';

const root = path.join(__dirname, '..', '..');
const BIN = path.join(root, 'dist', 'js', 'cli', 'main.js');
const FIX = 'spec/fixtures/inventory';
const base = [
  'inventory',
  '--config',
  `${FIX}/kong.yml`,
  '--events',
  `${FIX}/events.jsonl`,
  '--now',
  '2026-11-30T00:00:00Z',
];

function bulwark(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: root,
    env: { PATH: process.env.PATH ?? '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Row {
  class: string;
  method: string;
  path_template: string;
  operation_id: string | null;
  count: number;
  distinct_consumers: number;
  authentication: string[];
  status: Record<string, number>;
  first_seen: string | null;
  last_seen: string | null;
  reason: string;
}

test('all four classes, per (host, method, path template), with counts, consumers, authentication and status mix', () => {
  const r = bulwark([...base, '--format', 'json', '--fail-on', 'none']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const report = JSON.parse(r.out) as { rows: Row[]; totals: Record<string, number>; glossary: Record<string, string> };
  const rows = report.rows.map((x) => [x.class, x.method, x.path_template, x.operation_id, x.count, x.reason]);
  expect(rows).toEqual([
    ['shadow', 'DELETE', '/admin/users/{id}', null, 1, 'matches no documented operation'],
    ['shadow', 'GET', '/admin/users/{id}', null, 2, 'matches no documented operation'],
    ['zombie', 'GET', '/orders/{id}', 'getOrder', 1, 'deprecated'],
    ['zombie', 'POST', '/orders/{id}/cancel', 'cancelOrder', 1, 'not in the current OpenAPI document (removed)'],
    ['zombie', 'GET', '/v1/legacy', 'legacyReport', 1, 'past its x-sunset (2026-06-30T00:00:00.000Z)'],
    ['orphan', 'POST', '/orders', 'createOrder', 0, 'documented, no traffic in the window'],
    ['documented', 'GET', '/orders', 'listOrders', 3, 'documented and in use'],
  ]);
  const listOrders = report.rows.find((x) => x.operation_id === 'listOrders')!;
  expect(listOrders).toMatchObject({
    distinct_consumers: 2,
    authentication: ['jwt'],
    status: { '2xx': 2, '4xx': 1 },
    first_seen: '2026-11-01T10:00:00.000Z',
    last_seen: '2026-11-02T09:30:00.000Z',
  });
  expect(report.rows.find((x) => x.method === 'DELETE')!.authentication).toEqual(['api-key']);
  expect(report.rows.find((x) => x.method === 'GET' && x.class === 'shadow')!.authentication).toEqual(['none']);
  expect(report.totals).toMatchObject({
    shadow: 2,
    zombie: 3,
    orphan: 1,
    documented: 1,
    requests: 10,
    unclassified_requests: 1,
  });
  expect(Object.keys(report.glossary).sort()).toEqual(['documented', 'orphan', 'shadow', 'zombie']);
});

test('Markdown report: a glossary, and no raw identifiers from the traffic', () => {
  const r = bulwark([...base, '--fail-on', 'none']);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^# API inventory/);
  expect(r.out).toMatch(
    /## Glossary[\s\S]*\*\*shadow\*\*[\s\S]*\*\*zombie\*\*[\s\S]*\*\*orphan\*\*[\s\S]*\*\*documented\*\*/,
  );
  expect(r.out).toMatch(/\| shadow \| api\.example\.com \| GET \| `\/admin\/users\/\{id\}` \|/);
  for (const raw of ['12345', '67890', '8c2f4a1e', '/orders/42']) expect(r.out).not.toContain(raw);
});

test('exit codes: 1 when shadow or zombie operations exist (default), 0 for --fail-on orphan on a clean window, 2 on bad input', () => {
  expect(bulwark(base).code).toBe(1);
  // A window with only the documented traffic of 2 November: nothing but documented and orphan rows.
  const clean = bulwark([...base, '--since', '2026-11-02T00:00:00Z', '--format', 'json']);
  expect(clean.code).toBe(0);
  expect((JSON.parse(clean.out) as { totals: Record<string, number> }).totals).toMatchObject({ shadow: 0, zombie: 0 });
  expect(bulwark([...base, '--since', '2026-11-02T00:00:00Z', '--fail-on', 'orphan']).code).toBe(1);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-inventory-'));
  const bad = path.join(dir, 'events.jsonl');
  fs.writeFileSync(bad, '{"timestamp":"2026-11-01T00:00:00Z"}\nnot json\n');
  const r = bulwark(['inventory', '--config', `${FIX}/kong.yml`, '--events', bad]);
  expect(r.code).toBe(2);
  expect(r.err).toContain(`${bad}:2: not JSON`);
  expect(bulwark(['inventory', '--config', `${FIX}/kong.yml`]).code).toBe(2); // --events is required
});

test('openapi.spec_file: the document is read from the file as the validator reads it; a missing file is exit 2 naming the field', () => {
  const inline = bulwark([...base, '--format', 'json', '--fail-on', 'none']);
  const fromFile = bulwark([
    ...base.map((a) => (a === `${FIX}/kong.yml` ? `${FIX}/kong-spec-file.yml` : a)),
    '--format',
    'json',
    '--fail-on',
    'none',
  ]);
  expect(fromFile.err).toBe('');
  expect(fromFile.code).toBe(0);
  expect(JSON.parse(fromFile.out)).toEqual(JSON.parse(inline.out));
  expect((JSON.parse(fromFile.out) as { rows: unknown[] }).rows).toHaveLength(7);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-inventory-'));
  const missing = path.join(dir, 'kong.yml');
  fs.writeFileSync(
    missing,
    fs
      .readFileSync(path.join(root, FIX, 'kong-spec-file.yml'), 'utf8')
      .replace('spec/fixtures/inventory/orders.openapi.yaml', path.join(dir, 'absent.yaml')),
  );
  const r = bulwark(['inventory', '--config', missing, '--events', `${FIX}/events.jsonl`]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/openapi\.spec_file: cannot read .*absent\.yaml: ENOENT/);
});

test('--format sarif: valid SARIF 2.1.0 (official schema), one result per shadow, zombie and orphan row, located at the document', () => {
  const r = bulwark([...base, '--format', 'sarif', '--fail-on', 'none']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const log = JSON.parse(r.out) as {
    runs: {
      tool: { driver: { name: string; rules: { id: string }[] } };
      results: {
        ruleId: string;
        message: { text: string };
        partialFingerprints: Record<string, string>;
        locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
      }[];
    }[];
  };
  const validate = sarifValidator();
  expect(validate(log) ? [] : validate.errors).toEqual([]);
  const run = log.runs[0]!;
  expect(run.tool.driver.name).toBe('bulwark-inventory');
  expect(run.tool.driver.rules.map((x) => x.id)).toEqual(INVENTORY_RULES.map((x) => x.id));
  // 2 shadow, 3 zombie, 1 orphan; documented rows are no finding.
  expect(run.results.map((x) => x.ruleId)).toEqual(['BWI001', 'BWI001', 'BWI002', 'BWI002', 'BWI002', 'BWI003']);
  expect(run.results[0]!.message.text).toMatch(/^shadow operation DELETE api\.example\.com\/admin\/users\/\{id\}/);
  for (const res of run.results) {
    // kong.yml line 13: the validator entry's `openapi` record (`spec:`, the document).
    expect(res.locations[0]!.physicalLocation).toMatchObject({
      artifactLocation: { uri: 'spec/fixtures/inventory/kong.yml' },
      region: { startLine: 13 },
    });
    expect(res.partialFingerprints['bulwarkOperationIdentity/v1']).toMatch(/^[0-9a-f]{32}$/);
    for (const raw of ['12345', '67890', '/orders/42']) expect(res.message.text).not.toContain(raw);
  }
  expect(new Set(run.results.map((x) => x.partialFingerprints['bulwarkOperationIdentity/v1'])).size).toBe(6);
});

test('templatePath: identifiers become {id}, words stay', () => {
  expect(templatePath('/users/12345/orders/8c2f4a1e-9b7d-4e55-a0c3-1f2e3d4c5b6a')).toBe('/users/{id}/orders/{id}');
  expect(templatePath('/files/deadbeef01/raw')).toBe('/files/{id}/raw');
  expect(templatePath('/people/alice@example.com')).toBe('/people/{id}');
  expect(templatePath('/api/v2/health-check')).toBe('/api/v2/health-check');
});
