#!/usr/bin/env node
'use strict';
// What the test suite needs besides `npm ci`, checked before `npm test` builds anything, so that a fresh machine
// gets one message naming what is missing and the command that installs it, instead of suites failing one by one
// with "spawn redis-server ENOENT". `bash .ci/run` (CI) installs the same Debian packages itself.
//
// Required tools fail the check: suites that need them would fail. Optional tools only get a note: the suites that
// use them are skipped without them (decK's offline validation of kong.yml, `docker-compose config`).
const fs = require('fs');
const path = require('path');

/** Node: jose 6 is an ES module loaded with require(esm) (Node 20.19+); ESLint 10 needs 20.19 too. */
const MIN_NODE = [20, 19, 0];

const TOOLS = [
  {
    bin: 'redis-server',
    pkg: 'redis-server',
    why: 'bulwark-rate-limit and plugins/lib/redis.ts run against real Redis',
  },
  { bin: 'redis-cli', pkg: 'redis-tools', why: 'the Redis Cluster tests create the cluster with redis-cli' },
  { bin: 'openssl', pkg: 'openssl', why: 'test certificates (Redis TLS, the gateway HTTPS listener)' },
  { bin: 'luajit', pkg: 'luajit', why: "bulwark-guard's handler.lua on the engine Kong runs" },
  { bin: 'syslog-ng', pkg: 'syslog-ng-core', why: "bulwark-audit's syslog sink against a real syslog server" },
  { bin: 'prometheus', pkg: 'prometheus', why: "a real Prometheus scrapes bulwark-pluginserver's /metrics" },
  {
    bin: 'chromium',
    pkg: 'chromium',
    why: "bulwark-docs' browser test (Swagger UI under its CSP, driven by playwright-core)",
  },
  {
    bin: 'gcc',
    pkg: 'gcc',
    why: "compiles the ModSecurity harness bulwark-threat-protection's CRS engine is checked against",
  },
  { file: '/usr/include/stdio.h', pkg: 'libc6-dev', why: 'the C library headers gcc compiles with' },
  {
    file: '/usr/include/modsecurity/modsecurity.h',
    pkg: 'libmodsecurity-dev',
    why: 'ModSecurity 3 (libmodsecurity), the reference the CRS engine is checked against (scripts/modsec)',
  },
  { bin: 'deck', pkg: 'deck', why: 'decK offline validation of kong.yml', optional: true },
  { bin: 'docker-compose', pkg: 'docker-compose', why: 'docker-compose config of docker-compose.yml', optional: true },
];

/** The first executable `name` on the search path, or undefined. */
function findExecutable(name, searchPath) {
  for (const dir of (searchPath || '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function versionAtLeast(version, min) {
  const parts = String(version).replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < min.length; i++) {
    if ((parts[i] || 0) !== min[i]) return (parts[i] || 0) > min[i];
  }
  return true;
}

/** What is missing: `{ node, required: [tool], optional: [tool] }` (node: the too-old version, or undefined). A tool
 * is a program on the search path (`bin`) or, for libraries, a file its package installs (`file`). */
function checkEnvironment({
  searchPath = process.env.PATH,
  nodeVersion = process.versions.node,
  fileExists = fs.existsSync,
} = {}) {
  const missing = TOOLS.filter((t) => (t.bin ? !findExecutable(t.bin, searchPath) : !fileExists(t.file)));
  return {
    node: versionAtLeast(nodeVersion, MIN_NODE) ? undefined : nodeVersion,
    required: missing.filter((t) => !t.optional),
    optional: missing.filter((t) => t.optional),
  };
}

/** The install command for a list of tools (Debian/Ubuntu package names). */
function installCommand(tools) {
  const pkgs = [...new Set(tools.map((t) => t.pkg))];
  return `sudo apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

/** The message for a check result; `ok` is false when the tests cannot run. */
function describe(result) {
  const lines = [];
  if (result.node) {
    lines.push(`Node.js ${result.node} is too old: the tests need Node ${MIN_NODE.join('.')} or newer.`);
  }
  if (result.required.length > 0) {
    lines.push('The tests need these programs (not on PATH) and files:');
    for (const t of result.required) lines.push(`  ${t.bin || t.file} (Debian package ${t.pkg}): ${t.why}`);
    lines.push(`Install them (Debian/Ubuntu): ${installCommand([...result.required, ...result.optional])}`);
    lines.push('or, as root, `bash .ci/run` (what CI runs: installs them, then `npm ci && npm test`).');
  }
  if (result.optional.length > 0) {
    lines.push(`Optional, their tests are skipped: ${result.optional.map((t) => `${t.bin} (${t.why})`).join('; ')}.`);
    if (result.required.length === 0) lines.push(`To run them too: ${installCommand(result.optional)}`);
  }
  return { ok: !result.node && result.required.length === 0, message: lines.join('\n') };
}

module.exports = { TOOLS, MIN_NODE, checkEnvironment, describe, installCommand, findExecutable };

if (require.main === module) {
  const { ok, message } = describe(checkEnvironment());
  if (message) process.stderr.write(`${message}\n`);
  process.exit(ok ? 0 : 1);
}
