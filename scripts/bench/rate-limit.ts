#!/usr/bin/env node
// bulwark-rate-limit measurements, all side by side in one run on one real Redis:
//  1. accuracy: two Kong nodes (two emulators = two plugin-server processes) share one Redis; N concurrent clients of
//     ONE identity burst just before and just after window boundaries, then send continuously. Admitted requests per
//     window and in the worst window-long span, for sliding-window, gcra and fixed-window (the Kong reference:
//     rate-limiting's fixed windows, which admit up to 2x the limit across a boundary).
//  2. decisions/second and latency per decision: Bulwark's script vs rate-limiter-flexible's RateLimiterRedis.
//  3. Redis round trips per request through the gateway, for 1 and 3 configured limits (INFO commandstats deltas).
// Usage: npm run build && node dist/js/scripts/bench/rate-limit.js [decisions=20000] [concurrency=32]
// Never asserts on time; prints ratios measured in the same run.
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { KongEmulator } from '../../kong/emulator/kong';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import type { LimitCheck } from '../../plugins/bulwark-rate-limit/algorithms';
import { runDecideScript } from '../../plugins/bulwark-rate-limit/limiter';
import { parseScriptReply, scriptArgs } from '../../plugins/bulwark-rate-limit/script';
import { startRedisServer } from './redis-server';
import { percentile } from './stats';

// ---------------------------------------------------------------------------------------------- accuracy

/** What the experiment needs of a Kong node. */
export interface Node {
  request: KongEmulator['request'];
}

export type AccuracyAlgorithm = 'sliding-window' | 'gcra' | 'fixed-window';
export const ACCURACY_ALGORITHMS: readonly AccuracyAlgorithm[] = ['sliding-window', 'gcra', 'fixed-window'];

export interface AccuracyOptions {
  nodes: Node[];
  redisPort: number;
  /** Window length (default 2000 ms) and limit per window (default 20). */
  windowMs?: number;
  limit?: number;
  /** Concurrent clients (default 8), spread over the nodes round-robin. */
  clients?: number;
  /** Distinguishes runs sharing a Redis. */
  runId?: string;
}

export interface Admission {
  sentAt: number;
  receivedAt: number;
}

export interface AccuracyRow {
  algorithm: AccuracyAlgorithm;
  limit: number;
  windowMs: number;
  /** Admitted per aligned window, by the midpoint of each request's round trip. */
  perWindow: number[];
  /** Admitted per aligned window counting only requests whose whole round trip lies in the window. */
  perWindowCertain: number[];
  /** Most admitted in any span of one window length (midpoints). */
  maxInAnySpan: number;
  sent: number;
  admitted: number;
  /** gcra only: the largest excess over the exact envelope burst + floor(span/T) (<= 0 means exact). */
  gcraExcess?: number;
  /**
   * The largest excess over the sliding window's stated bound, limit + prev * (hi - b) / W, of any group of
   * admissions certainly inside one window-long span (algorithms.ts). <= 0 means within the stated error. Computed
   * for every algorithm; only sliding-window claims it (fixed-window breaks it at a boundary).
   */
  slidingExcess: number;
  /** Requests that got neither 200 nor 429. */
  errors: number;
}

export function accuracyConfig(redisPort: number, runId: string, windowMs: number, limit: number): string {
  const w = Math.round(windowMs / 1000);
  const plugin = (algo: AccuracyAlgorithm) => `
  - name: bulwark-rate-limit
    route: ${algo}
    config:
      namespace: acc-${runId}-${algo}
      limit_by: [header]
      header_name: x-api-key
      on_redis_error: fail-closed
      limits: [{ name: window, limit: ${limit}, window_seconds: ${w}, algorithm: ${algo} }]
      redis: { mode: standalone, host: 127.0.0.1, port: ${redisPort}, timeout_ms: 2000 }`;
  return `
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
${ACCURACY_ALGORITHMS.map((a) => `      - { name: ${a}, paths: ["/${a}"] }`).join('\n')}
plugins:${ACCURACY_ALGORITHMS.map(plugin).join('')}
`;
}

/** How long before a boundary the first burst starts (a loaded 2-core machine needs ~0.3 s to serve it). */
const BURST_LEAD_MS = 500;

const sleepUntil = (t: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, t - Date.now())));

