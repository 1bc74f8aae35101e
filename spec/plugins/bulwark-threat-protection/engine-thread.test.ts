// The CRS engine runs in a thread of its own (plugins/bulwark-threat-protection/engine-load.ts): the plugin server's
// event loop only posts the request as read (the thread builds the request model) and awaits the verdict. When the thread dies, the scans in flight end in
// 503 scan_failed (never a pass), a new thread builds the rules again (503 rules_not_ready meanwhile), and scans
// resume; a flood of scans beyond MAX_PENDING_SCANS is refused rather than queued without bound.
import { isMainThread } from 'node:worker_threads';
import { join } from 'node:path';
import { Plugin } from '../../../plugins/bulwark-threat-protection';
import type { ThreatProtectionConfig } from '../../../plugins/bulwark-threat-protection/config';
import {
  MAX_PENDING_SCANS,
  terminateEngineThreadForTests,
} from '../../../plugins/bulwark-threat-protection/engine-load';
import { access } from '../../../plugins/bulwark-threat-protection/handler';
import { REASON } from '../../../plugins/bulwark-threat-protection/reasons';
import { phaseContext } from '../../../plugins/lib/plugin';
import { fakeKong } from '../../lib/fake-kong';
import { waitFor } from '../../helpers/emulator';

const CRS4 = join(__dirname, '../../fixtures/crs4/rules');

const attack = () =>
  fakeKong({
    'request.getMethod': () => 'GET',
    'request.getPathWithQuery': () => "/search?q=1' UNION SELECT password FROM users--",
    'request.getHeaders': () => ({ host: ['api.example'] }),
  });

const logLines = (fake: ReturnType<typeof fakeKong>) =>
  fake.calls
    .filter(([n]) => n.startsWith('log.') && n !== 'log.setSerializeValue')
    .map(([, args]) => JSON.parse(String(args[0])) as Record<string, unknown>);

describe('the engine thread', () => {
  let conf: ThreatProtectionConfig;
  beforeAll(async () => {
    conf = new Plugin({ crs_path: CRS4, rule_families: ['942'], paranoia_level: 1 }).conf;
    await conf.rules.ready;
  }, 120_000);

  test('scores off the main thread: the verdict comes back over a message', async () => {
    expect(isMainThread).toBe(true);
    const fake = attack();
    await access(phaseContext('bulwark-threat-protection', fake.kong, conf));
    expect(fake.exit?.status).toBe(403);
  });

  test('a thread that dies fails the scan in flight (503 scan_failed), then the rules are built again', async () => {
    const stopping = terminateEngineThreadForTests(); // the scan below is posted before the thread's exit is seen
    const inFlight = attack();
    await access(phaseContext('bulwark-threat-protection', inFlight.kong, conf));
    await stopping;
    expect(inFlight.exit?.status).toBe(503);
    expect(logLines(inFlight)).toEqual([
      expect.objectContaining({ event: 'request_refused', reason: REASON.scanFailed, status: 503 }),
    ]);
    expect(String(logLines(inFlight)[0]!.error)).toMatch(/engine thread exited/);

    // A new thread compiles the rules again; meanwhile requests are refused as at instance start.
    expect(conf.rules.status).toBe('compiling');
    const meanwhile = attack();
    await access(phaseContext('bulwark-threat-protection', meanwhile.kong, conf));
    expect(meanwhile.exit?.status).toBe(503);
    expect(logLines(meanwhile)).toEqual([expect.objectContaining({ reason: REASON.rulesNotReady })]);

    await waitFor(() => conf.rules.status === 'ready', 120_000);
    const after = attack();
    await access(phaseContext('bulwark-threat-protection', after.kong, conf));
    expect(after.exit?.status).toBe(403);
  }, 180_000);

  test(`more than ${MAX_PENDING_SCANS} scans waiting at once: the rest are refused, not queued`, async () => {
    const request = { method: 'GET', pathWithQuery: '/search?q=hello', headers: {} };
    const outcomes = await Promise.allSettled(
      Array.from({ length: MAX_PENDING_SCANS + 50 }, () => conf.rules.scan(request, conf)),
    );
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.length).toBe(50);
    expect(String((refused[0] as PromiseRejectedResult).reason)).toMatch(/scans already wait/);
    const passed = outcomes.filter((o) => o.status === 'fulfilled' && o.value.ok && o.value.evaluation.score === 0);
    expect(passed.length).toBe(MAX_PENDING_SCANS);
  }, 60_000);

  test('instances that share an engine keep their own scan limits in the thread', async () => {
    const small = new Plugin({
      crs_path: CRS4,
      rule_families: ['942'],
      paranoia_level: 1,
      limits: { max_value_bytes: 64 },
    }).conf;
    expect(small.rules).toBe(conf.rules); // one engine: only the request model's limits differ
    const request = { method: 'GET', pathWithQuery: `/search?q=${'a'.repeat(100)}`, headers: {} };
    for (let i = 0; i < 2; i++) {
      // Twice each, interleaved: the options travel with a profile's first scan only.
      expect(await conf.rules.scan(request, conf)).toMatchObject({ ok: true, evaluation: { score: 0 } });
      expect(await small.rules.scan(request, small)).toMatchObject({
        ok: false,
        status: 413,
        reason: REASON.scanLimitExceeded,
        detail: 'ARGS_GET:q is longer than 64 bytes',
      });
    }
  });

  test('a scan that reaches the thread before its engine is built fails, and the next scans still have its options', async () => {
    // Paranoia level 2: another engine of the same (cached) rule set, built from this instance start on.
    const other = new Plugin({ crs_path: CRS4, rule_families: ['942'], paranoia_level: 2 }).conf;
    const request = { method: 'GET', pathWithQuery: "/search?q=1' UNION SELECT password FROM users--", headers: {} };
    await expect(other.rules.scan(request, other)).rejects.toThrow('the rule set is not built in the engine thread');
    await other.rules.ready;
    const after = await other.rules.scan(request, other);
    expect(after.ok && after.evaluation.score).toBeGreaterThanOrEqual(5);
  });

  test("the body's bytes reach the thread as a copy: the buffer the caller's bytes are a view into stays intact", async () => {
    // The RPC decoder hands the body over as a view into its read buffer, which still holds the messages after it:
    // transferring that buffer to the thread would detach them.
    const bytes = Buffer.from(JSON.stringify({ q: "1' UNION SELECT password FROM users--" }));
    const readBuffer = new Uint8Array(bytes.length + 64);
    readBuffer.set(bytes, 32);
    readBuffer.fill(7, 32 + bytes.length);
    const body = readBuffer.subarray(32, 32 + bytes.length);
    const headers = { 'content-type': ['application/json'] };
    const result = await conf.rules.scan({ method: 'POST', pathWithQuery: '/orders', headers, body }, conf);
    expect(result.ok && result.evaluation.score).toBeGreaterThanOrEqual(5);
    expect(readBuffer.byteLength).toBe(bytes.length + 64);
    expect(Buffer.from(body).toString()).toContain('UNION SELECT');
    expect(readBuffer[readBuffer.length - 1]).toBe(7);
  });
});
