import * as fs from 'node:fs';
import * as path from 'node:path';
import { editResult, serializeValue } from '../../kong/emulator/serialize';
import {
  buildSecurityEvent,
  decisionRecord,
  decisionRecordKey,
  decisionRecordsFromEntry,
  parseDecisionRecord,
  rejectDecision,
  writeDecisionRecord,
  DECIDING_PLUGINS,
  type RequestFacts,
} from '../../plugins/lib/security-event';

describe('decision records', () => {
  it('allow, deny, error and monitor-deny records carry the documented fields only', () => {
    expect(decisionRecord('allow')).toEqual({ decision: 'allow', reason: 'allowed', mode: 'enforce' });
    expect(decisionRecord('deny', { reason: 'token_expired', rule_id: 'exp' }, 401)).toEqual({
      decision: 'deny',
      reason: 'token_expired',
      rule_id: 'exp',
      status: 401,
      mode: 'enforce',
    });
    expect(decisionRecord('monitor-deny', { reason: 'would_block' }).mode).toBe('monitor');
    expect(rejectDecision(503)).toBe('error');
    expect(rejectDecision(429)).toBe('deny');
  });

  it('a malformed reason code becomes "unspecified" (never free text in the events)', () => {
    expect(decisionRecord('deny', { reason: 'Token expired: exp=123' }).reason).toBe('unspecified');
    expect(decisionRecord('deny', { reason: 'x'.repeat(65) }).reason).toBe('unspecified');
    expect(decisionRecord('deny').reason).toBe('unspecified');
  });

  it('reads back what crossed Lua, the legacy "allow" string, and refuses anything else', () => {
    const rec = decisionRecord('deny', { reason: 'rate_limited', rule_id: 'r' }, 429);
    expect(parseDecisionRecord(JSON.parse(JSON.stringify(rec)))).toEqual(rec);
    expect(parseDecisionRecord('allow')).toEqual(decisionRecord('allow'));
    expect(parseDecisionRecord('deny')).toBeUndefined();
    expect(parseDecisionRecord({ decision: 'maybe', reason: 'x' })).toBeUndefined();
    expect(parseDecisionRecord({ decision: 'deny', reason: 'Bad Reason' })).toBeUndefined();
    expect(parseDecisionRecord([])).toBeUndefined();
    expect(parseDecisionRecord(null)).toBeUndefined();
    expect(parseDecisionRecord({ decision: 'deny', reason: 'x', status: 'no' })).toEqual({
      decision: 'deny',
      reason: 'x',
      mode: 'enforce',
    });
  });

  it('lists every Bulwark plugin directory (audit reads exactly these records)', () => {
    const dirs = fs
      .readdirSync(path.join(__dirname, '..', '..', 'plugins'))
      .filter((d) => d.startsWith('bulwark-'))
      .sort();
    for (const d of dirs) expect(DECIDING_PLUGINS).toContain(d);
    expect(new Set(DECIDING_PLUGINS).size).toBe(DECIDING_PLUGINS.length);
  });
});

test('"no operation" (null) is stored as false, which survives a Lua table (a nil field does not), and reads back as null', async () => {
  const stored: unknown[] = [];
  const kong = { log: { setSerializeValue: (_k: string, v: unknown) => (stored.push(v), Promise.resolve()) } };
  await writeDecisionRecord(kong as never, 'bulwark-validator', decisionRecord('allow', { operation: null }));
  expect(stored[0]).toMatchObject({ decision: 'allow', operation: false });
  expect(parseDecisionRecord(stored[0])!.operation).toBeNull();
  // A record without the field says nothing about the operation.
  expect(parseDecisionRecord({ decision: 'allow', reason: 'allowed' })!.operation).toBeUndefined();
  const op = { id: 'getOrder', path_template: '/orders/{id}', deprecated: true };
  await writeDecisionRecord(kong as never, 'bulwark-validator', decisionRecord('allow', { operation: op }));
  expect(parseDecisionRecord(stored[1])!.operation).toEqual(op);
});

describe('records in the serialized log entry (kong.log.set_serialize_value)', () => {
  // kong/pdk/log.lua 3.9.3 edit_result (lines 708-755) splits the key on "." and creates sub-tables: every record
  // lands under `bulwark.decisions`, next to Kong's own fields (the emulator's editResult follows it).
  const entryWith = (...writes: [string, unknown][]) =>
    JSON.parse(
      JSON.stringify(
        editResult(
          { request: { uri: '/x' }, response: { status: 200 } },
          writes.map(([k, v]) => serializeValue(k, v, undefined)),
        ),
      ),
    ) as Record<string, unknown>;

  it('one key per plugin under bulwark.decisions; read back in DECIDING_PLUGINS order; the last write wins', () => {
    expect(decisionRecordKey('bulwark-jwt')).toBe('bulwark.decisions.bulwark-jwt');
    const deny = decisionRecord('deny', { reason: 'rate_limited' }, 429);
    const entry = entryWith(
      [decisionRecordKey('bulwark-rate-limit'), decisionRecord('allow')],
      [decisionRecordKey('bulwark-jwt'), decisionRecord('allow')],
      [decisionRecordKey('bulwark-rate-limit'), deny],
    );
    expect(entry.bulwark).toEqual({
      decisions: { 'bulwark-jwt': decisionRecord('allow'), 'bulwark-rate-limit': deny },
    });
    expect(entry.request).toEqual({ uri: '/x' });
    expect(decisionRecordsFromEntry(entry)).toEqual([
      ['bulwark-jwt', decisionRecord('allow')],
      ['bulwark-rate-limit', deny],
    ]);
  });

  it('skips unknown names and malformed records; no bulwark object: no records', () => {
    const entry = entryWith(
      ['bulwark.decisions.not-bulwark', decisionRecord('allow')],
      [decisionRecordKey('bulwark-jwt'), { decision: 'maybe', reason: 'x' }],
      [decisionRecordKey('bulwark-authz'), decisionRecord('deny', { reason: 'authz_denied' }, 403)],
    );
    expect(decisionRecordsFromEntry(entry).map(([p]) => p)).toEqual(['bulwark-authz']);
    expect(decisionRecordsFromEntry({ request: {} })).toEqual([]);
    expect(decisionRecordsFromEntry({ bulwark: 'x' })).toEqual([]);
    expect(decisionRecordsFromEntry({ bulwark: { decisions: [] } })).toEqual([]);
    expect(decisionRecordsFromEntry(null)).toEqual([]);
  });
});

describe('buildSecurityEvent', () => {
  const facts: RequestFacts = {
    startedAt: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    requestId: 'req-1',
    method: 'GET',
    host: 'api.example.com',
    path: '/orders/7?apikey=secret',
    responseStatus: 200,
    route: { id: 'r1', name: 'orders' },
    clientIp: '203.0.113.9',
  };

  it('builds the contract shape: ISO time, path without query, status from the record or the response', () => {
    const deny = buildSecurityEvent('bulwark-jwt', decisionRecord('deny', { reason: 'token_expired' }, 401), facts);
    expect(deny).toEqual({
      timestamp: '2026-01-02T03:04:05.678Z',
      request_id: 'req-1',
      plugin: 'bulwark-jwt',
      decision: 'deny',
      reason: 'token_expired',
      status: 401,
      mode: 'enforce',
      route: { id: 'r1', name: 'orders' },
      client_ip: '203.0.113.9',
      http: { method: 'GET', host: 'api.example.com', path: '/orders/7' },
    });
    expect(JSON.stringify(deny)).not.toContain('secret');
    expect(buildSecurityEvent('bulwark-jwt', decisionRecord('allow'), facts).status).toBe(200);
  });
});
