// bulwark-threat-protection's CRS verdicts against ModSecurity's (libmodsecurity 3, the engine CRS is written for),
// request by request, rule id by rule id. ModSecurity runs through scripts/modsec/modsec-verdicts.c, compiled here
// with gcc at run time (Debian: libmodsecurity-dev, gcc). The requests are the ones the figure tests
// (spec/plugins/bulwark-threat-protection/detection.test.ts) present to the engine: each attack payload as the query
// argument q, each English sentence as the form field text, and the generated API traffic as whole requests.
//
// Usage (after npm run build): node dist/js/scripts/modsec/verdicts.js [--crs <rules dir>] [--pl N] [--sample N]
// [--corpus english|api|sqli|xss|traversal|cmdi|nosqli] [--whole: the engine scans each whole request as the plugin
// does, not only the value the figure tests scan]
// prints agreement per corpus and per rule id, and the disagreeing values.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compileCrsDirectory, DEFAULT_RULE_FAMILIES } from '../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../plugins/bulwark-threat-protection/crs/engine';
import { type RequestValue, variableName } from '../../plugins/bulwark-threat-protection/crs/model';
import { kongStringByteString } from '../../plugins/lib/kong-strings';
import { LIBINJECTION_DETECTORS } from '../../plugins/bulwark-threat-protection/libinjection';
import { buildRequestModel, type RequestSnapshot } from '../../plugins/bulwark-threat-protection/request-model';
import { defaultScanLimits } from '../../plugins/bulwark-threat-protection/config';
import { kongStringBytes } from '../../plugins/lib/kong-strings';
import { realisticRequest, seeded } from '../bench/threat-traffic';

