// bulwark-pluginserver's opt-in Prometheus endpoint (--metrics-listen), scraped by a REAL Prometheus (Debian
// package): requests through the emulator produce counters that Prometheus's query API then returns.
import { runsOnPluginServers, startGateway, afterAllNoFailOpen, type Gateway } from '../helpers/emulator';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus';

runsOnPluginServers(
  ['bulwark'],
  "the /metrics endpoint is bulwark-pluginserver's own (--metrics-listen); the stock kong-js-pluginserver has no way to expose the registry, so on it only the plugins run and nothing is scraped",
);

let gw: Gateway | undefined;
let prometheus: PrometheusServer | undefined;
let metricsUrl = '';

const CONFIG = `
_format_version: "3.0"
services:
  - name: api
    url: ECHO
    routes:
      - { name: orders, paths: ["/orders"] }
plugins:
  - name: bulwark-audit
    route: orders
  - name: bulwark-response-headers
    route: orders
`;

beforeAll(async () => {
  const lines: string[] = [];
  gw = await startGateway({
    plugins: ['bulwark-audit', 'bulwark-response-headers'],
    bulwarkServerArgs: ['--metrics-listen', '127.0.0.1:0'],
    onLog: (l) => lines.push(l),
  });
  gw.configure(CONFIG);
  const deadline = Date.now() + 30_000;
  while (metricsUrl === '' && Date.now() < deadline) {
    for (const l of lines) {
      const m = /"metrics":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(l);
      if (m) metricsUrl = m[1]!;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(metricsUrl).not.toBe('');
  prometheus = await startPrometheus([new URL(metricsUrl).host]);
}, 120_000);
afterAllNoFailOpen(() => [gw]);
afterAll(async () => {
  await prometheus?.stop();
});

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    last = await read();
  }
  return last;
}

test('the endpoint serves the Prometheus text format; other paths and methods are refused', async () => {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  expect(text).toContain('# TYPE bulwark_decisions_total counter');
  expect(text).toContain('# TYPE bulwark_phase_duration_seconds histogram');
  expect((await fetch(metricsUrl.replace('/metrics', '/'))).status).toBe(404);
  expect((await fetch(metricsUrl, { method: 'POST' })).status).toBe(405);
});

test('Prometheus scrapes the plugin server and returns the counts the test requests produced', async () => {
  for (let i = 0; i < 7; i++) {
    expect((await gw!.send({ path: '/orders' })).status).toBe(200);
  }
  const targets = await eventually(
    () => prometheus!.targets(),
    (t) => t.length === 1 && t[0]!.health === 'up',
  );
  expect(targets[0]).toMatchObject({ health: 'up', scrapeUrl: metricsUrl });
  const result = await eventually(
    () => prometheus!.query('bulwark_phase_duration_seconds_count{plugin="bulwark-response-headers",phase="response"}'),
    (r) => r.length === 1 && r[0]!.value === 7,
  );
  expect(result).toEqual([
    {
      metric: expect.objectContaining({
        job: 'bulwark-pluginserver',
        plugin: 'bulwark-response-headers',
        phase: 'response',
      }),
      value: 7,
    },
  ]);
}, 90_000);
