// Where the installed package keeps its built plugins and plugin server, found from this file in either the
// TypeScript source (tests) or the compiled dist/js tree (dist/js has a package.json of its own: skipped).
import * as fs from 'node:fs';
import * as path from 'node:path';

function findPackageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) || dir.endsWith(path.join('dist', 'js'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bulwark: cannot find the package root');
    dir = up;
  }
  return dir;
}

export const packageRoot = findPackageRoot();
export const builtPluginsDir = path.join(packageRoot, 'dist', 'plugins');
export const pluginServerBin = path.join(packageRoot, 'dist', 'js', 'kong', 'pluginserver', 'cli.js');
