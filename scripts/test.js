#!/usr/bin/env node
'use strict';
// `npm test`: check that the machine has what the tests need (scripts/check-test-env.js), lint and format check,
// build (type-check + compile, the plugin server loads compiled plugins), run every jest suite, and end with the line CI reads: `N passed, N failed` (skipped tests are counted separately;
// each failed lint or format check counts as one failure). `npm test -- <jest args>` runs only the selected
// suites, without the lint and format checks.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const extraArgs = process.argv.slice(2);

// First, what the tests need besides npm packages (redis-server, luajit, …): one message with the install command.
const env = require('./check-test-env').describe(require('./check-test-env').checkEnvironment());
if (env.message) process.stderr.write(`${env.message}\n`);
if (!env.ok) {
  process.stdout.write('0 passed, 1 failed\n');
  process.exit(1);
}

/** Lint and format check (whole tree; skipped when jest arguments select some suites). Each failure counts as one
 *  failed test, and the tests still run, so one report shows everything. */
function runChecks() {
  const bin = (pkg) => {
    const manifest = require.resolve(`${pkg}/package.json`);
    const entry = require(manifest).bin;
    return path.join(path.dirname(manifest), typeof entry === 'string' ? entry : entry[pkg]);
  };
  const checks = [
    { label: 'lint (eslint .)', bin: bin('eslint'), args: ['.'], fix: 'npx eslint . --fix' },
    {
      label: 'format (prettier --check .)',
      bin: bin('prettier'),
      args: ['--check', '.', '--log-level', 'warn'],
      fix: 'npm run format',
    },
  ];
  let failed = 0;
  for (const check of checks) {
    process.stdout.write(`\n== ${check.label}\n`);
    const run = spawnSync(process.execPath, [check.bin, ...check.args], { stdio: 'inherit', cwd: root });
    if (run.status !== 0) {
      failed++;
      process.stdout.write(`${check.label} failed; fix with: ${check.fix}\n`);
    }
  }
  return { ok: failed === 0, passed: checks.length - failed, failed, skipped: 0 };
}
const checks = extraArgs.length === 0 ? [runChecks()] : [];

const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.js')], { stdio: 'inherit', cwd: root });
if (build.status !== 0) {
  const failed = 1 + checks.reduce((n, c) => n + c.failed, 0);
  process.stdout.write(`0 passed, ${failed} failed\n`);
  process.exit(1);
}
const jestBin = require.resolve('jest/bin/jest');

/** Runs jest once and returns its counts (from its JSON report). */
function runJest(label, args, env) {
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-jest-')), 'report.json');
  process.stdout.write(`\n== ${label}\n`);
  const run = spawnSync(process.execPath, [jestBin, '--json', `--outputFile=${report}`, ...args], {
    stdio: 'inherit',
    cwd: root,
    env,
  });
  try {
    const r = JSON.parse(fs.readFileSync(report, 'utf8'));
    return {
      ok: run.status === 0,
      passed: r.numPassedTests,
      failed: r.numFailedTests + (r.numRuntimeErrorTestSuites || 0),
      skipped: r.numPendingTests + (r.numTodoTests || 0),
    };
  } catch {
    return { ok: false, passed: 0, failed: 1, skipped: 0 };
  }
}

/**
 * The plugin servers each suite declares with `runsOnPluginServers(...)` (spec/helpers/emulator.ts), read from its
 * source: `BOTH_PLUGIN_SERVERS` or a literal list. Suites without the call start no gateway (the helper refuses to).
 */
function declaredServers(file) {
  const m = /runsOnPluginServers\(\s*(BOTH_PLUGIN_SERVERS|\[[^\]]*\])/.exec(fs.readFileSync(file, 'utf8'));
  if (!m) return undefined;
  return m[1] === 'BOTH_PLUGIN_SERVERS'
    ? ['bulwark', 'stock']
    : ['bulwark', 'stock'].filter((k) => m[1].includes(`'${k}'`));
}

function testFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return testFiles(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const suites = testFiles(path.join(root, 'spec')).map((file) => ({ file, servers: declaredServers(file) }));
const onStock = suites.filter((s) => s.servers?.includes('stock')).map((s) => s.file);
const notOnBulwark = suites.filter((s) => s.servers !== undefined && !s.servers.includes('bulwark')).map((s) => s.file);
const asPattern = (file) => path.relative(root, file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const firstArgs =
  extraArgs.length === 0 && notOnBulwark.length > 0
    ? ['--testPathIgnorePatterns', ...notOnBulwark.map(asPattern)]
    : extraArgs;
const runs = [...checks, runJest('all tests (integration suites on bulwark-pluginserver)', firstArgs, process.env)];
// The suites that declare the stock kong-js-pluginserver, again on it: the plugins must work on both servers.
if (extraArgs.length === 0 && onStock.length > 0) {
  runs.push(
    runJest('suites declared for the stock kong-js-pluginserver', ['--runTestsByPath', ...onStock], {
      ...process.env,
      BULWARK_PLUGINSERVER: 'stock',
    }),
  );
}
const total = runs.reduce(
  (t, r) => ({ passed: t.passed + r.passed, failed: t.failed + r.failed, skipped: t.skipped + r.skipped }),
  { passed: 0, failed: 0, skipped: 0 },
);
process.stdout.write(
  `${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}\n`,
);
process.exit(runs.every((r) => r.ok) && total.failed === 0 ? 0 : 1);
