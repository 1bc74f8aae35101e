// Instance start never compiles the rule set on the spot: Kong's StartInstance (the plugin's constructor) returns
// while the rules compile in slices that give the event loop back, and requests that arrive meanwhile are refused
// with 503 and a reason in the log (fail closed), or let through unscanned with a warning when the operator chose
// on_rules_not_ready: allow. The start-up cost against a trivial plugin is a ratio in scripts/bench/threat-start.ts.
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Plugin } from '../../../plugins/bulwark-threat-protection';
import type { ThreatProtectionConfig } from '../../../plugins/bulwark-threat-protection/config';
import { access } from '../../../plugins/bulwark-threat-protection/handler';
import { REASON } from '../../../plugins/bulwark-threat-protection/reasons';
import { phaseContext } from '../../../plugins/lib/plugin';
import { fakeKong } from '../../lib/fake-kong';

const RECORD_KEY = 'bulwark.decisions.bulwark-threat-protection';
const CRS4 = join(__dirname, '../../fixtures/crs4/rules');
const SQL = 'REQUEST-942-APPLICATION-ATTACK-SQLI.conf';

/** A CRS 4 copy with content no other test compiled: the process-wide cache cannot have it ready. */
function freshCopy(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-crs-start-'));
  cpSync(CRS4, dir, { recursive: true });
  appendFileSync(join(dir, SQL), `\n# ${tag} ${process.pid} ${Date.now()}\n`);
  return dir;
}

const request = () =>
  fakeKong({
    'request.getMethod': () => 'GET',
    'request.getPathWithQuery': () => "/search?q=1' UNION SELECT password FROM users--",
    'request.getHeaders': () => ({ host: ['api.example'] }),
    'ctx.shared.get': () => undefined,
  });

const logLines = (fake: ReturnType<typeof fakeKong>) =>
  fake.calls
    .filter(([n]) => n.startsWith('log.') && n !== 'log.setSerializeValue') // log lines, not the decision record
    .map(([, args]) => JSON.parse(String(args[0])) as Record<string, unknown>);

describe('instance start with a rule set not compiled yet', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('the constructor returns before compiling; the event loop keeps turning; requests meanwhile get 503', async () => {
    const dir = freshCopy('refuse');
    dirs.push(dir);
    const instance = new Plugin({ crs_path: dir, rule_families: ['942'] });
    const conf = instance.conf;
    expect(conf.rules.status).toBe('compiling');

    // Timers fire while the rules compile: the build gives the loop back between slices.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const during = request();
    await access(phaseContext('bulwark-threat-protection', during.kong, conf));
    expect(during.exit?.status).toBe(503);
    expect(during.calls.map(([n]) => n)).not.toContain('request.getPathWithQuery'); // nothing read, nothing passed
    expect(logLines(during)).toEqual([
      expect.objectContaining({ event: 'request_refused', reason: REASON.rulesNotReady, status: 503 }),
    ]);
    expect(during.calls).toContainEqual([
      'log.setSerializeValue',
      [RECORD_KEY, expect.objectContaining({ decision: 'error', reason: REASON.rulesNotReady, status: 503 })],
    ]);

    await conf.rules.ready;
    clearInterval(timer);
    expect(conf.rules.stats.slices).toBeGreaterThan(10);
    expect(ticks).toBeGreaterThan(0);

    const after = request();
    await access(phaseContext('bulwark-threat-protection', after.kong, conf));
    expect(after.exit?.status).toBe(403);
    expect(logLines(after)).toEqual([expect.objectContaining({ reason: REASON.threatDetected })]);
  }, 120_000);

  test('on_rules_not_ready allow: passed unscanned with a warning, only while compiling', async () => {
    const dir = freshCopy('allow');
    dirs.push(dir);
    const instance = new Plugin({ crs_path: dir, rule_families: ['942'], on_rules_not_ready: 'allow' });
    const conf: ThreatProtectionConfig = instance.conf;
    const during = request();
    await (instance as unknown as { access(k: unknown): Promise<void> }).access(during.kong);
    expect(during.exit).toBeUndefined();
    expect(logLines(during)).toEqual([
      expect.objectContaining({ event: 'request_passed_unscanned', reason: REASON.passedUnscanned }),
    ]);
    // The record bulwark-guard and bulwark-audit read says it passed unscanned, not that it was scanned and allowed.
    expect(during.calls).toContainEqual([
      'log.setSerializeValue',
      [RECORD_KEY, expect.objectContaining({ decision: 'allow', reason: REASON.passedUnscanned })],
    ]);
    await conf.rules.ready;
    const after = request();
    await access(phaseContext('bulwark-threat-protection', after.kong, conf));
    expect(after.exit?.status).toBe(403);
  }, 120_000);

  test('a rule set that fails to compile: 503 with the error in the log, and the next instance start tries again', async () => {
    const dir = freshCopy('broken');
    dirs.push(dir);
    appendFileSync(join(dir, SQL), '\nSecRule ARGS "@rx an unterminated argument\n');
    const conf: ThreatProtectionConfig = new Plugin({ crs_path: dir, rule_families: ['942'] }).conf;
    await expect(conf.rules.ready).rejects.toThrow('unterminated double-quoted argument');
    expect(conf.rules.status).toBe('failed');
    const fake = request();
    await access(phaseContext('bulwark-threat-protection', fake.kong, conf));
    expect(fake.exit?.status).toBe(503);
    expect(logLines(fake)).toEqual([expect.objectContaining({ reason: REASON.rulesFailed, status: 503 })]);
    await new Promise((resolve) => setImmediate(resolve));
    const again: ThreatProtectionConfig = new Plugin({ crs_path: dir, rule_families: ['942'] }).conf;
    expect(again.rules).not.toBe(conf.rules);
    await expect(again.rules.ready).rejects.toThrow('unterminated');
  }, 120_000);
});
