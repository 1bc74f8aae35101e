// Which plugin servers a suite runs on is declared in the suite (spec/helpers/emulator.ts runsOnPluginServers) and
// enforced: no gateway starts in a suite that did not declare, nor on a server the suite does not name.
import { runsOnPluginServers, serverKind } from '../helpers/emulator';

const saved = process.env.BULWARK_PLUGINSERVER;
afterEach(() => {
  if (saved === undefined) delete process.env.BULWARK_PLUGINSERVER;
  else process.env.BULWARK_PLUGINSERVER = saved;
});

test('a suite that did not declare its servers cannot pick one (nor start a gateway)', () => {
  jest.isolateModules(() => {
    const helpers = require('../helpers/emulator') as typeof import('../helpers/emulator');
    expect(() => helpers.serverKind()).toThrow(/without runsOnPluginServers/);
  });
});

test('naming one server only needs a reason', () => {
  expect(() => runsOnPluginServers(['bulwark'])).toThrow(/must say why/);
  expect(() => runsOnPluginServers([])).toThrow(/at least one/);
});

test('a suite declared for one server refuses to run on the other', () => {
  runsOnPluginServers(['bulwark'], 'example: a bulwark-pluginserver feature');
  process.env.BULWARK_PLUGINSERVER = 'stock';
  expect(() => serverKind()).toThrow(/runs on bulwark only/);
  delete process.env.BULWARK_PLUGINSERVER;
  expect(serverKind()).toBe('bulwark');
  runsOnPluginServers(['bulwark', 'stock']);
  process.env.BULWARK_PLUGINSERVER = 'stock';
  expect(serverKind()).toBe('stock');
});
