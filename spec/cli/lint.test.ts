// `bulwark lint` (cli/lint): every rule reports its positive fixture and not its negative one; SARIF output is
// valid against the official SARIF 2.1.0 schema; the built bin is run as a user runs it (after `npm run build`).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lintFiles, fingerprint } from '../../cli/lint/lint';
import { RULES } from '../../cli/lint/rules';
import { dumpBuiltPlugins } from '../../cli/validate';
import { sarifValidator } from '../helpers/sarif';

const root = path.join(__dirname, '..', '..');
const fixtures = path.join(root, 'spec', 'fixtures', 'lint');
const BIN = path.join(root, 'dist', 'js', 'cli', 'main.js');
const infos = dumpBuiltPlugins();
const fixture = (name: string) => path.join(fixtures, name);

function bulwark(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: opts.cwd ?? root,
    env: { PATH: process.env.PATH ?? '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('every rule: its positive fixture reports it, its negative fixture does not', () => {
  test.each(RULES.map((r) => r.id))('%s', (id) => {
    const positive = lintFiles([fixture(`${id}-positive.yml`)], { infos }).filter((f) => f.ruleId === id);
    const negative = lintFiles([fixture(`${id}-negative.yml`)], { infos }).filter((f) => f.ruleId === id);
    expect(positive.length).toBeGreaterThan(0);
    for (const f of positive) {
      expect(f.message.trim()).not.toBe('');
      expect(f.location.line).toBeGreaterThan(1); // points into the file, not at its start
    }
    expect(negative).toEqual([]);
  });
});

test('locations come from the YAML source: an explicit value points at itself, a default at the plugin entry', () => {
  const [explicitFinding] = lintFiles([fixture('BW004-positive.yml')], { infos }).filter((f) => f.ruleId === 'BW004');
  expect(explicitFinding!.location).toMatchObject({ line: 5, column: 25 }); // `hide_credentials: false`'s value
  const [defaulted] = lintFiles([fixture('BW003-positive.yml')], { infos }).filter((f) => f.ruleId === 'BW003');
  expect(defaulted!.location).toMatchObject({ line: 3, column: 5 }); // the plugin entry (`name: key-auth`)
  expect(defaulted!.message).toMatch(/default/);
});

test('BW009 finds a password field, a PEM private key and a bulwark-api-key key, each on its own line', () => {
  const found = lintFiles([fixture('BW009-positive.yml')], { infos }).filter((f) => f.ruleId === 'BW009');
  expect(found.map((f) => [f.location.line, /password|private key|API key/.exec(f.message)?.[0]])).toEqual([
    [6, 'password'],
    [11, 'private key'],
    [18, 'API key'],
  ]);
  // The message names the place, never the secret.
  for (const f of found) expect(f.message).not.toMatch(/correct-horse|TrfBId|MC4CAQ/);
});

test('Bulwark defaults come from the dumped schemas: bulwark-api-key hides credentials unless told not to', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-lint-'));
  const file = path.join(dir, 'kong.yml');
  fs.writeFileSync(file, '_format_version: "3.0"\nplugins:\n  - name: bulwark-api-key\n    config: {}\n');
  expect(lintFiles([file], { infos }).filter((f) => f.ruleId === 'BW004')).toEqual([]);
  fs.writeFileSync(
    file,
    '_format_version: "3.0"\nplugins:\n  - name: bulwark-api-key\n    config: { hide_credentials: false }\n',
  );
  expect(lintFiles([file], { infos }).filter((f) => f.ruleId === 'BW004')).toHaveLength(1);
});

test('scope inheritance: a service-level auth plugin covers its routes; a route-level one on another route does not', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-lint-'));
  const a = path.join(dir, 'a.yml');
  const b = path.join(dir, 'b.yml');
  // Two files merged like decK: the plugin in b.yml names the route of a.yml.
  fs.writeFileSync(
    a,
    '_format_version: "3.0"\nservices:\n  - name: s\n    url: https://s\n    routes:\n      - { name: r1, paths: [/1] }\n      - { name: r2, paths: [/2] }\n',
  );
  fs.writeFileSync(b, '_format_version: "3.0"\nplugins:\n  - name: bulwark-jwt\n    route: r1\n');
  const unauthenticated = lintFiles([a, b], { infos })
    .filter((f) => f.ruleId === 'BW001')
    .map((f) => f.message);
  expect(unauthenticated).toEqual(['route r2 is reachable without authentication']);
});

test('fingerprints follow the entity, not the line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-lint-'));
  const file = path.join(dir, 'kong.yml');
  const text = fs.readFileSync(fixture('BW001-positive.yml'), 'utf8');
  fs.writeFileSync(file, text);
  const before = lintFiles([file]).find((f) => f.ruleId === 'BW001')!;
  fs.writeFileSync(file, text.replace('services:', '# a comment\n# another\nservices:'));
  const after = lintFiles([file]).find((f) => f.ruleId === 'BW001')!;
  expect(after.location.line).toBe(before.location.line + 2);
  expect(fingerprint(after)).toBe(fingerprint(before));
});

