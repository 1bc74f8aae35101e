// What the engine-equivalence tests (literal-prefilter, phrase-scan, repeated-values) share: the corpora under
// spec/fixtures, the two CRS rule sets they compare on, and the per-value corpus that compares an engine feature
// on and off value by value; and the detectors' corpus (libinjection-equivalence, libinjection-c).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultScanLimits } from '../../../plugins/bulwark-threat-protection/config';
import { type RequestValue } from '../../../plugins/bulwark-threat-protection/crs/model';
import { buildRequestModel } from '../../../plugins/bulwark-threat-protection/request-model';
import { kongStringByteString } from '../../../plugins/lib/kong-strings';
import { realisticRequest, seeded } from '../../../scripts/bench/threat-traffic';

const FIXTURES = join(__dirname, '../../fixtures');

/** The non-blank lines of a file under spec/fixtures. */
export function fixtureLines(file: string): string[] {
  return readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/** Every payload of the attack lists, as the lists spell them. */
export function attackPayloads(): string[] {
  return ['sqli', 'xss', 'traversal', 'cmdi', 'nosqli'].flatMap((c) => fixtureLines(`attacks/${c}.txt`));
}

/** The first 500 sentences of english-text.txt. */
export function englishSentences(): string[] {
  return fixtureLines('benign/english-text.txt').slice(0, 500);
}

/** The values of `count` generated API requests (scripts/bench/threat-traffic.ts, seeded), one list per request. */
export function generatedRequestValues(seed: number, count: number): RequestValue[][] {
  const rnd = seeded(seed);
  const limits = defaultScanLimits();
  const requests: RequestValue[][] = [];
  for (let i = 0; i < count; i++) {
    const m = buildRequestModel(realisticRequest(rnd), ['user-agent', 'referer'], limits, 'refuse');
    if (m.ok) requests.push(m.values);
  }
  return requests;
}

/** CRS 4.28.0 (spec/fixtures) and Debian's CRS 3.3 where installed: [test name, rule directory, present]. */
export const EQUIVALENCE_RULE_SETS: readonly (readonly [string, string, boolean])[] = [
  ['CRS 4.28.0', join(FIXTURES, 'crs4/rules')],
  ['CRS 3.3 (Debian modsecurity-crs)', '/usr/share/modsecurity-crs/rules'],
].map(([name, dir]) => [name!, dir!, existsSync(dir!)] as const);

/** Attack payloads in the collections CRS rules target (query arguments, cookies, headers, argument names),
 * 500 english sentences as a form field and the values of 50 generated API requests. */
export function corpusValues(): RequestValue[] {
  const values: RequestValue[] = [];
  attackPayloads().forEach((payload, i) => {
    const value = kongStringByteString(payload);
    values.push({ collection: 'ARGS_GET', name: 'q', value });
    if (i % 20 === 1) values.push({ collection: 'REQUEST_COOKIES', name: 'session', value });
    if (i % 20 === 2) values.push({ collection: 'REQUEST_HEADERS', name: 'user-agent', value });
    if (i % 20 === 3) values.push({ collection: 'ARGS_POST_NAMES', name: value, value });
  });
  for (const s of englishSentences())
    values.push({ collection: 'ARGS_POST', name: 'text', value: kongStringByteString(s) });
  for (const request of generatedRequestValues(7, 50)) values.push(...request);
  return values;
}

const utf8Bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const nonEmptyLines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');
const decoded = (l: string): string => {
  try {
    return unescape(l.replace(/\+/g, ' '));
  } catch {
    return l;
  }
};

/** Every corpus value under spec/fixtures that the detectors are meant for (attack lists, English text,
 * libinjection's data sets and test inputs), as text and as UTF-8 bytes, raw and decoded, in several spellings. */
export function libinjectionCorpus(): string[] {
  const out: string[] = [];
  const add = (v: string) => {
    out.push(v, utf8Bytes(v));
  };
  for (const f of readdirSync(join(FIXTURES, 'attacks')).filter((n) => n.endsWith('.txt'))) {
    for (const l of nonEmptyLines(readFileSync(join(FIXTURES, 'attacks', f), 'utf8'))) add(l);
  }
  for (const l of nonEmptyLines(readFileSync(join(FIXTURES, 'benign/english-text.txt'), 'utf8'))) add(l);
  const data = join(FIXTURES, 'libinjection/data');
  for (const f of readdirSync(data).filter((n) => n.endsWith('.txt'))) {
    for (const l of nonEmptyLines(readFileSync(join(data, f), 'latin1'))) out.push(l, decoded(l));
  }
  const tests = join(FIXTURES, 'libinjection/tests');
  for (const f of readdirSync(tests)) {
    const text = readFileSync(join(tests, f), 'latin1');
    const i = text.indexOf('--INPUT--\n');
    const e = text.indexOf('\n--EXPECTED--');
    if (i !== -1 && e !== -1) out.push(text.slice(i + '--INPUT--\n'.length, e));
  }
  // The spellings CRS's transformations hand the detectors (lowercase, URL-decoded), and upper case.
  return [...new Set(out.flatMap((v) => [v, v.toLowerCase(), v.toUpperCase(), decoded(v)]))];
}
