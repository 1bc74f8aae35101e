#!/usr/bin/env node
// bulwark-validator availability benchmark, everything side by side in one run (a shared machine is noisy: read
// the ratios, not the absolute numbers):
// 1. instance start on a large real document (GitHub's REST API, spec/fixtures/openapi/github, 1,223 operations,
//    13 MB): time the event loop is blocked and peak RSS, each variant in its own child process:
//    - eager: `precompile: true`, every operation compiled at start (what every instance start did before);
//    - lazy: the default, operations compiled on first use (then: the first-request cost of one operation);
//    - plain Ajv: JSON.parse, one Ajv with the document added, every request-body schema compiled (no parameters,
//      no OpenAPI conversion): the floor for compiling everything with Ajv;
//    - retry of a broken document: Kong retries StartInstance on every request; the failure is cached.
// 2. the ReDoS case `^(a+)+$` against "a"×n + "!": V8's RegExp (what Ajv used) vs RE2JS (used now).
// Usage: node dist/js/scripts/bench/validator-availability.js
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as zlib from 'node:zlib';
import AjvDraft07 from 'ajv';
import { compileLinearRegExp } from '../../plugins/bulwark-validator/ajv-setup';
import { clearPolicyCache, parseValidatorConfig } from '../../plugins/bulwark-validator/config';

const ROOT = path.resolve(__dirname, '../../../..');
const GITHUB_GZ = path.join(ROOT, 'spec/fixtures/openapi/github/api.github.com.json.gz');

type Variant = 'eager' | 'lazy' | 'plain-ajv' | 'broken-retry';
interface Result {
  variant: Variant;
  ms: number;
  maxRssMiB: number;
  note?: string;
}

function githubText(): string {
  return zlib.gunzipSync(fs.readFileSync(GITHUB_GZ)).toString('utf8');
}

function maxRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** One variant, in this (child) process; the file is read before the clock starts, parsing is timed. */
function runVariant(variant: Variant): Result {
  const text = githubText();
  if (variant === 'plain-ajv') {
    const t0 = performance.now();
    const doc = JSON.parse(text) as {
      paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>>;
    };
    const ajv = new AjvDraft07({ strict: false, allErrors: true, logger: false, validateFormats: false });
    ajv.addSchema(doc, 'doc.json', undefined, false);
    let compiled = 0;
    let failed = 0;
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const mt of Object.keys(op?.requestBody?.content ?? {})) {
          if (op.requestBody!.content![mt]!.schema === undefined) continue;
          const pointer = ['paths', template, method, 'requestBody', 'content', mt, 'schema']
            .map((t) => encodeURIComponent(t.replace(/~/g, '~0').replace(/\//g, '~1')))
            .join('/');
          try {
            ajv.compile({ $ref: `doc.json#/${pointer}` });
            compiled++;
          } catch {
            failed++; // e.g. OAS 3.0 `nullable` without `type`, which plain Ajv refuses
          }
        }
      }
    }
    return {
      variant,
      ms: performance.now() - t0,
      maxRssMiB: maxRssMiB(),
      note: `${compiled} body schemas compiled, ${failed} refused by plain Ajv`,
    };
  }
  if (variant === 'broken-retry') {
    const doc = JSON.parse(text) as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    doc.paths['/markdown']!.post!.requestBody = {
      content: { 'application/json': { schema: { type: 'object', properties: { mode: { type: 'strnig' } } } } },
    };
    const spec = JSON.stringify(doc);
    const attempt = () => {
      const t0 = performance.now();
      try {
        parseValidatorConfig({ openapi: { spec } });
      } catch {
        // expected
      }
      return performance.now() - t0;
    };
    const first = attempt();
    const again = [attempt(), attempt(), attempt()];
    return {
      variant,
      ms: first,
      maxRssMiB: maxRssMiB(),
      note: `retries (cached failure): ${again.map((m) => m.toFixed(0)).join(', ')} ms; first/median retry = ${(first / again.sort((a, b) => a - b)[1]!).toFixed(0)}x`,
    };
  }
  // Yardstick, same process: JSON.parse alone of the same text.
  const p0 = performance.now();
  JSON.parse(text);
  const parseMs = performance.now() - p0;
  const t0 = performance.now();
  const conf = parseValidatorConfig({ openapi: { spec: text, precompile: variant === 'eager' } });
  const ms = performance.now() - t0;
  let note: string | undefined;
  if (variant === 'lazy' && conf.policy.kind === 'openapi') {
    const ops = conf.policy.api.operations.filter((_, i) => i % 61 === 0);
    const per = ops.map((op) => {
      const s = performance.now();
      op.compileNow();
      return performance.now() - s;
    });
    per.sort((a, b) => a - b);
    note = `= ${(ms / parseMs).toFixed(1)}x JSON.parse alone (${parseMs.toFixed(0)} ms); first request of an operation compiles it: median ${per[Math.floor(per.length / 2)]!.toFixed(1)} ms, max ${per[per.length - 1]!.toFixed(1)} ms (${ops.length} operations)`;
  }
  if (variant === 'eager') note = `= ${(ms / parseMs).toFixed(1)}x JSON.parse alone (${parseMs.toFixed(0)} ms)`;
  clearPolicyCache();
  return { variant, ms, maxRssMiB: maxRssMiB(), note };
}

