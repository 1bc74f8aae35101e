// Compiled rule sets are cached per process by the content of the rule files (crsContentKey), not by path: the
// same rules elsewhere share one compilation (instance start in milliseconds), and rules changed in place are
// compiled again (a CRS upgrade is not served from a stale cache).
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseThreatProtectionConfig } from '../../../plugins/bulwark-threat-protection/config';
import { crsContentKey } from '../../../plugins/bulwark-threat-protection/crs/compile';

const CRS4 = join(__dirname, '../../fixtures/crs4/rules');
const LFI = 'REQUEST-930-APPLICATION-ATTACK-LFI.conf';

describe('rule-set cache by content', () => {
  let copy: string;
  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'bulwark-crs-'));
    cpSync(CRS4, copy, { recursive: true });
  });
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  test('the same rules at another path share the compiled engine; changed rules are compiled again', async () => {
    const config = (crs_path: string) => parseThreatProtectionConfig({ crs_path, rule_families: ['930'] });
    const original = config(CRS4);
    expect(config(copy).rules).toBe(original.rules);
    expect(crsContentKey(copy, ['930'])).toBe(crsContentKey(CRS4, ['930']));

    appendFileSync(join(copy, LFI), '\n# a local change\n');
    expect(crsContentKey(copy, ['930'])).not.toBe(crsContentKey(CRS4, ['930']));
    const changed = config(copy);
    expect(changed.rules).not.toBe(original.rules);
    const [a, b] = await Promise.all([original.rules.ready, changed.rules.ready]);
    expect(a.activeRuleIds.length).toBeGreaterThan(0);
    expect(b.activeRuleIds).toEqual(a.activeRuleIds);
  }, 120_000);

  test('the key covers the families chosen and the .data files', () => {
    expect(crsContentKey(CRS4, ['930'])).not.toBe(crsContentKey(CRS4, ['930', '942']));
    const before = crsContentKey(copy, ['930']);
    appendFileSync(join(copy, 'lfi-os-files.data'), '\n.local-secret\n');
    expect(crsContentKey(copy, ['930'])).not.toBe(before);
  });
});
