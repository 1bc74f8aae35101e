// Benchmark (not a test): the Kong emulator's own CPU per request (the test process; plugin servers are separate
// processes and not counted), against a plain HTTP request to the same echo upstream from the same process (what
// proxying alone costs). Requests go through a route with every built plugin loaded and one configured
// (bulwark-response-headers, global), so the runloop's iterators and config lookups are exercised. Rounds alternate
// between the two so that machine noise hits both alike; the ratio is what to compare between versions.
//
//   npm run build && node dist/js/scripts/bench/emulator-cpu.js [--requests 300] [--rounds 5]
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import { KongEmulator } from '../../kong/emulator/kong';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import { median } from './stats';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '300' }, rounds: { type: 'string', default: '5' } },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);

function direct(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/api/x?a=1', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      })
      .on('error', reject);
  });
}

async function cpuMicros(fn: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) await fn();
  const d = process.cpuUsage(before);
  return (d.user + d.system) / REQUESTS;
}

async function main(): Promise<void> {
  const upstream = await startEchoUpstream(0);
  const kong = await KongEmulator.start({ luaPlugins: [] });
  try {
    kong.setConfig(
      loadDeclarative(
        `_format_version: "3.0"
services:
  - name: echo
    url: http://127.0.0.1:${upstream.port}
    routes:
      - name: api
        paths: ["/api"]
plugins:
  - name: bulwark-response-headers
    config: { remove: ["x-powered-by"] }
`,
        { knownPlugins: new Set(kong.plugins.keys()) },
      ),
    );
    const viaKong = async () => {
      const r = await kong.request({ path: '/api/x?a=1' });
      if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body.toString()}`);
      await r.report.logDone;
    };
    await viaKong();
    await cpuMicros(viaKong);
    const emu: number[] = [];
    const plain: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      emu.push(await cpuMicros(viaKong));
      plain.push(await cpuMicros(() => direct(upstream.port)));
    }
    const e = median(emu);
    const p = median(plain);
    const ratio = (e / p).toFixed(2);
    console.log(`emulator CPU per request ${e.toFixed(0)} µs, direct HTTP request ${p.toFixed(0)} µs, ratio ${ratio}`);
  } finally {
    await kong.stop();
    await upstream.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