/** The checkout this runs from (from scripts/modsec under ts-jest, from dist/js/scripts/modsec when built). */
function findRepoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'scripts/modsec/modsec-verdicts.c'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no scripts/modsec/modsec-verdicts.c above ${__dirname}`);
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRepoRoot();
export const HARNESS_SOURCE = join(REPO_ROOT, 'scripts/modsec/modsec-verdicts.c');
export const CRS4_RULES = join(REPO_ROOT, 'spec/fixtures/crs4/rules');
export const DEBIAN_CRS_RULES = '/usr/share/modsecurity-crs/rules';

/** Compiles a C source linked against libmodsecurity into a temp dir: the binary's path, or why it cannot be built
 * (no gcc, no libmodsecurity). */
export function compileWithModSecurity(source: string, name: string): { bin: string } | { error: string } {
  const bin = join(mkdtempSync(join(tmpdir(), 'bulwark-modsec-')), name);
  const r = spawnSync('gcc', ['-O2', '-o', bin, source, '-lmodsecurity'], { encoding: 'utf8' });
  if (r.error) return { error: `gcc: ${r.error.message}` };
  if (r.status !== 0) return { error: r.stderr.trim() };
  return { bin };
}

/** Compiles the harness (compileWithModSecurity). */
export function compileHarness(): { bin: string } | { error: string } {
  return compileWithModSecurity(HARNESS_SOURCE, 'modsec-verdicts');
}

/** The REQUEST rule files of `dir` the plugin loads (compile.ts's families), in load order. */
export function ruleFiles(dir: string, families: readonly string[] = DEFAULT_RULE_FAMILIES): string[] {
  return readdirSync(dir)
    .filter((f) => /^REQUEST-\d+.*\.conf$/.test(f) && families.some((p) => f.startsWith(`REQUEST-${p}`)))
    .sort()
    .map((f) => join(dir, f));
}

export interface ModsecMatch {
  id: number;
  /** The variable ModSecurity names in its message (`ARGS:q`), '' when it names none. */
  variable: string;
}

/** The bytes a snapshot string stands for (escaped bytes of a request that is not UTF-8 as those bytes), in hex. */
const hex = (s: string) => Buffer.from(kongStringBytes(s)).toString('hex');

/** A request as one line of the harness's input. */
export function harnessLine(s: RequestSnapshot): string {
  const headers = Object.entries(s.headers)
    .flatMap(([name, values]) => (Array.isArray(values) ? values : [values]).map((v) => `${name}: ${v}\n`))
    .join('');
  const body = s.body === undefined ? '' : Buffer.from(s.body).toString('hex');
  return `${s.method}\t${hex(s.pathWithQuery)}\t${hex(headers)}\t${body}`;
}

/** Every request through libmodsecurity with the rule files: the rule messages per request. */
export function runModSecurity(
  bin: string,
  files: readonly string[],
  paranoiaLevel: number,
  anomalyThreshold: number,
  requests: readonly RequestSnapshot[],
): ModsecMatch[][] {
  const input = requests.map((r) => `${harnessLine(r)}\n`).join('');
  const r = spawnSync(bin, [String(paranoiaLevel), String(anomalyThreshold), ...files], {
    input,
    encoding: 'latin1',
    maxBuffer: 1 << 30,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`modsec-verdicts exited ${r.status}: ${r.stderr.trim()}`);
  const out: ModsecMatch[][] = [];
  let current: ModsecMatch[] | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('R ')) current = [];
    else if (line === 'E') {
      out.push(current!);
      current = undefined;
    } else if (line.startsWith('M ')) {
      const [, id, v] = line.split(' ');
      current!.push({ id: Number(id), variable: v === '-' ? '' : Buffer.from(v!, 'hex').toString('latin1') });
    }
  }
  if (out.length !== requests.length) throw new Error(`modsec-verdicts answered ${out.length} of ${requests.length}`);
  return out;
}

/** ModSecurity's spelling of each transformation (the engine's names are lower case). */
export const MODSEC_TRANSFORM_NAMES: Readonly<Record<string, string>> = {
  lowercase: 'lowercase',
  urldecode: 'urlDecode',
  urldecodeuni: 'urlDecodeUni',
  htmlentitydecode: 'htmlEntityDecode',
  jsdecode: 'jsDecode',
  cssdecode: 'cssDecode',
  escapeseqdecode: 'escapeSeqDecode',
  removenulls: 'removeNulls',
  replacenulls: 'replaceNulls',
  utf8tounicode: 'utf8toUnicode',
  compresswhitespace: 'compressWhitespace',
  removewhitespace: 'removeWhitespace',
  replacecomments: 'replaceComments',
  removecommentschar: 'removeCommentsChar',
  cmdline: 'cmdLine',
  normalizepath: 'normalizePath',
  normalisepath: 'normalisePath',
  normalizepathwin: 'normalizePathWin',
  normalisepathwin: 'normalisePathWin',
  base64decode: 'base64Decode',
  hexencode: 'hexEncode',
  sha1: 'sha1',
  length: 'length',
  trim: 'trim',
};

/** Every byte as %XX: the argument ModSecurity decodes back to exactly these bytes. */
const percentEncodeBytes = (bytes: string) =>
  [...bytes].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');

/**
 * ModSecurity's output of each transformation chain on each input (byte strings), through probe rules that hex-encode
 * the result into their logdata; undefined where ModSecurity logged no output (it cuts logdata at 200 characters:
 * keep inputs short, outputs of ~90 bytes at most).
 */
export function modsecTransformations(
  bin: string,
  chains: readonly (readonly string[])[],
  inputs: readonly string[],
): (string | undefined)[][] {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-modsec-probe-'));
  const file = join(dir, 'transformations.conf');
  const rules = chains.map((chain, i) => {
    const t = chain.map((n) => {
      const name = MODSEC_TRANSFORM_NAMES[n];
      if (name === undefined) throw new Error(`no ModSecurity name for the transformation ${n}`);
      return `t:${name},`;
    });
    return (
      `SecRule ARGS:v "@rx ^([0-9a-f]*)$" "id:${100000 + i},phase:2,pass,log,capture,t:none,${t.join('')}` +
      `t:hexEncode,msg:'transformation probe',logdata:'HEX=%{TX.1}=HEX'"\n`
    );
  });
  writeFileSync(file, rules.join(''));
  const requests = inputs.map((v) => ({ method: 'GET', pathWithQuery: `/?v=${percentEncodeBytes(v)}`, headers: {} }));
  const r = spawnSync(bin, ['1', '5', file], {
    input: requests.map((q) => `${harnessLine(q)}\n`).join(''),
    encoding: 'latin1',
    maxBuffer: 1 << 30,
  });
  rmSync(dir, { recursive: true, force: true });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`modsec-verdicts exited ${r.status}: ${r.stderr.trim()}`);
  const out = chains.map(() => new Array<string | undefined>(inputs.length).fill(undefined));
  let request = -1;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('R ')) request++;
    else if (line.startsWith('T ')) {
      const [, id, digits] = line.split(' ');
      out[Number(id) - 100000]![request] = Buffer.from(digits ?? '', 'hex').toString('latin1');
    }
  }
  return out;
}

