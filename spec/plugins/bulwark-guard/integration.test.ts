// bulwark-guard: kill -9 the plugin server under load and count the requests that reach the upstream unchecked.
// The guard's real kong/plugins/bulwark-guard/handler.lua runs in the emulator (kong/emulator/lua-plugins.ts);
// the emulator plays Kong's fail-open (kong/runloop/plugin_servers/rpc/mp_rpc.lua: a failed RPC ends the event
// as if the plugin were done) and Kong's respawn (kong/runloop/plugin_servers/process.lua pluginserver_timer:
// a new process at most once a second after an exit).
import path = require('node:path');
import { startGateway, Gateway, BOTH_PLUGIN_SERVERS, runsOnPluginServers } from '../../helpers/emulator';
import type { EmulatedResponse } from '../../../kong/emulator/kong';
import { hs256Token } from '../../helpers/hs256';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

jest.setTimeout(180_000);

// Only the two plugins under test: the stock server runs one Node process per plugin.
const PLUGINS = ['bulwark-jwt', 'bulwark-validator'];

const SECRET = 'a-guard-test-hs256-secret-of-32-bytes!';
const CONFIG = `
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - { name: jwt, paths: ["/jwt"] }
      - { name: validated, paths: ["/validated"] }
plugins:
  - name: bulwark-jwt
    route: jwt
    config:
      issuers: [{ issuer: guard-issuer, secrets: ["${SECRET}"], algorithms: [HS256], audiences: [guard-api] }]
  - name: bulwark-validator
    route: validated
    config:
      json_schema:
        body_schema: '{"type":"object","required":["n"],"properties":{"n":{"type":"integer"}},"additionalProperties":false}'
`;

const now = () => Math.floor(Date.now() / 1000);
const goodToken = () =>
  hs256Token({ iss: 'guard-issuer', aud: 'guard-api', sub: 'u1', iat: now(), exp: now() + 300 }, SECRET);
const forgedToken = () =>
  hs256Token(
    { iss: 'guard-issuer', aud: 'guard-api', sub: 'u1', iat: now(), exp: now() + 300 },
    'not-the-secret-not-the-secret-not-the',
  );

/** Requests that every configured plugin must refuse: none of them may reach the upstream. */
interface BadRequest {
  name: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}
const BAD_REQUESTS: BadRequest[] = [
  { name: 'jwt without a token', path: '/jwt/x' },
  { name: 'jwt with a forged token', path: '/jwt/x', headers: { authorization: `Bearer ${forgedToken()}` } },
  {
    name: 'validator with an invalid body',
    path: '/validated/x',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"n":"one"}',
  },
];

interface LoadResult {
  sent: number;
  unchecked: number;
  refusedByGuard: number;
  failOpenEvents: number;
  statuses: Record<number, number>;
}

/**
 * Bounded load: `concurrency` loops send bad requests until `until()` is true or `maxMs` has passed, whichever
 * comes first. Counts the requests that reached the upstream.
 */