function maxInSpan(times: number[], span: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= span) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** Largest (admitted in a group) - (burst + floor(span / T)), the span widened to the group's whole round trips. */
function gcraExcess(adm: Admission[], burst: number, emissionMs: number): number {
  const a = [...adm].sort((x, y) => x.sentAt + x.receivedAt - (y.sentAt + y.receivedAt));
  let worst = -Infinity;
  for (let i = 0; i < a.length; i++) {
    let lo = a[i]!.sentAt;
    let hi = a[i]!.receivedAt;
    for (let j = i; j < a.length; j++) {
      lo = Math.min(lo, a[j]!.sentAt);
      hi = Math.max(hi, a[j]!.receivedAt);
      worst = Math.max(worst, j - i + 1 - (burst + Math.floor((hi - lo) / emissionMs + 1e-9)));
    }
  }
  return worst;
}

/**
 * The sliding window's stated bound, checked without trusting any timing: only the round trip [sentAt, receivedAt]
 * of each admission is known to contain its decision (Redis and this process share the machine's clock). A group
 * whose round trips all lie in [lo, hi], hi - lo <= W, was decided within one window-long span. If it straddles the
 * boundary b, the script admitted at most limit - prev * (1 - (t - b) / W) in the new window by decision time
 * t <= hi, and at most prev before b, so the group has at most limit + prev * (hi - b) / W members; prev is bounded
 * above by every admission that may have been decided in the window before b. Returns the largest excess (<= 0: held).
 */
function slidingExcess(adm: Admission[], start: number, windowMs: number, limit: number): number {
  const boundaryAfter = (t: number) => start + Math.floor((t - start) / windowMs + 1) * windowMs;
  let worst = -Infinity;
  for (const first of adm) {
    const lo = first.sentAt;
    const group = adm
      .filter((a) => a.sentAt >= lo && a.receivedAt - lo <= windowMs)
      .sort((x, y) => x.receivedAt - y.receivedAt);
    const b = boundaryAfter(lo);
    const prevUpper = adm.filter((a) => a.sentAt < b && a.receivedAt >= b - windowMs).length;
    for (let n = 1; n <= group.length; n++) {
      const hi = group[n - 1]!.receivedAt;
      const bound = hi < b ? limit : Math.floor(limit + (prevUpper * (hi - b)) / windowMs + 1e-9);
      worst = Math.max(worst, n - bound);
    }
  }
  return worst;
}

/**
 * Timeline (Redis and this process share the machine's clock; windows are aligned like the plugin's):
 * window 0: idle, then a burst BURST_LEAD_MS before its end; window 1: a burst 20 ms after its start; windows 2-3: every
 * client sends without pause. Demand in each burst is 3x the limit. Every algorithm's route gets the same load.
 */
export async function runAccuracy(opts: AccuracyOptions): Promise<AccuracyRow[]> {
  const windowMs = opts.windowMs ?? 2000;
  const limit = opts.limit ?? 20;
  const clients = opts.clients ?? 8;
  const perBurst = Math.ceil((3 * limit) / clients);
  const start = Math.ceil((Date.now() + 500) / windowMs) * windowMs;
  const results = new Map<AccuracyAlgorithm, { adm: Admission[]; sent: number; errors: number }>(
    ACCURACY_ALGORITHMS.map((a) => [a, { adm: [], sent: 0, errors: 0 }]),
  );
  const one = async (node: Node, algo: AccuracyAlgorithm) => {
    const r = results.get(algo)!;
    const sentAt = Date.now();
    r.sent++;
    const res = await node.request({ path: `/${algo}`, headers: { 'x-api-key': 'one-shared-client' } });
    const receivedAt = Date.now();
    if (res.status === 200) r.adm.push({ sentAt, receivedAt });
    else if (res.status !== 429) r.errors++;
  };
  // A burst: all of a client's requests at once (concurrently), on every algorithm's route.
  const burst = (node: Node) =>
    Promise.all(Array.from({ length: perBurst }, () => ACCURACY_ALGORITHMS.map((a) => one(node, a))).flat());
  const client = async (i: number) => {
    const node = opts.nodes[i % opts.nodes.length]!;
    await sleepUntil(start + windowMs - BURST_LEAD_MS);
    await burst(node);
    await sleepUntil(start + windowMs + 20);
    await burst(node);
    await sleepUntil(start + 2 * windowMs);
    while (Date.now() < start + 4 * windowMs - 30) await Promise.all(ACCURACY_ALGORITHMS.map((a) => one(node, a)));
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));

  return ACCURACY_ALGORITHMS.map((algorithm) => {
    const r = results.get(algorithm)!;
    const mids = r.adm.map((a) => (a.sentAt + a.receivedAt) / 2);
    const perWindow = [0, 0, 0, 0];
    const perWindowCertain = [0, 0, 0, 0];
    for (const a of r.adm) {
      const w = Math.floor(((a.sentAt + a.receivedAt) / 2 - start) / windowMs);
      if (w >= 0 && w < 4) perWindow[w]!++;
      const ws = Math.floor((a.sentAt - start) / windowMs);
      if (ws === Math.floor((a.receivedAt - start) / windowMs) && ws >= 0 && ws < 4) perWindowCertain[ws]!++;
    }
    return {
      algorithm,
      limit,
      windowMs,
      perWindow,
      perWindowCertain,
      maxInAnySpan: maxInSpan(mids, windowMs),
      sent: r.sent,
      admitted: r.adm.length,
      ...(algorithm === 'gcra' ? { gcraExcess: gcraExcess(r.adm, limit, windowMs / limit) } : {}),
      slidingExcess: slidingExcess(r.adm, start, windowMs, limit),
      errors: r.errors,
    };
  });
}

