// What ships (the image, kong/Dockerfile) is the plugins and the plugin server; the emulator, the echo upstream, the
// benchmarks and the test RPC client are test tools. These checks keep the line where it is: shipped code imports no
// test tool, package.json `dependencies` are exactly the packages shipped code imports, and the image copies only
// the shipped directories.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';

const root = path.join(__dirname, '..', '..');
// kong/schema: Kong's schema engine and declarative loader, which the bulwark command runs for users (the emulator
// reuses them); cli: the bulwark command (package bin).
const SHIPPED_DIRS = ['plugins', 'kong/pluginserver', 'kong/schema', 'cli'];

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier of `import … from`, `export … from`, `require()` and `import()` in a file. */
function specifiers(file: string): string[] {
  // Comments may name modules (kong/pluginserver/plugins.ts explains kong-pdk's `require('ts-node')`): code only.
  const text = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
    .join('\n');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|require\(|import\()\s*'([^']+)'/g)) out.push(m[1]!);
  // A package file resolved from our own package (bulwark-docs serves swagger-ui-dist's files) ships too; a resolve
  // with `paths` looks in the user's tree (the plugin server's optional ts-node) and does not.
  for (const m of text.matchAll(/require\.resolve\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

const shippedFiles = SHIPPED_DIRS.flatMap((d) => tsFiles(path.join(root, d)));

test('shipped code imports nothing outside plugins/, kong/pluginserver/, kong/schema/ and cli/ (but package.json, for the version)', () => {
  const outside: string[] = [];
  for (const file of shippedFiles) {
    for (const spec of specifiers(file).filter((s) => s.startsWith('.'))) {
      const target = path.relative(root, path.resolve(path.dirname(file), spec));
      if (target === 'package.json') continue;
      if (!SHIPPED_DIRS.some((d) => target === d || target.startsWith(`${d}/`)))
        outside.push(`${path.relative(root, file)} → ${spec}`);
    }
  }
  expect(outside).toEqual([]);
});

test('runtime dependencies are exactly the packages shipped code imports (the rest are devDependencies)', () => {
  const builtins = new Set(builtinModules);
  const imported = new Set<string>();
  for (const file of shippedFiles) {
    for (const spec of specifiers(file)) {
      if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec.split('/')[0]!)) continue;
      const parts = spec.split('/');
      imported.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
    }
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  expect([...imported].sort()).toEqual(Object.keys(pkg.dependencies).sort());
});

test('the image copies only the shipped parts of dist/', () => {
  const dockerfile = fs.readFileSync(path.join(root, 'kong', 'Dockerfile'), 'utf8');
  const copies = [...dockerfile.matchAll(/^COPY --from=build \/src\/(dist\/\S*)/gm)].map((m) => m[1]);
  expect(copies.sort()).toEqual([
    'dist/js/kong/pluginserver/',
    'dist/js/package.json',
    'dist/js/plugins/',
    'dist/plugins/',
  ]);
});
