// Which Bulwark plugins make Kong buffer. Kong buffers a request (whole request body read, whole upstream response
// held in memory, no streaming) when ANY plugin collected for it has a `response` handler
// (kong/runloop/plugins_iterator.lua 3.9.3 line 398, kong/init.lua Kong.response). For a JavaScript plugin that is
// `response` among the Phases kong-pdk dumps: the phase methods on the Plugin class prototype (lib/mod.js).
// Only the explicit opt-in may have one.
import * as fs from 'node:fs';
import * as path from 'node:path';

const pluginsDir = path.resolve(__dirname, '../../plugins');
const names = fs
  .readdirSync(pluginsDir)
  .filter((n) => n.startsWith('bulwark-') && fs.existsSync(path.join(pluginsDir, n, 'index.ts')));

test('only bulwark-response-headers has a response handler', () => {
  expect(names.length).toBeGreaterThanOrEqual(6);
  const withResponse = names.filter((n) => {
    const mod = require(path.join(pluginsDir, n, 'index.ts')) as { Plugin: { prototype: object } };
    return Object.getOwnPropertyNames(mod.Plugin.prototype).includes('response');
  });
  expect(withResponse).toEqual(['bulwark-response-headers']);
});
