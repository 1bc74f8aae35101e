// Detection and false-positive figures at PL1, threshold 5, over the PayloadsAllTheThings lists (spec/fixtures/
// attacks), generated API traffic and english-text.txt, with CRS 4.28.0 and Debian's CRS 3.3, with the
// libinjection-class detectors behind @detectSQLi/@detectXSS (the plugin's engine) and without them (the rule set
// before they existed), side by side. The figures are printed; the assertions are floors and ceilings at the
// measured values (so a regression fails).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultScanLimits } from '../../../plugins/bulwark-threat-protection/config';
import { compileCrsDirectory } from '../../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine, type Detectors } from '../../../plugins/bulwark-threat-protection/crs/engine';
import { LIBINJECTION_DETECTORS } from '../../../plugins/bulwark-threat-protection/libinjection';
import { kongStringByteString } from '../../../plugins/lib/kong-strings';
import { buildRequestModel } from '../../../plugins/bulwark-threat-protection/request-model';
import { realisticRequest, seeded } from '../../../scripts/bench/threat-traffic';

const FIXTURES = join(__dirname, '../../fixtures');
const lines = (file: string) =>
  readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
const LIMITS = defaultScanLimits();
const HEADERS = ['user-agent', 'referer'];

export interface Figures {
  detection: Record<string, number>;
  apiFalsePositives: number;
  englishFalsePositives: number;
  /** English false positives that go when the word "time" is replaced (CRS's `time` command prefix). */
  englishTimePrefix: number;
}

export function measure(dir: string, detectors: Detectors | undefined): Figures {
  const engine = new CrsEngine(compileCrsDirectory(dir), { paranoiaLevel: 1, detectors });
  const detection: Record<string, number> = {};
  for (const cat of ['sqli', 'xss', 'traversal', 'cmdi', 'nosqli']) {
    const payloads = lines(`attacks/${cat}.txt`);
    const hit = payloads.filter(
      (p) => engine.evaluate([{ collection: 'ARGS_GET', name: 'q', value: kongStringByteString(p) }]).score >= 5,
    ).length;
    detection[cat] = hit / payloads.length;
  }
  const rnd = seeded(17);
  let fp = 0;
  const N = 2000;
  for (let i = 0; i < N; i++) {
    const model = buildRequestModel(realisticRequest(rnd), HEADERS, LIMITS, 'refuse');
    if (!model.ok) throw new Error(model.detail);
    if (engine.evaluate(model.values).score >= 5) fp++;
  }
  const english = lines('benign/english-text.txt');
  const flagged = (s: string) =>
    engine.evaluate([{ collection: 'ARGS_POST', name: 'text', value: kongStringByteString(s) }]).score >= 5;
  const efp = english.filter(flagged);
  return {
    detection,
    apiFalsePositives: fp / N,
    englishFalsePositives: efp.length / english.length,
    englishTimePrefix: efp.filter((s) => !flagged(s.replace(/time/gi, 'tide'))).length,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

const line = (name: string, f: Figures) =>
  `${name}: ${Object.entries(f.detection)
    .map(([k, v]) => `${k} ${pct(v)}`)
    .join(', ')}; false positives: API ${pct(f.apiFalsePositives)}, english ${pct(f.englishFalsePositives)}`;

describe('detection and false positives at PL1 (threshold 5)', () => {
  test('CRS 4.28.0, with and without the libinjection-class detectors', () => {
    const without = measure(join(FIXTURES, 'crs4/rules'), undefined);
    const f = measure(join(FIXTURES, 'crs4/rules'), LIBINJECTION_DETECTORS);
    console.log(`${line('CRS 4.28.0 without detectors', without)}\n${line('CRS 4.28.0 with detectors', f)}`);
    // The detectors are what brings SQLi from 69 % to the issue's 80 % and XSS from 89 % to its 90 %.
    expect(without.detection.sqli).toBeLessThan(0.8);
    expect(without.detection.xss).toBeLessThan(0.9);
    expect(f.detection.sqli).toBeGreaterThanOrEqual(0.8);
    expect(f.detection.xss).toBeGreaterThanOrEqual(0.9);
    expect(f.detection.traversal).toBeGreaterThanOrEqual(0.95);
    expect(f.detection.cmdi).toBeGreaterThanOrEqual(0.74);
    expect(f.detection.nosqli).toBeGreaterThanOrEqual(0.75);
    expect(f.apiFalsePositives).toBeLessThanOrEqual(0.005);
    // 1.08 % measured (33 of 3044 lines; the detectors add 3, README): over the issue's 1 %, pinned here. 17 of
    // them are CRS 4.28.0's `time` prefix in 932230/932235/932250 (`time` then any later command name: upstream
    // coreruleset/coreruleset#4214): without "time" those sentences pass.
    expect(f.englishFalsePositives).toBeLessThanOrEqual(0.011);
    expect(f.englishTimePrefix).toBe(17);
  }, 900_000);

  (existsSync('/usr/share/modsecurity-crs/rules') ? test : test.skip)(
    'CRS 3.3 (Debian modsecurity-crs), with the detectors',
    () => {
      const f = measure('/usr/share/modsecurity-crs/rules', LIBINJECTION_DETECTORS);
      console.log(line('CRS 3.3 with detectors', f));
      expect(f.detection.traversal).toBeGreaterThanOrEqual(0.9);
      expect(f.detection.xss).toBeGreaterThanOrEqual(0.89);
      expect(f.detection.sqli).toBeGreaterThanOrEqual(0.8);
      expect(f.apiFalsePositives).toBeLessThanOrEqual(0.005);
      expect(f.englishFalsePositives).toBeLessThanOrEqual(0.01);
    },
    600_000,
  );
});