/** Short inputs (ModSecurity's logdata holds ~90 output bytes) at the edges of the transformations: NUL bytes,
 * invalid and partial escapes, entities, comments, paths, whitespace, UTF-8 (valid, overlong, truncated, 4-byte). */
export const TRANSFORMATION_PROBES: readonly string[] = [
  'scr\0ipt',
  'scr\\0ipt',
  'x\0',
  '\0',
  '%00a',
  '%u003c%uff1c%u00',
  'a%zz%4%',
  '+a+%20b',
  '&#x3c;&#60;&lt;&LT;&#x;&#&amp;lt;&#0;x',
  '&nbsp;x&quot;&apos;&#39',
  '\\x3c\\u003c\\074\\q\\',
  '\\x4\\x4g\\8\\400end\\',
  '\\a\\b\\f\\n\\r\\t\\v\\?\\\'\\"',
  '\\6a avascript\\3a\\\nx',
  '/*x*/a--b#c<!--d-->e',
  '/*unterminated',
  'a/**/union/**/select',
  "c^a\"t /e't'c;ls,x\tA",
  ' \t\n\v\f\r\xa0x  y ',
  'a/./b/../c//d/',
  '../../etc/passwd',
  'C:\\a\\..\\b\\.\\c',
  '..../x/a/b/..',
  'passwd../x',
  '..\\\\\\x',
  'Ren\xc3\xa9e \xe2\x82\xac \xf0\x9f\x98\x80',
  '\xc3\xa9\xc3',
  'PHNjcmlwdD4=',
  'SeLeCt UNION',
  "1' OR '1'='1",
  '`id`$(id)',
];

/** One case: the request ModSecurity gets, and the values the figure tests hand the engine for it. */
export interface Case {
  corpus: string;
  /** What the case is (the payload, the sentence, `request n`). */
  label: string;
  request: RequestSnapshot;
  values: RequestValue[];
}

const FIXTURES = join(REPO_ROOT, 'spec/fixtures');
const lines = (file: string) =>
  readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');

export const ATTACK_CORPORA = ['sqli', 'xss', 'traversal', 'cmdi', 'nosqli'] as const;

/** Each payload as the query argument q (detection.test.ts: ARGS_GET q). */
export function attackCases(category: string): Case[] {
  return lines(`attacks/${category}.txt`).map((p) => ({
    corpus: category,
    label: p,
    request: { method: 'GET', pathWithQuery: `/?q=${encodeURIComponent(p)}`, headers: {} },
    values: [{ collection: 'ARGS_GET', name: 'q', value: kongStringByteString(p) }],
  }));
}

/** Each sentence as the form field text (detection.test.ts: ARGS_POST text). */
export function englishCases(): Case[] {
  return lines('benign/english-text.txt').map((s) => ({
    corpus: 'english',
    label: s,
    request: {
      method: 'POST',
      pathWithQuery: '/',
      headers: { 'content-type': ['application/x-www-form-urlencoded'] },
      body: Buffer.from(`text=${encodeURIComponent(s)}`),
    },
    values: [{ collection: 'ARGS_POST', name: 'text', value: kongStringByteString(s) }],
  }));
}

const LIMITS = defaultScanLimits();
const SCANNED_HEADERS = ['user-agent', 'referer'];