export function formatAccuracyTable(rows: AccuracyRow[], nodes: number, clients: number): string {
  const head = `Accuracy: ${nodes} Kong nodes (plugin-server processes) on one Redis, ${clients} concurrent clients of one identity, limit ${rows[0]?.limit} per ${rows[0]!.windowMs / 1000} s`;
  const lines = [
    head,
    '| algorithm | admitted per window w0 / w1 / w2 / w3 | max in any 1-window span | limit | sent | admitted | bound |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const bound =
      r.algorithm === 'gcra'
        ? `exact envelope burst+span/T: excess ${r.gcraExcess} (<= 0 = exact)`
        : r.algorithm === 'sliding-window'
          ? `<= limit per window (certain: ${r.perWindowCertain.join('/')}); span bound limit+prev*(hi-b)/W: excess ${r.slidingExcess}`
          : `<= limit per window, up to 2x limit per span (certain: ${r.perWindowCertain.join('/')}); sliding span bound: excess ${r.slidingExcess}`;
    lines.push(
      `| ${r.algorithm} | ${r.perWindow.join(' / ')} | ${r.maxInAnySpan} | ${r.limit} | ${r.sent} | ${r.admitted} | ${bound} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------- bench helpers

async function startNode(yaml: string): Promise<{ node: KongEmulator; close: () => Promise<void> }> {
  const upstream = await startEchoUpstream(0);
  const node = await KongEmulator.start({ plugins: ['bulwark-rate-limit'] });
  node.setConfig(
    loadDeclarative(yaml.replace(/ECHO/g, `http://127.0.0.1:${upstream.port}`), {
      knownPlugins: new Set(node.plugins.keys()),
    }),
  );
  return {
    node,
    close: async () => {
      await node.stop();
      await upstream.close();
    },
  };
}

interface Throughput {
  name: string;
  perSecond: number;
  p50us: number;
  p99us: number;
}

async function measure(
  name: string,
  total: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<Throughput> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await op(i);
        lat.push((performance.now() - s) * 1000);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { name, perSecond: total / seconds, p50us: percentile(lat, 0.5), p99us: percentile(lat, 0.99) };
}

/** Counts the commands clients send (MONITOR; commands a script runs are tagged "lua" and left out), by name. */
async function monitorCommands(redis: Redis): Promise<{ counts: Map<string, number>; stop: () => void }> {
  const counts = new Map<string, number>();
  const monitor = await redis.monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === 'lua' || /lua/.test(source)) return;
    const name = String(args[0]).toLowerCase();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  });
  return { counts, stop: () => monitor.disconnect() };
}

function roundTripConfig(port: number, limits: number): string {
  const all = [
    '{ name: second, limit: 1000000, window_seconds: 1 }',
    '{ name: hour, limit: 1000000, window_seconds: 3600, algorithm: gcra }',
    '{ name: day, limit: 1000000, calendar: day }',
  ];
  return `
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes: [{ name: r, paths: ["/"] }]
plugins:
  - name: bulwark-rate-limit
    config:
      limit_by: [ip]
      limits: [${all.slice(0, limits).join(', ')}]
      redis: { mode: standalone, host: 127.0.0.1, port: ${port} }
`;
}