function inChild(variant: Variant): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--variant', variant], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve(m as Result));
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`${variant}: exit ${code}`)));
  });
}

function redosRow(n: number): { n: number; nativeMs: number; re2Ms: number } {
  const input = `${'a'.repeat(n)}!`;
  const native = new RegExp('^(a+)+$', 'u');
  const re2 = compileLinearRegExp('^(a+)+$');
  for (let i = 0; i < 200; i++) re2.test(input); // JIT warm-up
  let t0 = performance.now();
  if (native.test(input)) throw new Error('unexpected match');
  const nativeMs = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < 1000; i++) if (re2.test(input)) throw new Error('unexpected match');
  const re2Ms = (performance.now() - t0) / 1000;
  return { n, nativeMs, re2Ms };
}

async function main(): Promise<void> {
  const v = process.argv.indexOf('--variant');
  if (v !== -1) {
    process.send!(runVariant(process.argv[v + 1] as Variant));
    return;
  }
  process.stdout.write(
    "Instance start, GitHub's REST API description (3.0.3, 1,223 operations, 13 MB; inline spec; one child process each)\n",
  );
  const results: Result[] = [];
  for (const variant of ['eager', 'lazy', 'plain-ajv', 'broken-retry'] as Variant[])
    results.push(await inChild(variant));
  const by = (k: Variant) => results.find((r) => r.variant === k)!;
  process.stdout.write(`${'variant'.padEnd(36)}${'blocked'.padStart(10)}${'peak RSS'.padStart(12)}\n`);
  const label: Record<Variant, string> = {
    eager: 'eager (precompile: true; as before)',
    lazy: 'lazy (default)',
    'plain-ajv': 'plain Ajv (bodies only)',
    'broken-retry': 'broken document, first start',
  };
  for (const r of results) {
    process.stdout.write(
      `${label[r.variant].padEnd(36)}${`${r.ms.toFixed(0)} ms`.padStart(10)}${`${r.maxRssMiB.toFixed(0)} MiB`.padStart(12)}${r.note ? `   ${r.note}` : ''}\n`,
    );
  }
  process.stdout.write(
    `ratios: eager/lazy time ${(by('eager').ms / by('lazy').ms).toFixed(1)}x, RSS ${(by('eager').maxRssMiB / by('lazy').maxRssMiB).toFixed(2)}x; plain-Ajv/lazy time ${(by('plain-ajv').ms / by('lazy').ms).toFixed(1)}x, RSS ${(by('plain-ajv').maxRssMiB / by('lazy').maxRssMiB).toFixed(2)}x\n`,
  );

  process.stdout.write("\nReDoS: '^(a+)+$' against 'a'×n + '!' (one call; RE2JS: mean of 1000 after warm-up)\n");
  process.stdout.write(`${'n'.padStart(4)}${'V8 RegExp'.padStart(12)}${'RE2JS'.padStart(12)}${'ratio'.padStart(12)}\n`);
  for (const n of [16, 20, 22, 24, 25]) {
    const r = redosRow(n);
    process.stdout.write(
      `${String(n).padStart(4)}${`${r.nativeMs.toFixed(2)} ms`.padStart(12)}${`${r.re2Ms.toFixed(3)} ms`.padStart(12)}${`${(r.nativeMs / r.re2Ms).toFixed(0)}x`.padStart(12)}\n`,
    );
  }
  process.stdout.write('V8 doubles per added "a" (29 a\'s: seconds); RE2JS stays linear.\n');
}

main().catch((err) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
