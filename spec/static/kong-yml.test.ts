// kong.yml, the declarative config the compose stack and `npm run gateway` load, is checked statically:
// decK's offline structural validation, and every Bulwark plugin entry against the schema its plugin server dumps.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { deckBinary, deckValidate } from './deck';
import { dumpBuiltPlugins, validateDeclarativePlugins } from '../../scripts/validate-config';

const root = path.join(__dirname, '..', '..');
const kongYml = fs.readFileSync(path.join(root, 'kong.yml'), 'utf8');
const withDeck = deckBinary() ? test : test.skip;

withDeck('deck validate (offline) accepts kong.yml', () => {
  const r = deckValidate(path.join(root, 'kong.yml'));
  expect(r.output).not.toMatch(/error/i);
  expect(r.code).toBe(0);
});

describe('plugin configs in kong.yml against the dumped schemas', () => {
  const infos = dumpBuiltPlugins();

  test('every bulwark-* plugin entry in kong.yml is valid', () => {
    expect(infos.has('bulwark-transport')).toBe(true);
    expect(validateDeclarativePlugins(kongYml, infos)).toEqual([]);
  });

  test('bulwark-audit is built, and kong.yml runs it globally (every service, so every decision is audited)', () => {
    expect(infos.has('bulwark-audit')).toBe(true);
    const doc = parseYaml(kongYml) as { plugins?: { name: string; route?: unknown; service?: unknown }[] };
    const audit = (doc.plugins ?? []).filter((p) => p.name === 'bulwark-audit');
    expect(audit).toHaveLength(1);
    expect(audit[0]).not.toHaveProperty('route');
    expect(audit[0]).not.toHaveProperty('service');
  });

  test('an invalid entry is reported with the plugin, its place and the field', () => {
    const broken = kongYml.replace('mode: reject', 'mode: sometimes');
    const problems = validateDeclarativePlugins(broken, infos);
    expect(problems).toHaveLength(1);
    expect(problems[0].plugin).toBe('bulwark-transport');
    expect(problems[0].message).toMatch(/https.*mode|mode/);
  });

  test('an unknown Bulwark plugin name is reported', () => {
    const text = kongYml + '\n  - name: bulwark-nonexistent\n'; // another entry of kong.yml's global plugins
    const problems = validateDeclarativePlugins(text, infos);
    expect(problems.map((p) => p.message)).toContain("unknown Bulwark plugin 'bulwark-nonexistent'");
  });

  test('the validator CLI exits non-zero on a bad file', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-yml-')), 'kong.yml');
    fs.writeFileSync(file, kongYml.replace('max_age: 31536000', 'max_age: -5'));
    const r = require('node:child_process').spawnSync(
      process.execPath,
      [path.join(root, 'dist/js/scripts/validate-config.js'), file],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/max_age/);
  });
});
