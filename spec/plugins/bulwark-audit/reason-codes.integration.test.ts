// Every deciding plugin passes its documented reason code to reject (or ctx.record): a refusal's security event,
// built by bulwark-audit's log phase from the plugin's decision record, carries the code (and the rule id where
// there is one). The Kong emulator with the real plugin server (both servers); events go to a JSON-lines file.
import { API_KEY_REASONS } from '../../../plugins/bulwark-api-key';
import { AUTHZ_REASONS } from '../../../plugins/bulwark-authz';
import { JWT_REASONS } from '../../../plugins/bulwark-jwt';
import { RATE_LIMIT_REASONS } from '../../../plugins/bulwark-rate-limit';
import { TRANSPORT_REASONS } from '../../../plugins/bulwark-transport';
import { VALIDATOR_REASONS } from '../../../plugins/bulwark-validator';
import {
  afterAllNoFailOpen,
  startGateway,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
  type Gateway,
} from '../../helpers/emulator';
import { auditEventsFile } from '../../helpers/jsonl';
import { epochSeconds, hs256Token } from '../../helpers/hs256';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const { file: eventsFile, readEvents, eventFor } = auditEventsFile('bulwark-reasons-');
let gw: Gateway | undefined;

const SECRET = 'an-hs256-secret-of-at-least-32-bytes!';
const forgedToken = () =>
  hs256Token(
    { iss: 'hs-issuer', aud: 'api', sub: 'a', exp: epochSeconds(60) },
    'another-secret-of-at-least-32-bytes!!',
  );

beforeAll(async () => {
  const plugins = [
    'bulwark-audit',
    'bulwark-transport',
    'bulwark-jwt',
    'bulwark-api-key',
    'bulwark-authz',
    'bulwark-rate-limit',
    'bulwark-validator',
  ];
  gw = await startGateway({ plugins });
  gw.configure(`
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - name: transport
        paths: ["/transport"]
        plugins:
          - { name: bulwark-transport, config: { allowed_hosts: [a.example], https: { enforce: false } } }
      - name: jwt
        paths: ["/jwt"]
        plugins:
          - name: bulwark-jwt
            config: { issuers: [{ issuer: hs-issuer, secrets: ["${SECRET}"], algorithms: [HS256], audiences: [api] }] }
      - name: key
        paths: ["/key"]
        plugins:
          - { name: bulwark-api-key, config: { key_prefixes: [bwk_test] } }
      - name: authz
        paths: ["/authz"]
        plugins:
          - name: bulwark-authz
            config: { rules: [{ name: read-a, methods: [GET], path: /authz/a, scopes_all: [read] }] }
      - name: limited
        paths: ["/limited"]
        plugins:
          - { name: bulwark-rate-limit, config: { limit_by: [ip], limits: [{ name: minute, limit: 1, window_seconds: 60 }] } }
      - name: validated
        paths: ["/validated"]
        plugins:
          - name: bulwark-validator
            config:
              openapi:
                unknown_operations: reject
                spec: |
                  openapi: 3.0.3
                  info: { title: t, version: "1" }
                  paths:
                    /validated/items:
                      get:
                        parameters:
                          - { name: limit, in: query, schema: { type: integer, maximum: 100 } }
                        responses: { "200": { description: ok } }
plugins:
  - name: bulwark-audit
    config:
      decisions: [deny, error, monitor-deny]
      sinks:
        file: { path: ${JSON.stringify(eventsFile)} }
`);
}, 180_000);

afterAllNoFailOpen(() => [gw]);

test('bulwark-transport: a host outside allowed_hosts → 421, reason misdirected_host', async () => {
  const res = await gw!.send({ path: '/transport/x', headers: { host: 'b.example' } });
  expect(res.status).toBe(421);
  expect(await eventFor('bulwark-transport', '/transport/x')).toMatchObject({
    decision: 'deny',
    status: 421,
    reason: TRANSPORT_REASONS.misdirectedHost,
  });
});

test('bulwark-jwt: no token → missing_token; a forged signature → signature_invalid', async () => {
  expect((await gw!.send({ path: '/jwt/none' })).status).toBe(401);
  const forged = await gw!.send({ path: '/jwt/forged', headers: { authorization: `Bearer ${forgedToken()}` } });
  expect(forged.status).toBe(401);
  expect(await eventFor('bulwark-jwt', '/jwt/none')).toMatchObject({ reason: JWT_REASONS.missingToken, status: 401 });
  expect(await eventFor('bulwark-jwt', '/jwt/forged')).toMatchObject({ reason: JWT_REASONS.signatureInvalid });
});

test('bulwark-api-key: no key → missing; a value that is not a key → malformed', async () => {
  expect((await gw!.send({ path: '/key/none' })).status).toBe(401);
  const other = await gw!.send({
    path: '/key/other',
    headers: { 'x-api-key': 'zzz_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
  });
  expect(other.status).toBe(401);
  expect(await eventFor('bulwark-api-key', '/key/none')).toMatchObject({ reason: API_KEY_REASONS.missing });
  expect(await eventFor('bulwark-api-key', '/key/other')).toMatchObject({ reason: API_KEY_REASONS.malformed });
});

test('bulwark-authz: no rule for the operation → no_rule_for_operation; an anonymous caller → unauthenticated + rule id', async () => {
  expect((await gw!.send({ path: '/authz/b' })).status).toBe(403);
  expect((await gw!.send({ path: '/authz/a' })).status).toBe(403);
  expect(await eventFor('bulwark-authz', '/authz/b')).toMatchObject({ reason: AUTHZ_REASONS.noRuleForOperation });
  expect(await eventFor('bulwark-authz', '/authz/a')).toMatchObject({
    reason: AUTHZ_REASONS.unauthenticated,
    rule_id: 'read-a',
  });
});

test('bulwark-rate-limit: over the limit → rate_limited, rule id = the limit name', async () => {
  expect((await gw!.send({ path: '/limited/1' })).status).toBe(200);
  expect((await gw!.send({ path: '/limited/2' })).status).toBe(429);
  expect(await eventFor('bulwark-rate-limit', '/limited/2')).toMatchObject({
    reason: RATE_LIMIT_REASONS.rateLimited,
    rule_id: 'minute',
    status: 429,
  });
});

test('bulwark-validator: a parameter over its maximum → validation_failed, rule id maximum; an undocumented path → no_operation', async () => {
  expect((await gw!.send({ path: '/validated/items?limit=1000' })).status).toBe(400);
  expect((await gw!.send({ path: '/validated/other' })).status).toBe(404);
  expect(await eventFor('bulwark-validator', '/validated/items')).toMatchObject({
    reason: VALIDATOR_REASONS.validationFailed,
    rule_id: 'maximum',
  });
  expect(await eventFor('bulwark-validator', '/validated/other')).toMatchObject({
    reason: VALIDATOR_REASONS.noOperation,
  });
});

test('no refusal in this suite reads unspecified', () => {
  expect(readEvents().filter((e) => e.reason === 'unspecified')).toEqual([]);
});
