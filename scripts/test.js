#!/usr/bin/env node
'use strict';
// `npm test`: build (type-check + compile, the plugin server loads compiled plugins), run every jest suite,
// and end with the line CI reads: `N passed, N failed` (skipped tests are counted separately).
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.js')], { stdio: 'inherit', cwd: root });
if (build.status !== 0) {
  process.stdout.write('0 passed, 1 failed\n');
  process.exit(1);
}
const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-jest-')), 'report.json');
const jestBin = require.resolve('jest/bin/jest');
const args = [jestBin, '--json', `--outputFile=${report}`, ...process.argv.slice(2)];
const run = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root, env: process.env });
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(fs.readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
  skipped = r.numPendingTests + (r.numTodoTests || 0);
} catch {
  failed = failed || 1;
}
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
