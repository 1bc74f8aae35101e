// `npm test` on a fresh machine: before building anything it names each missing program the tests need and the
// command that installs it (scripts/check-test-env.js), instead of failing suite by suite.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
const check = require('../../scripts/check-test-env.js') as {
  TOOLS: { bin?: string; file?: string; pkg: string; optional?: boolean }[];
  checkEnvironment(o: { searchPath?: string; nodeVersion?: string; fileExists?: (f: string) => boolean }): {
    node?: string;
    required: { bin: string }[];
    optional: { bin: string }[];
  };
  describe(r: ReturnType<typeof check.checkEnvironment>): { ok: boolean; message: string };
};

/** A directory holding fake executables with these names (and a non-executable file for the rest). */
function pathWith(bins: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-env-'));
  for (const bin of bins) fs.writeFileSync(path.join(dir, bin), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  for (const t of check.TOOLS.filter((t) => t.bin !== undefined && !bins.includes(t.bin))) {
    fs.writeFileSync(path.join(dir, t.bin!), 'not executable', { mode: 0o644 });
  }
  return dir;
}

const all = check.TOOLS.flatMap((t) => (t.bin === undefined ? [] : [t.bin]));
/** The library files (libmodsecurity-dev's header …) as present, so that only PATH decides. */
const files = { fileExists: () => true };

test('with every program on PATH and a recent Node, nothing is reported', () => {
  const r = check.checkEnvironment({ searchPath: pathWith(all), nodeVersion: '20.19.0', ...files });
  expect(r).toEqual({ node: undefined, required: [], optional: [] });
  expect(check.describe(r)).toEqual({ ok: true, message: '' });
});

test('a missing redis-server and luajit are named, with the apt-get command that installs them', () => {
  const r = check.checkEnvironment({
    searchPath: pathWith(all.filter((b) => b !== 'redis-server' && b !== 'luajit')),
    nodeVersion: '22.1.0',
    ...files,
  });
  const { ok, message } = check.describe(r);
  expect(ok).toBe(false);
  expect(message).toContain('redis-server (Debian package redis-server)');
  expect(message).toContain('luajit (Debian package luajit)');
  expect(message).toContain('sudo apt-get install -y --no-install-recommends redis-server luajit');
  expect(message).not.toContain('openssl (');
});

test('missing deck and docker-compose only skip their tests: the check passes with a note and the command', () => {
  const r = check.checkEnvironment({
    searchPath: pathWith(all.filter((b) => b !== 'deck' && b !== 'docker-compose')),
    nodeVersion: '20.20.2',
    ...files,
  });
  const { ok, message } = check.describe(r);
  expect(ok).toBe(true);
  expect(message).toMatch(/skipped: deck .*; docker-compose/);
  expect(message).toContain('sudo apt-get install -y --no-install-recommends deck docker-compose');
});

test('a missing libmodsecurity-dev (a library: its header, not a program) is named with its package', () => {
  const r = check.checkEnvironment({
    searchPath: pathWith(all),
    nodeVersion: '22.1.0',
    fileExists: (f) => f !== '/usr/include/modsecurity/modsecurity.h',
  });
  const { ok, message } = check.describe(r);
  expect(ok).toBe(false);
  expect(message).toContain('/usr/include/modsecurity/modsecurity.h (Debian package libmodsecurity-dev)');
  expect(message).toContain('sudo apt-get install -y --no-install-recommends libmodsecurity-dev');
});

test('Node older than 20.19 (no require(esm) for jose) fails the check', () => {
  const r = check.checkEnvironment({ searchPath: pathWith(all), nodeVersion: '20.18.1', ...files });
  expect(check.describe(r)).toEqual({ ok: false, message: expect.stringContaining('Node.js 20.18.1 is too old') });
});

test('npm test stops before the build with that message and the closing line CI reads', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'test.js')], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PATH: pathWith(all.filter((b) => b !== 'redis-server')) },
    timeout: 20_000,
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('redis-server (Debian package redis-server)');
  expect(r.stdout).not.toContain('== lint');
  expect(r.stdout.trim().split('\n').pop()).toBe('0 passed, 1 failed');
});
