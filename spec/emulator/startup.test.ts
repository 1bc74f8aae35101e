// Kong's start-up against real plugin servers: query output, plugin-info checks, 3.9's one-plugin-per-server rule.
import * as path from 'node:path';
import * as os from 'node:os';
import { KongEmulator } from '../../kong/emulator/kong';
import { pluginServerEntries, queryPluginInfo } from '../../kong/emulator/plugin-server';
import { stepMethodFor, fixMultimap } from '../../kong/emulator/pdk';

const fixtures = path.join(__dirname, '..', 'fixtures');
const stockBin = require.resolve('kong-pdk/bin/kong-js-pluginserver');

describe('start-up (kong/runloop/plugin_servers/process.lua, kong/db/dao/plugins.lua)', () => {
  test('process.lua: the query output must be pure JSON; a plugin printing at load stops Kong', () => {
    const [entry] = pluginServerEntries('stock', os.tmpdir(), ['noisy'], path.join(fixtures, 'bad-plugins'));
    expect(() => queryPluginInfo(entry)).toThrow(/failed decoding plugin info|JSON/i);
  });

  test('dao/plugins.lua: a PRIORITY that is not an integer stops Kong', async () => {
    await expect(
      KongEmulator.start({
        server: 'stock',
        pluginsRoot: path.join(fixtures, 'bad-plugins'),
        plugins: ['bad-priority'],
      }),
    ).rejects.toThrow(/PRIORITY field is not a valid integer/);
  });

  test('process.lua (3.9): only the first plugin of a query output is registered; 3.0–3.8 register all', () => {
    const dir = path.join(fixtures, 'multi-plugins');
    const entry = {
      name: 'multi',
      socket: 'unused.sock',
      queryCmd: [process.execPath, stockBin, '-d', dir, '--dump-all-plugins'],
    };
    expect(queryPluginInfo(entry, '3.9').map((i) => i.Name)).toEqual(['alpha']);
    expect(
      queryPluginInfo(entry, '3.8')
        .map((i) => i.Name)
        .sort(),
    ).toEqual(['alpha', 'beta']);
  });
});

describe('mp_rpc.lua wire rules', () => {
  test('get_step_method: entity and multimap results use their own Step methods', () => {
    expect(stepMethodFor('kong.request.get_headers')).toBe('plugin.StepMultiMap');
    expect(stepMethodFor('kong.request.get_query')).toBe('plugin.StepMultiMap');
    expect(stepMethodFor('kong.response.get_headers')).toBe('plugin.StepMultiMap');
    expect(stepMethodFor('kong.client.authenticate')).toBe('plugin.StepCredential');
    expect(stepMethodFor('kong.client.get_credential')).toBe('plugin.StepCredential');
    expect(stepMethodFor('kong.client.load_consumer')).toBe('plugin.StepConsumer');
    expect(stepMethodFor('kong.router.get_route')).toBe('plugin.StepRoute');
    expect(stepMethodFor('kong.router.get_service')).toBe('plugin.StepService');
    expect(stepMethodFor('kong.node.get_memory_stats')).toBe('plugin.StepMemoryStats');
    expect(stepMethodFor('kong.request.get_header')).toBe('plugin.Step');
  });

  test('fix_mmap: strings become one-element arrays, true becomes [], arrays are kept, empty is a map', () => {
    expect(fixMultimap({ a: 'x', b: true, c: ['1', true] })).toEqual({ a: ['x'], b: [], c: ['1', true] });
    expect(fixMultimap({})).toEqual({});
    expect(Array.isArray(fixMultimap({}))).toBe(false);
  });
});
