// Benchmark (not a test): the CPU of bulwark-pluginserver's framer (kong/pluginserver/framer.ts: finding each
// message's end and decoding it) on the messages Kong sends for one request, for an A/B of two builds in one
// process. Messages: a HandleEvent, a Step carrying kong.request.get_headers' result (a browser's 14 headers, the
// shape of mp_rpc.lua's fix_mmap: each value in an array), a Step carrying the path, a Step carrying a 400-byte
// query. Scenarios: all ASCII (nearly all traffic), one header of valid UTF-8, one header of bytes that are not
// UTF-8 (0xe0 + `<script>`, as an attack sends). Rounds alternate between the builds; medians of per-round ratios.
//
//   npm run build && node dist/js/scripts/bench/pluginserver-decode.js --baseline DIR [--events 20000] [--rounds 9]
//
// DIR holds the other build's `dist` and a `node_modules` it resolves from (see chain.ts --baseline).
import path = require('path');
import { parseArgs } from 'util';
import { encode } from '@msgpack/msgpack';
import { median } from './stats';

const REPO = path.resolve(__dirname, '../../../..');

const { values: opts } = parseArgs({
  options: {
    baseline: { type: 'string' },
    events: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '9' },
  },
});

interface Framer {
  push(chunk: Uint8Array): unknown[];
}
type FramerClass = new () => Framer;

function load(dist: string): FramerClass {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.join(dist, 'js/kong/pluginserver/framer.js')) as { MessageFramer: FramerClass }).MessageFramer;
}

/** A MessagePack str of these exact bytes (the library would encode a JS string as UTF-8). */
function rawStr(bytes: Buffer): Buffer {
  const n = bytes.length;
  const head =
    n < 32 ? Buffer.from([0xa0 + n]) : n < 256 ? Buffer.from([0xd9, n]) : Buffer.from([0xda, n >> 8, n & 0xff]);
  return Buffer.concat([head, bytes]);
}

const MARK = 'MARK-0123456789'; // replaced by the scenario's header value

function messages(headerValue: Buffer): Uint8Array[] {
  const headers: Record<string, string[]> = {
    host: ['api.example.com'],
    'user-agent': ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36'],
    accept: ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    'accept-language': ['en-GB,en;q=0.9'],
    'accept-encoding': ['gzip, deflate, br'],
    authorization: ['Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl'],
    cookie: ['session=4f1c2a9e8b7d6c5a; theme=dark'],
    referer: ['https://www.example.com/shop/items?page=2'],
    'x-request-id': ['6f1d2c3b-4a59-4e8f-9a7b-1c2d3e4f5a6b'],
    'x-forwarded-for': ['203.0.113.7'],
    'x-forwarded-proto': ['https'],
    'content-type': ['application/json'],
    'x-custom': [MARK],
    connection: ['keep-alive'],
  };
  const step = (data: unknown) => Buffer.from(encode([0, 7, 'plugin.StepMultiMap', [{ EventId: 12, Data: data }]]));
  const withHeaders = step(headers);
  const at = withHeaders.indexOf(rawStr(Buffer.from(MARK)));
  return [
    encode([0, 5, 'plugin.HandleEvent', [{ InstanceId: 3, EventName: 'access' }]]),
    Buffer.concat([withHeaders.subarray(0, at), rawStr(headerValue), withHeaders.subarray(at + MARK.length + 1)]),
    encode([0, 8, 'plugin.Step', [{ EventId: 12, Data: '/shop/items/12345/reviews' }]]),
    encode([0, 9, 'plugin.Step', [{ EventId: 12, Data: `q=${'abcdefgh'.repeat(50)}` }]]),
  ];
}

const SCENARIOS: [string, Buffer][] = [
  ['all ASCII', Buffer.from('plain-ascii-value')],
  ['one header of valid UTF-8', Buffer.from('Zoë Ünïcødé – ✓', 'utf8')],
  ['one header not UTF-8', Buffer.concat([Buffer.from([0xe0]), Buffer.from('<script>alert(1)</script>')])],
];

function round(Framer: FramerClass, frames: Uint8Array[], events: number): number {
  const framer = new Framer();
  const before = process.cpuUsage();
  for (let i = 0; i < events; i++) for (const f of frames) if (framer.push(f).length !== 1) throw new Error('framing');
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

function main(): void {
  if (!opts.baseline) throw new Error('--baseline DIR is required (the build to compare with)');
  const events = Number(opts.events);
  const rounds = Number(opts.rounds);
  const builds: [string, FramerClass][] = [
    ['this build', load(path.join(REPO, 'dist'))],
    [`baseline ${opts.baseline}`, load(path.resolve(opts.baseline, 'dist'))],
  ];
  console.log(`decode benchmark: ${rounds} rounds x ${events} requests (4 messages each), node ${process.version}`);
  for (const [scenario, value] of SCENARIOS) {
    const frames = messages(value);
    const cpu = builds.map(() => [] as number[]);
    builds.forEach(([, F]) => round(F, frames, Math.min(events, 5000))); // warm-up
    for (let r = 0; r < rounds; r++) builds.forEach(([, F], b) => cpu[b].push(round(F, frames, events)));
    console.log(`  ${scenario}:`);
    builds.forEach(([name], b) =>
      console.log(`    ${name.padEnd(40)} ${(median(cpu[b]) / events).toFixed(2).padStart(6)} µs CPU per request`),
    );
    const ratios = cpu[0].map((v, i) => v / cpu[1][i]);
    console.log(`    this build / baseline: median of per-round ratios ${median(ratios).toFixed(2)}x`);
  }
}

main();