async function main(): Promise<void> {
  const decisions = Number(process.argv[2] ?? 20000);
  const concurrency = Number(process.argv[3] ?? 32);
  const { port, proc } = await startRedisServer();
  const redis = new Redis({ port, host: '127.0.0.1' });
  try {
    // 1. accuracy
    const yaml = accuracyConfig(port, `bench${Date.now()}`, 2000, 20);
    const a = await startNode(yaml);
    const b = await startNode(yaml);
    try {
      const rows = await runAccuracy({ nodes: [a.node, b.node], redisPort: port, clients: 8 });
      process.stdout.write(`${formatAccuracyTable(rows, 2, 8)}\n\n`);
    } finally {
      await a.close();
      await b.close();
    }

    // 2. decisions per second, same Redis, same client, one after the other
    const { RateLimiterRedis } = await import('rate-limiter-flexible');
    const flexible = new RateLimiterRedis({
      storeClient: redis,
      points: 1_000_000,
      duration: 60,
      keyPrefix: 'bench-rlf',
    });
    const checks = (n: number): LimitCheck[] =>
      [
        { algorithm: 'sliding-window', limit: 1_000_000, windowMs: 60_000, burst: 1_000_000, cost: 1 } as LimitCheck,
        { algorithm: 'gcra', limit: 1_000_000, windowMs: 3_600_000, burst: 1_000_000, cost: 1 } as LimitCheck,
        { algorithm: 'fixed-window', limit: 1_000_000, windowMs: 86_400_000, burst: 1_000_000, cost: 1 } as LimitCheck,
      ].slice(0, n);
    const bulwark = (n: number) => async (i: number) => {
      const keys = checks(n).map((_, k) => `bench-brl:{c${i % 100}}:${k}`);
      parseScriptReply(await runDecideScript(redis, keys, scriptArgs(checks(n))), n);
    };
    await measure('warm-up', 2000, concurrency, bulwark(1));
    await measure('warm-up', 2000, concurrency, (i) => flexible.consume(`c${i % 100}`));
    const rows = [
      await measure('rate-limiter-flexible RateLimiterRedis (fixed window, 1 limit)', decisions, concurrency, (i) =>
        flexible.consume(`c${i % 100}`),
      ),
      await measure('bulwark script, sliding window, 1 limit', decisions, concurrency, bulwark(1)),
      await measure('bulwark script, 3 limits (sliding + gcra + day)', decisions, concurrency, bulwark(3)),
    ];
    const base = rows[0]!.perSecond;
    process.stdout.write(
      `Decisions on one Redis (${decisions} each, concurrency ${concurrency}, one ioredis client)\n`,
    );
    process.stdout.write(
      '| limiter | decisions/s | ratio to rate-limiter-flexible | p50 latency µs | p99 latency µs |\n|---|---|---|---|---|\n',
    );
    for (const r of rows) {
      process.stdout.write(
        `| ${r.name} | ${r.perSecond.toFixed(0)} | ${(r.perSecond / base).toFixed(2)} | ${r.p50us.toFixed(0)} | ${r.p99us.toFixed(0)} |\n`,
      );
    }

    // 3. Redis round trips per request through the gateway
    process.stdout.write(
      '\nRedis round trips per proxied request (MONITOR over 200 requests after warm-up; commands run inside the script not counted)\n| limits | commands/request | by command |\n|---|---|---|\n',
    );
    for (const n of [1, 3]) {
      const g = await startNode(roundTripConfig(port, n));
      try {
        for (let i = 0; i < 20; i++) await g.node.request({ path: '/', clientIp: '198.51.100.1' });
        const mon = await monitorCommands(redis);
        await new Promise((r) => setTimeout(r, 100));
        for (let i = 0; i < 200; i++) await g.node.request({ path: '/', clientIp: `198.51.100.${i % 200}` });
        await new Promise((r) => setTimeout(r, 200));
        mon.stop();
        const total = [...mon.counts.values()].reduce((x, y) => x + y, 0);
        const by = [...mon.counts.entries()].map(([k, v]) => `${k} ${v}`).join(', ');
        process.stdout.write(`| ${n} | ${(total / 200).toFixed(2)} | ${by} |\n`);
      } finally {
        await g.close();
      }
    }
  } finally {
    redis.disconnect();
    proc.kill('SIGKILL');
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
