// The C references of scripts/bench/threat-protection.ts's side-by-side rows, compiled with gcc at run time against
// Debian's libmodsecurity3 (installed by .ci/run): libinjection through its C library (the copy libmodsecurity
// bundles and exports, scripts/bench/libinjection-c.c) and ModSecurity 3 itself with the same CRS rule files
// (scripts/modsec/modsec-verdicts.c with MV_TIME=1). Each times its requests in C (thread CPU time per request) for
// `rounds` rounds over the same requests; the bench takes p50/p99 per round and the median over rounds, as for its
// own rows. Without gcc or the library these return the reason, and the bench leaves the rows out.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { compileHarness, compileWithModSecurity, harnessLine, REPO_ROOT, ruleFiles } from '../modsec/verdicts';
import type { RequestSnapshot } from '../../plugins/bulwark-threat-protection/request-model';

export interface NativeTimings {
  /** Per round, per request: µs of CPU time. */
  rounds: number[][];
}

export interface LibinjectionVerdicts extends NativeTimings {
  /** Per request, per value: whether the C library calls it SQLi, XSS. */
  verdicts: { sqli: boolean; xss: boolean }[][];
}

const nsToUs = (line: string): number[] =>
  line
    .split(' ')
    .slice(1)
    .map((ns) => Number(ns) / 1000);

/** Each request's values (byte strings: one char per byte) through libinjection_sqli and libinjection_xss in C. */
export function libinjectionC(
  requests: readonly (readonly string[])[],
  rounds: number,
): LibinjectionVerdicts | { error: string } {
  const built = compileWithModSecurity(join(REPO_ROOT, 'scripts/bench/libinjection-c.c'), 'libinjection-c');
  if ('error' in built) return built;
  const input = requests.map((values) => `${values.map((v) => Buffer.from(v, 'latin1').toString('hex')).join(' ')}\n`);
  const r = spawnSync(built.bin, [String(rounds)], { input: input.join(''), encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error) return { error: r.error.message };
  if (r.status !== 0) return { error: `libinjection-c exited ${r.status}: ${r.stderr.trim()}` };
  const lines = r.stdout.split('\n');
  const verdicts = lines
    .filter((l) => l.startsWith('V '))
    .map((l) => [...l.slice(2)].map((d) => ({ sqli: (Number(d) & 1) !== 0, xss: (Number(d) & 2) !== 0 })));
  const timed = lines.filter((l) => l.startsWith('T')).map(nsToUs);
  if (verdicts.length !== requests.length || timed.some((t) => t.length !== requests.length))
    return { error: `libinjection-c answered ${verdicts.length} of ${requests.length} requests` };
  return { verdicts, rounds: timed };
}

/** Whole requests through libmodsecurity with the REQUEST rule files of `rulesDir` (PL1, threshold 5, DetectionOnly). */
export function modSecurityC(
  rulesDir: string,
  requests: readonly RequestSnapshot[],
  rounds: number,
): NativeTimings | { error: string } {
  const built = compileHarness();
  if ('error' in built) return built;
  const once = requests.map((q) => `${harnessLine(q)}\n`).join('');
  const r = spawnSync(built.bin, ['1', '5', ...ruleFiles(rulesDir)], {
    input: once.repeat(rounds),
    encoding: 'latin1',
    maxBuffer: 1 << 30,
    env: { ...process.env, MV_TIME: '1' },
  });
  if (r.error) return { error: r.error.message };
  if (r.status !== 0) return { error: `modsec-verdicts exited ${r.status}: ${r.stderr.trim()}` };
  const times = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('C '))
    .map((l) => Number(l.slice(2)) / 1000);
  if (times.length !== requests.length * rounds)
    return { error: `modsec-verdicts timed ${times.length} of ${requests.length * rounds} requests` };
  return {
    rounds: Array.from({ length: rounds }, (_, k) => times.slice(k * requests.length, (k + 1) * requests.length)),
  };
}
