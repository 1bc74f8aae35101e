// Kong 3.9 behaviours the emulator must reproduce because a Bulwark plugin could trip over them; each test cites
// the Kong 3.9.3 source it follows.
import { startGateway, Gateway, fixturePluginsRoot, probeResults } from '../helpers/emulator';

const ALICE = '8a2d9d0e-6c51-4d8f-9b7a-3e1f2c4d5e6f';
const CONFIG = `
_format_version: "3.0"
services:
  - name: echo
    url: ECHO
    routes:
      - name: main
        paths: ["/api"]
consumers:
  - id: ${ALICE}
    username: alice
plugins:
  - name: probe
    route: main
`;

const calls = (...c: unknown[][]) => JSON.stringify(c);

describe('Kong PDK semantics (probe plugin over the real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ pluginsRoot: fixturePluginsRoot, plugins: ['probe'] });
    gw.configure(CONFIG);
  });
  afterAll(async () => gw?.stop());

  test('kong/pdk/client.lua load_consumer (lines 187-211): a non-UUID id without search_by_username is a Lua error (500 in access)', async () => {
    const bad = await gw.kong.request({ path: '/api/x', headers: { 'x-probe-access': calls(['client.loadConsumer', 'alice', false]) } });
    expect(bad.status).toBe(500);
    expect(bad.report.luaErrors[0].message).toBe('cannot load a consumer with an id that is not a uuid');
    expect(bad.report.upstreamRequest).toBeUndefined();

    // A UUID (kong/tools/uuid.lua is_valid_uuid, case-insensitive) is looked up by id; by username when asked.
    const probe = async (...args: unknown[]) => {
      const res = await gw.kong.request({ path: '/api/x', headers: { 'x-probe-access': calls(['client.loadConsumer', ...args]) } });
      expect(res.report.luaErrors).toEqual([]);
      return probeResults(res.body).results[0];
    };
    expect(await probe(ALICE, false)).toMatchObject({ id: ALICE, username: 'alice' });
    expect(await probe(ALICE.toUpperCase(), false)).toBe('<nil>'); // valid UUID, no such id: nil, no error
    expect(await probe('alice', true)).toMatchObject({ id: ALICE });
    expect(await probe('nobody', true)).toBe('<nil>');
  });
});