describe('the built bin', () => {
  const sarifSchema = JSON.parse(
    fs.readFileSync(path.join(root, 'spec/fixtures/sarif/sarif-2.1.0-rtm.5.json'), 'utf8'),
  ) as object;

  test('--format sarif is valid SARIF 2.1.0 (official schema) with the rules catalog, security-severity, regions and fingerprints', () => {
    const files = fs
      .readdirSync(fixtures)
      .filter((f) => f.endsWith('-positive.yml'))
      .map((f) => `spec/fixtures/lint/${f}`);
    const r = bulwark(['lint', '--format', 'sarif', '--fail-on', 'none', ...files]);
    expect(r.code).toBe(0);
    const log = JSON.parse(r.out) as {
      version: string;
      runs: {
        tool: { driver: { rules: { id: string; help: { text: string }; properties: Record<string, string> }[] } };
        results: {
          ruleId: string;
          message: { text: string };
          partialFingerprints: Record<string, string>;
          locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
        }[];
      }[];
    };
    const validate = sarifValidator(sarifSchema);
    expect(validate(log) ? [] : validate.errors).toEqual([]);
    expect(log.version).toBe('2.1.0');
    const run = log.runs[0]!;
    expect(run.tool.driver.rules.map((x) => x.id)).toEqual(RULES.map((x) => x.id));
    for (const rule of run.tool.driver.rules) {
      expect(rule.help.text.length).toBeGreaterThan(40);
      expect(Number(rule.properties['security-severity'])).toBeGreaterThan(0);
    }
    // The files merge like decK (a global key-auth of one covers the routes of another): the bin reports what the
    // library finds on the same files, at least ten different rules.
    const inProcess = lintFiles(
      files.map((f) => path.join(root, f)),
      { infos },
    );
    expect(run.results.map((x) => x.ruleId)).toEqual(inProcess.map((f) => f.ruleId));
    expect(new Set(run.results.map((x) => x.ruleId)).size).toBeGreaterThanOrEqual(10);
    for (const res of run.results) {
      expect(res.message.text.trim()).not.toBe('');
      expect(res.partialFingerprints['bulwarkEntityIdentity/v1']).toMatch(/^[0-9a-f]{32}$/);
      expect(res.locations[0]!.physicalLocation.artifactLocation.uri).toMatch(
        /^spec\/fixtures\/lint\/BW0\d\d-positive\.yml$/,
      );
      expect(res.locations[0]!.physicalLocation.region.startLine).toBeGreaterThan(1);
    }
  });

  test('the SARIF schema check can fail: a result without a message is refused', () => {
    const validate = sarifValidator(sarifSchema);
    const bad = { version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ ruleId: 'BW001' }] }] };
    expect(validate(bad)).toBe(false);
  });

  test('--fail-on: exit 1 at or above the threshold, 0 below it; text output without colour when not a TTY', () => {
    const high = bulwark(['lint', '--fail-on', 'high', 'spec/fixtures/lint/BW007-positive.yml']);
    expect(high.code).toBe(0); // BW007 is low
    const low = bulwark(['lint', '--fail-on', 'low', 'spec/fixtures/lint/BW007-positive.yml']);
    expect(low.code).toBe(1);
    expect(low.out).toMatch(/spec\/fixtures\/lint\/BW007-positive\.yml:4:\d+ +low +BW007 /);
    expect(low.out).not.toMatch(/\u001b\[/);
  });

  test('JSON output; an unreadable file or an unknown option is a usage error (exit 2)', () => {
    const r = bulwark(['lint', '--format', 'json', '--fail-on', 'none', 'spec/fixtures/lint/BW012-positive.yml']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { findings: { rule_id: string; line: number }[] };
    expect(json.findings).toContainEqual(expect.objectContaining({ rule_id: 'BW012', line: 3 }));
    expect(bulwark(['lint', 'no-such-file.yml']).code).toBe(2);
    expect(bulwark(['lint', '--no-such-option']).code).toBe(2);
  });

  test('--kong-conf decides BW015: a kong.conf loading bulwark-guard silences it, one without it reports it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-lint-'));
    const withGuard = path.join(dir, 'with.conf');
    const without = path.join(dir, 'without.conf');
    fs.writeFileSync(withGuard, 'plugins = bundled,bulwark-guard,bulwark-transport\n');
    fs.writeFileSync(without, 'plugins = bundled,bulwark-transport\n');
    const f = 'spec/fixtures/lint/BW015-positive.yml';
    expect(bulwark(['lint', '--format', 'json', '--kong-conf', withGuard, f]).out).not.toMatch(/BW015/);
    expect(bulwark(['lint', '--format', 'json', '--kong-conf', without, f]).out).toMatch(/BW015/);
  });

  test.each([
    [[]],
    [['validate']],
    [['lint']],
    [['inventory']],
    [['api-key']],
    [['api-key', 'issue']],
    [['oauth2-secret']],
  ])('--help on %j', (args: string[]) => {
    const r = bulwark([...args, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: bulwark/);
  });
});
