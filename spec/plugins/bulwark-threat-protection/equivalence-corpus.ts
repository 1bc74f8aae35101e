// What the engine-equivalence tests (literal-prefilter, phrase-scan, repeated-values) share: the corpora under
// spec/fixtures, the two CRS rule sets they compare on, and the per-value corpus that compares an engine feature
// on and off value by value.
import { existsSync, readFileSync } from 'node:fs';
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
