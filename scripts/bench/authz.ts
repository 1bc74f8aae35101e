#!/usr/bin/env node
// bulwark-authz decision cost, side by side in one run:
//   indexed — decide(): the rules of the request's operation found through the method + path-segment trie
//   linear  — the same rules, each template matched against the path in turn (what a matcher without an index
//             does), then the same evaluation of the matching rules
// for a 200-rule table (200 operations: /svc{i}/items/{id} GET with a BOLA condition, and a scope rule per POST),
// requests spread over the table. Rounds alternate the two so machine noise hits both alike; medians printed, with
// the ratio linear/indexed. Then the round trips to Kong per request, through the emulator and the real plugin
// server (allowed and refused).
// Usage: node dist/js/scripts/bench/authz.js [requestsPerRound=20000] [rounds=7]
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { KongEmulator } from '../../kong/emulator/kong';
import { compileTemplate, matchTemplate, normalizePathSegments } from '../../plugins/bulwark-validator/path-router';
import { parseAuthzConfig, type AuthzRule } from '../../plugins/bulwark-authz/config';
import { decide, ruleHolds, type RequestFacts } from '../../plugins/bulwark-authz/decide';
import { identityRecord } from '../../plugins/lib/identity';
import { percentDecode } from '../../plugins/lib/percent-encoding';
import { median } from './stats';

const perRound = Number(process.argv[2] ?? 20000);
const rounds = Number(process.argv[3] ?? 7);
const OPERATIONS = 100;

const rules: Record<string, unknown>[] = [];
for (let i = 0; i < OPERATIONS; i++) {
  rules.push({
    name: `read-${i}`,
    methods: ['GET'],
    path: `/svc${i}/items/{id}`,
    objects: [{ param: 'id', equals: 'subject' }],
  });
  rules.push({ name: `write-${i}`, methods: ['POST'], path: `/svc${i}/items`, scopes_all: ['items:write'] });
}
const conf = parseAuthzConfig({ rules });
const identity = identityRecord({
  authenticated: true,
  authenticatedBy: 'bench',
  method: 'jwt',
  subject: 'alice',
  scopes: ['items:write'],
});

const compiled = conf.rules.map((r) => ({ rule: r, template: compileTemplate(r.template) }));
function linearDecide(facts: RequestFacts): string {
  const segments = normalizePathSegments(facts.path)!;
  const matched: { rule: AuthzRule; params: Record<string, string> }[] = [];
  for (const c of compiled) {
    if (c.rule.methods.length > 0 && !c.rule.methods.includes(facts.method)) continue;
    const raw = matchTemplate(c.template, segments, 0);
    if (raw === undefined) continue;
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) params[k] = percentDecode(v) ?? '';
    matched.push({ rule: c.rule, params });
  }
  for (const m of matched)
    if (m.rule.effect === 'deny' && ruleHolds(m.rule, identity, m.params, facts).ok) return 'deny';
  for (const m of matched)
    if (m.rule.effect === 'allow' && ruleHolds(m.rule, identity, m.params, facts).ok) return 'allow';
  return 'deny';
}

const requests: RequestFacts[] = [];
for (let i = 0; i < 1000; i++) {
  const op = (i * 37) % OPERATIONS;
  const own = i % 3 !== 0;
  requests.push(
    i % 2 === 0
      ? { method: 'GET', path: `/svc${op}/items/${own ? 'alice' : 'bob'}`, query: {}, headers: undefined }
      : { method: 'POST', path: `/svc${op}/items`, query: {}, headers: undefined },
  );
}

function time(f: (r: RequestFacts) => string): number {
  const start = process.hrtime.bigint();
  let allowed = 0;
  for (let i = 0; i < perRound; i++) if (f(requests[i % requests.length]!) === 'allow') allowed++;
  if (allowed === 0) throw new Error('nothing allowed: the bench is broken');
  return Number(process.hrtime.bigint() - start) / perRound; // ns per decision
}

async function roundTrips(): Promise<{ allowed: number; refused: number }> {
  const upstream = await startEchoUpstream(0);
  const node = await KongEmulator.start({ plugins: ['bulwark-authz'] });
  try {
    const yaml = `
_format_version: "3.0"
services:
  - name: api
    url: http://127.0.0.1:${upstream.port}
    routes: [{ name: api, paths: ["/"] }]
plugins:
  - name: bulwark-authz
    config:
      rules: [${rules.map((r) => JSON.stringify({ ...r, caller: 'any', objects: [], scopes_all: [] })).join(', ')}]
`;
    node.setConfig(loadDeclarative(yaml, { knownPlugins: new Set(node.plugins.keys()) }));
    for (let i = 0; i < 4; i++) await node.request({ path: '/svc1/items/x' }); // start the instances
    const allowed = await node.request({ path: '/svc7/items/x' });
    const refused = await node.request({ path: '/nowhere' });
    if (allowed.status !== 200 || refused.status !== 403)
      throw new Error(`unexpected statuses ${allowed.status} ${refused.status}`);
    return {
      allowed: allowed.report.rpcCallsByPlugin['bulwark-authz']!,
      refused: refused.report.rpcCallsByPlugin['bulwark-authz']!,
    };
  } finally {
    await node.stop();
    await upstream.close();
  }
}

async function main(): Promise<void> {
  for (const r of requests)
    if ((decide(conf, identity, r).outcome === 'allow') !== (linearDecide(r) === 'allow'))
      throw new Error('the two disagree');
  const indexed: number[] = [];
  const linear: number[] = [];
  const idx = (r: RequestFacts) => decide(conf, identity, r).outcome;
  for (let round = 0; round < rounds; round++) {
    indexed.push(time(idx));
    linear.push(time(linearDecide));
  }
  const i = median(indexed);
  const l = median(linear);
  process.stdout.write(
    `bulwark-authz decision bench: ${conf.rules.length} rules, ${perRound} decisions x ${rounds} rounds, medians, node ${process.version}\n`,
  );
  process.stdout.write(`indexed (trie)  ${(i / 1000).toFixed(2)} µs/decision\n`);
  process.stdout.write(`linear scan     ${(l / 1000).toFixed(2)} µs/decision\n`);
  process.stdout.write(`linear/indexed  ${(l / i).toFixed(1)}x\n`);
  const rt = await roundTrips();
  process.stdout.write(
    `round trips to Kong per request (HandleEvent + PDK calls): allowed ${rt.allowed}, refused ${rt.refused}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