async function load(gw: Gateway, concurrency: number, until: () => boolean, maxMs: number): Promise<LoadResult> {
  const r: LoadResult = { sent: 0, unchecked: 0, refusedByGuard: 0, failOpenEvents: 0, statuses: {} };
  const deadline = Date.now() + maxMs;
  const loop = async (offset: number) => {
    for (let i = offset; Date.now() < deadline && !until(); i++) {
      const bad = BAD_REQUESTS[i % BAD_REQUESTS.length];
      const res: EmulatedResponse = await gw.kong.request({ ...bad });
      r.sent++;
      r.statuses[res.status] = (r.statuses[res.status] ?? 0) + 1;
      if (res.report.upstreamRequest) r.unchecked++;
      if (res.report.exitedBy && res.status === 503 && res.body.toString().includes('Service unavailable'))
        r.refusedByGuard++;
      r.failOpenEvents += res.report.failOpen.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  return r;
}

/** Kills every plugin-server process with SIGKILL, as an OOM kill would; Kong (the emulator) respawns them. */
function killServers(gw: Gateway): number {
  let killed = 0;
  for (const p of gw.kong.processes) if (p.running && p.child.kill('SIGKILL')) killed++;
  return killed;
}

/** Whether the plugin servers answer again: a good request passes both plugins. */
async function servingAgain(gw: Gateway): Promise<boolean> {
  const jwt = await gw.kong.request({ path: '/jwt/x', headers: { authorization: `Bearer ${goodToken()}` } });
  const val = await gw.kong.request({
    path: '/validated/x',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"n":1}',
  });
  return (
    jwt.status === 200 && val.status === 200 && jwt.report.failOpen.length === 0 && val.report.failOpen.length === 0
  );
}

/** Kill under load, keep the load on until the respawned servers answer (bounded), then stop. */
async function crashUnderLoad(gw: Gateway): Promise<{ during: LoadResult; respawned: boolean }> {
  const spawnsBefore = [...gw.kong.spawns.values()].reduce((a, b) => a + b, 0);
  let recovered = false;
  let killedAt = 0;
  const watcher = (async () => {
    await new Promise((r) => setTimeout(r, 300));
    expect(killServers(gw)).toBeGreaterThan(0);
    killedAt = Date.now();
    // Kong needs no manual action: wait (bounded) until the respawned servers serve good requests again.
    while (!recovered && Date.now() - killedAt < 30_000) {
      await new Promise((r) => setTimeout(r, 100));
      const spawned = [...gw.kong.spawns.values()].reduce((a, b) => a + b, 0) > spawnsBefore;
      if (spawned && (await servingAgain(gw))) recovered = true;
    }
  })();
  const during = await load(gw, 6, () => recovered, 40_000);
  await watcher;
  return { during, respawned: recovered };
}

describe('bulwark-guard: a dead plugin server never means unchecked proxying', () => {
  describe('with the guard (the default)', () => {
    let gw: Gateway;
    beforeAll(async () => {
      gw = await startGateway({ plugins: PLUGINS });
      gw.configure(CONFIG);
    });
    afterAll(async () => gw?.stop());

    test('the guard is loaded and wraps the Bulwark plugins (its init_worker log line)', () => {
      expect(gw.kong.luaPlugins).toEqual(['bulwark-guard']);
      const line = gw.kong.log.find((l) => l.includes('"event":"guarding"'));
      expect(line).toBeDefined();
      expect(line).toContain('bulwark-jwt');
      expect(line).toContain('bulwark-validator');
    });

    test('normal service: good requests pass, bad ones get the plugins own refusals', async () => {
      expect(await servingAgain(gw)).toBe(true);
      const statuses = [];
      for (const bad of BAD_REQUESTS) {
        const res = await gw.kong.request({ ...bad });
        expect(res.report.upstreamRequest).toBeUndefined();
        statuses.push(res.status);
      }
      expect(statuses).toEqual([401, 401, 400]);
    });

    test('kill -9 under load: 0 unchecked requests; the guard answers 503 while the server is down; protection and service come back after the respawn', async () => {
      const { during, respawned } = await crashUnderLoad(gw);
      console.log(`with the guard: ${JSON.stringify(during)}`);
      // The outage was real: Kong's fail-open happened (RPC errors treated as "plugin done")...
      expect(during.failOpenEvents).toBeGreaterThan(0);
      // ...and every one of those requests was refused by the guard instead of being proxied.
      expect(during.refusedByGuard).toBeGreaterThan(0);
      expect(during.unchecked).toBe(0);
      expect(respawned).toBe(true);
      expect(gw.kong.log.some((l) => l.includes('"event":"undecided"') && l.includes('rejected with 503'))).toBe(true);
      // After the respawn, without any manual action: the plugins decide again.
      const after = await load(gw, 3, () => false, 300);
      expect(after.unchecked).toBe(0);
      expect(after.failOpenEvents).toBe(0);
      expect(Object.keys(after.statuses).sort()).toEqual(['400', '401']);
    });
  });

  describe('without the guard (the old behaviour: Kong fails open)', () => {
    let gw: Gateway;
    beforeAll(async () => {
      gw = await startGateway({ plugins: PLUGINS, luaPlugins: [] });
      gw.configure(CONFIG);
    });
    afterAll(async () => gw?.stop());

    test('kill -9 under load lets refused requests reach the upstream', async () => {
      const { during, respawned } = await crashUnderLoad(gw);
      console.log(`without the guard: ${JSON.stringify(during)}`);
      expect(during.failOpenEvents).toBeGreaterThan(0);
      expect(during.unchecked).toBeGreaterThan(0);
      expect(respawned).toBe(true);
    });
  });

  test('cost: one kong.log.set_serialize_value per passing Bulwark access plugin, one (the deny record) on a refusal, 0 RPCs for the guard', async () => {
    const post = (body: string) => ({
      path: '/validated/x',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const records = (res: EmulatedResponse) =>
      res.report.pdkCalls.filter(([, m]) => m === 'kong.log.set_serialize_value' || m.startsWith('kong.ctx.shared'));
    const guarded = await startGateway({ plugins: PLUGINS });
    const bare = await startGateway({ plugins: PLUGINS, luaPlugins: [] });
    try {
      guarded.configure(CONFIG);
      bare.configure(CONFIG);
      await guarded.kong.request(post('{"n":0}')); // instance start-up out of the way
      await bare.kong.request(post('{"n":0}'));
      const pass = await guarded.kong.request(post('{"n":1}'));
      const refuse = await guarded.kong.request(post('{"n":"x"}'));
      const barePass = await bare.kong.request(post('{"n":1}'));
      const bareRefuse = await bare.kong.request(post('{"n":"x"}'));
      expect([pass.status, refuse.status]).toEqual([200, 400]);
      expect(records(pass)).toEqual([['bulwark-validator', 'kong.log.set_serialize_value']]);
      // A refusal writes the deny record (for bulwark-audit) before its exit; the guard does not need it.
      expect(records(refuse)).toEqual([['bulwark-validator', 'kong.log.set_serialize_value']]);
      // The guard runs inside Kong: the same RPCs with and without it.
      expect(pass.report.rpcCalls).toBe(barePass.report.rpcCalls);
      expect(refuse.report.rpcCalls).toBe(bareRefuse.report.rpcCalls);
      console.log(
        `bulwark-validator RPC round trips: pass ${pass.report.rpcCalls} (1 of them the decision record), refusal ${refuse.report.rpcCalls}`,
      );
    } finally {
      await guarded.stop();
      await bare.stop();
    }
  });
});

test('emulator: a Lua error in a Lua plugin wrapping an access handler is Kong 500 (coroutine dies), not a crash', async () => {
  // spec/fixtures/lua-plugins/bad-exit wraps bulwark-validator's access and calls kong.response.exit(999):
  // kong/pdk/response.lua raises "code must be a number between 100 and 599"; kong/init.lua turns it into a 500.
  const gw = await startGateway({
    plugins: ['bulwark-validator'],
    luaPlugins: ['bad-exit'],
    luaPluginsRoot: path.join(__dirname, '..', '..', 'fixtures', 'lua-plugins'),
  });
  try {
    gw.configure(CONFIG.replace(/ {2}- name: bulwark-jwt[\s\S]*?(?= {2}- name: bulwark-validator)/, ''));
    const res = await gw.kong.request({
      path: '/validated/x',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":1}',
    });
    expect(res.status).toBe(500);
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(res.report.luaErrors.map((e) => e.message).join()).toMatch(/code must be a number between 100 and 599/);
  } finally {
    await gw.stop();
  }
});