/** detection.test.ts's generated API traffic (seed 17), whole requests through the plugin's request model.
 * ModSecurity gets the headers the plugin scans (User-Agent, Referer, Cookie) and Content-Type, not Authorization. */
export function apiCases(n: number): Case[] {
  const rnd = seeded(17);
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const snapshot = realisticRequest(rnd);
    const model = buildRequestModel(snapshot, SCANNED_HEADERS, LIMITS, 'refuse');
    if (!model.ok) throw new Error(model.detail);
    const headers: RequestSnapshot['headers'] = {};
    for (const [name, v] of Object.entries(snapshot.headers)) {
      if (name !== 'authorization') headers[name] = v;
    }
    cases.push({ corpus: 'api', label: `request ${i}`, request: { ...snapshot, headers }, values: model.values });
  }
  return cases;
}

/** The case with the values the plugin's request model makes of its whole request (REQUEST_URI_RAW, QUERY_STRING,
 * ARGS_NAMES, REQUEST_BODY of a form … besides the one value the figure tests scan). */
export function wholeRequest(c: Case): Case {
  const model = buildRequestModel(c.request, SCANNED_HEADERS, LIMITS, 'scan_prefix');
  if (!model.ok) throw new Error(model.detail);
  return { ...c, values: model.values };
}

/** A variable name as both sides spell it, compared: lower case, *_NAMES without the key (the engine's names
 * carry none), ARGS_GET/ARGS_POST as ARGS. */
export function normaliseVariable(v: string): string {
  const lower = v.toLowerCase();
  const colon = lower.indexOf(':');
  const collection = colon === -1 ? lower : lower.slice(0, colon);
  if (collection.endsWith('_names')) return collection.replace(/^args_(get|post)_names$/, 'args_names');
  return lower.replace(/^args_(get|post)(?=:|$)/, 'args');
}

export interface CaseResult {
  case: Case;
  /** Rule ids ModSecurity matched on variables the engine was given. */
  modsec: number[];
  ours: number[];
  /** ModSecurity's matches on variables the figure tests do not hand the engine (`id VARIABLE`). */
  outOfScope: string[];
}

/** What a chained rule's last link reads (the previous link's match, its captures): ModSecurity names these. */
const CHAIN_VARIABLE = /^(MATCHED_VARS?|TX:\d)(:|$)/;

/** Compares one case's verdicts. */
export function compareCase(c: Case, matches: readonly ModsecMatch[], engine: CrsEngine): CaseResult {
  const scope = new Set(c.values.map((v) => normaliseVariable(variableName(v))));
  const modsec = new Set<number>();
  const outOfScope = new Set<string>();
  for (const m of matches) {
    if (m.variable === '' || CHAIN_VARIABLE.test(m.variable) || scope.has(normaliseVariable(m.variable)))
      modsec.add(m.id);
    else outOfScope.add(`${m.id} ${m.variable}`);
  }
  const ours = [...new Set(engine.evaluate(c.values).matches.map((m) => m.id))].sort((a, b) => a - b);
  return { case: c, modsec: [...modsec].sort((a, b) => a - b), ours, outOfScope: [...outOfScope] };
}

export interface Tally {
  cases: number;
  /** Cases where both sides match exactly the same rule ids. */
  agree: number;
  /** Per rule id: cases where both matched it, only ModSecurity, only the engine. */
  byRule: Map<number, { both: number; modsecOnly: number; oursOnly: number }>;
  /** Cases at or over the threshold per side (scores from the compiled rules). */
  modsecFlagged: number;
  oursFlagged: number;
}

