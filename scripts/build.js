#!/usr/bin/env node
'use strict';
// Build: type-check and compile all TypeScript to CommonJS under dist/js, then emit one directory per
// plugin, dist/plugins/<name>/index.js, holding nothing but a one-line entry module. The stock
// kong-js-pluginserver loads every file of the directory it is given as a plugin and crashes on a
// folder without an index (kong-js-pdk#151), so the shared library and the plugin's own modules stay
// in dist/js, outside the scanned directories.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

const pluginsSrc = path.join(root, 'plugins');
const pluginsOut = path.join(dist, 'plugins');
fs.rmSync(pluginsOut, { recursive: true, force: true });
const names = fs
  .readdirSync(pluginsSrc)
  .filter((n) => n.startsWith('bulwark-') && fs.existsSync(path.join(pluginsSrc, n, 'index.ts')))
  .sort();
for (const name of names) {
  const dir = path.join(pluginsOut, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'index.js'),
    `'use strict';\nmodule.exports = require('../../js/plugins/${name}/index.js');\n`,
  );
}
process.stdout.write(`built ${names.length} plugin(s): ${names.join(', ') || '(none)'}\n`);
