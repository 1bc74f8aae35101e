// The decision records ride in Kong's serialized log entry (`bulwark.decisions.<plugin>`, written with
// kong.log.set_serialize_value: kong/pdk/log.lua 3.9.3 lines 636-662, applied by edit_result lines 708-755), so
// Kong's own log plugins (file-log here, emulated) carry them, and bulwark-audit's log phase reads them all from
// its one kong.log.serialize (kong/runloop/plugin_servers/plugin.lua 3.9.3 lines 47-50: the entry saved when the
// log phase started, line 163). Both plugin servers; a real echo upstream.
import * as path from 'node:path';
import type { EmulatedResponse } from '../../../kong/emulator/kong';
import { issueKey } from '../../../plugins/bulwark-api-key/key-admin';
import { generateKey } from '../../../plugins/bulwark-api-key/key-format';
import { serializeKeyRecord } from '../../../plugins/bulwark-api-key/key-record';
import {
  afterAllNoFailOpen,
  startGateway,
  waitFor,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  type Gateway,
} from '../../helpers/emulator';
import { auditEventsFile, readJsonLines } from '../../helpers/jsonl';
import { epochSeconds, hs256Token } from '../../helpers/hs256';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const { dir, file: eventsFile, readEvents } = auditEventsFile('bulwark-serialized-');
const fileLog = path.join(dir, 'file-log.jsonl');
let gw: Gateway | undefined;

const SECRET = 'an-hs256-secret-of-at-least-32-bytes!';
const token = (secret = SECRET) =>
  hs256Token({ iss: 'hs-issuer', aud: 'api', sub: 'user-7', exp: epochSeconds(300) }, secret);
const key = issueKey({ prefix: 'bwk_test', id: 'svc-1', scopes: ['orders:read'] }, Date.now());

/** The fields a decision record may carry (lib/security-event.ts DecisionRecord): codes, ids, fingerprints. */
const RECORD_FIELDS = ['decision', 'reason', 'rule_id', 'status', 'mode', 'operation', 'credential_fingerprint'];

type Entry = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const entries = (): Entry[] => readJsonLines<Entry>(fileLog);
const entryFor = (uriPrefix: string): Entry => entries().find((e) => String(e.request.uri).startsWith(uriPrefix))!;

beforeAll(async () => {
  const plugins = ['bulwark-audit', 'bulwark-jwt', 'bulwark-api-key'];
  gw = await startGateway({ plugins, fileLogPath: fileLog });
  gw.configure(`
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - name: both
        paths: ["/both"]
        plugins:
          - name: bulwark-jwt
            config: { issuers: [{ issuer: hs-issuer, secrets: ["${SECRET}"], algorithms: [HS256], audiences: [api] }] }
          - name: bulwark-api-key
            config:
              key_prefixes: [bwk_test]
              key_in_query: true
              key_names: [apikey, x-api-key]
              lockout: { enabled: false }
              keys: ${JSON.stringify([serializeKeyRecord(key.record)])}
      - name: open
        paths: ["/open"]
plugins:
  - name: bulwark-audit
    config:
      decisions: [allow, deny, error, monitor-deny]
      sinks:
        file: { path: ${JSON.stringify(eventsFile)} }
`);
}, 120_000);

afterAllNoFailOpen(() => [gw]);

async function send(uri: string, headers: Record<string, string>): Promise<EmulatedResponse> {
  const res = await gw!.kong.request({ path: uri, headers });
  await res.report.logDone;
  await waitFor(() => entryFor(uri.split('?')[0]!) !== undefined, 10_000); // the entry's query is redacted
  return res;
}

test("every decision record is in Kong's serialized entry under bulwark.decisions, with the documented fields only", async () => {
  const jwt = token();
  const res = await send(`/both/a?apikey=${key.key}`, { authorization: `Bearer ${jwt}` });
  expect(res.status).toBe(200);
  const entry = entryFor('/both/a');
  const decisions = entry.bulwark.decisions as Record<string, Record<string, unknown>>;
  expect(Object.keys(entry.bulwark)).toEqual(['decisions']);
  expect(Object.keys(decisions).sort()).toEqual(['bulwark-api-key', 'bulwark-audit', 'bulwark-jwt']);
  for (const record of Object.values(decisions)) {
    expect(record).toMatchObject({ decision: 'allow', reason: 'allowed', mode: 'enforce' });
    for (const field of Object.keys(record)) expect(RECORD_FIELDS).toContain(field);
  }
  // A request no Bulwark plugin decided on but bulwark-audit (global): its own record only.
  await send('/open/x', {});
  expect(Object.keys(entryFor('/open/x').bulwark.decisions)).toEqual(['bulwark-audit']);
});

test('no credential in the serialized entry: an API key in query and header and a bearer token, accepted and refused', async () => {
  const jwt = token();
  const badKey = generateKey('bwk_test');
  const forged = token('another-secret-of-at-least-32-bytes!!');
  const inQuery = await send(`/both/ok-q?apikey=${key.key}`, { authorization: `Bearer ${jwt}` });
  const inHeader = await send('/both/ok-h', { authorization: `Bearer ${jwt}`, 'x-api-key': key.key });
  const badKeyRes = await send(`/both/badkey?apikey=${badKey}`, { authorization: `Bearer ${jwt}` });
  const badToken = await send('/both/badtoken', { authorization: `Bearer ${forged}`, 'x-api-key': key.key });
  expect([inQuery.status, inHeader.status, badKeyRes.status, badToken.status]).toEqual([200, 200, 401, 401]);
  const secrets = [key.key, badKey, jwt, forged, ...[jwt, forged].flatMap((t) => t.split('.'))];
  for (const uri of ['/both/ok-q', '/both/ok-h', '/both/badkey', '/both/badtoken']) {
    const entry = entryFor(uri);
    expect(entry.bulwark.decisions).toBeDefined();
    const whole = JSON.stringify(entry);
    const bulwark = JSON.stringify(entry.bulwark);
    for (const secret of secrets) {
      expect(bulwark).not.toContain(secret);
      expect(whole).not.toContain(secret); // bulwark-audit redacts Kong's own copies (README "Redaction")
    }
  }
  expect(entryFor('/both/badkey').bulwark.decisions['bulwark-api-key']).toMatchObject({
    decision: 'deny',
    status: 401,
  });
  expect(entryFor('/both/badtoken').bulwark.decisions['bulwark-jwt']).toMatchObject({ decision: 'deny', status: 401 });
});

test("bulwark-audit's log phase: the events come from the one kong.log.serialize; 2 round trips (serialize + identity)", async () => {
  const res = await send(`/both/rpc?apikey=${key.key}`, { authorization: `Bearer ${token()}` });
  expect(res.status).toBe(200);
  const audit = res.report.pdkCalls.filter(([p]) => p === 'bulwark-audit').map(([, m]) => m);
  const logPhase = audit.slice(audit.lastIndexOf('kong.log.set_serialize_value') + 1);
  expect(logPhase).toEqual(['kong.log.serialize', 'kong.ctx.shared.get']);
  await waitFor(() => readEvents().filter((e) => e.http.path === '/both/rpc').length === 3, 10_000);
  expect(
    readEvents()
      .filter((e) => e.http.path === '/both/rpc')
      .map((e) => [e.plugin, e.decision])
      .sort(),
  ).toEqual([
    ['bulwark-api-key', 'allow'],
    ['bulwark-audit', 'allow'],
    ['bulwark-jwt', 'allow'],
  ]);
});