export function tally(results: readonly CaseResult[], scoreOf: (id: number) => number, threshold: number): Tally {
  const t: Tally = { cases: results.length, agree: 0, byRule: new Map(), modsecFlagged: 0, oursFlagged: 0 };
  const score = (ids: readonly number[]) => ids.reduce((s, id) => s + scoreOf(id), 0);
  for (const r of results) {
    const m = new Set(r.modsec);
    const o = new Set(r.ours);
    if (m.size === o.size && [...m].every((id) => o.has(id))) t.agree++;
    for (const id of new Set([...m, ...o])) {
      let e = t.byRule.get(id);
      if (e === undefined) t.byRule.set(id, (e = { both: 0, modsecOnly: 0, oursOnly: 0 }));
      if (m.has(id) && o.has(id)) e.both++;
      else if (m.has(id)) e.modsecOnly++;
      else e.oursOnly++;
    }
    if (score(r.modsec) >= threshold) t.modsecFlagged++;
    if (score(r.ours) >= threshold) t.oursFlagged++;
  }
  return t;
}

function main(argv: readonly string[]): void {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i === -1 ? undefined : argv[i + 1];
  };
  const dir = arg('--crs') ?? CRS4_RULES;
  const pl = Number(arg('--pl') ?? 1);
  const sample = arg('--sample') === undefined ? undefined : Number(arg('--sample'));
  const only = arg('--corpus');
  const threshold = 5;
  const harness = compileHarness();
  if ('error' in harness) throw new Error(`cannot build the ModSecurity harness: ${harness.error}`);
  const compiled = compileCrsDirectory(dir);
  const engine = new CrsEngine(compiled, { paranoiaLevel: pl, detectors: LIBINJECTION_DETECTORS });
  const scores = new Map(compiled.rules.map((r) => [r.id, r.score]));
  console.log(`CRS ${compiled.version ?? '?'} (${dir}), PL${pl}; skipped by the engine: ${compiled.skipped.length}`);
  const corpora: Case[][] = [englishCases(), apiCases(2000), ...ATTACK_CORPORA.map((c) => attackCases(c))]
    .filter((cs) => only === undefined || cs[0]?.corpus === only)
    .map((cs) => (sample === undefined ? cs : cs.slice(0, sample)))
    .map((cs) => (argv.includes('--whole') ? cs.map(wholeRequest) : cs));
  for (const cases of corpora) {
    const started = Date.now();
    const matches = runModSecurity(
      harness.bin,
      ruleFiles(dir),
      pl,
      threshold,
      cases.map((c) => c.request),
    );
    const results = cases.map((c, i) => compareCase(c, matches[i]!, engine));
    const t = tally(results, (id) => scores.get(id) ?? 0, threshold);
    console.log(
      `\n## ${cases[0]?.corpus}: ${t.cases} cases, ${t.agree} with the same rule ids (${((100 * t.agree) / t.cases).toFixed(1)} %); ` +
        `score >= ${threshold}: ModSecurity ${t.modsecFlagged}, Bulwark ${t.oursFlagged} (${Date.now() - started} ms)`,
    );
    for (const [id, e] of [...t.byRule].sort((a, b) => a[0] - b[0])) {
      const flag = e.modsecOnly + e.oursOnly > 0 ? '  <-- differs' : '';
      console.log(`  ${id}: both ${e.both}, only ModSecurity ${e.modsecOnly}, only Bulwark ${e.oursOnly}${flag}`);
    }
    const outOfScope = new Map<string, number>();
    for (const r of results)
      for (const o of r.outOfScope) {
        const key = o.replace(/:.*/, '');
        outOfScope.set(key, (outOfScope.get(key) ?? 0) + 1);
      }
    if (outOfScope.size > 0) {
      console.log(
        `  ModSecurity matches on variables the figure tests do not scan: ${[...outOfScope].map(([k, n]) => `${k} ×${n}`).join(', ')}`,
      );
    }
    for (const r of results) {
      const m = new Set(r.modsec);
      const o = new Set(r.ours);
      const onlyM = r.modsec.filter((id) => !o.has(id));
      const onlyO = r.ours.filter((id) => !m.has(id));
      if (onlyM.length + onlyO.length === 0) continue;
      console.log(
        `  - only ModSecurity [${onlyM.join(' ')}] only Bulwark [${onlyO.join(' ')}]: ${JSON.stringify(r.case.label)}`,
      );
    }
  }
}

if (require.main === module) main(process.argv.slice(2));
