// The reason codes are a contract (docs: the security-event contract's `reason`): alerting rules match on them.
// This pins the values and checks the README documents each one, so renaming one is a visible, deliberate change.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { topRuleId } from '../../../plugins/bulwark-threat-protection/handler';
import { REASON } from '../../../plugins/bulwark-threat-protection/reasons';

describe('bulwark-threat-protection reason codes', () => {
  test('the exported values are stable', () => {
    expect(Object.values(REASON).sort()).toEqual([
      'allowed',
      'body_too_large',
      'invalid_content_length',
      'malformed_body',
      'passed_unscanned',
      'rules_failed',
      'rules_not_ready',
      'scan_failed',
      'scan_limit_exceeded',
      'threat_detected',
      'too_many_headers',
      'too_many_query_arguments',
    ]);
  });

  test('the README lists every reason code', () => {
    const readme = readFileSync(join(__dirname, '../../../plugins/bulwark-threat-protection/README.md'), 'utf8');
    for (const reason of Object.values(REASON)) expect(readme).toContain(`\`${reason}\``);
  });

  test('rule_id is the highest-scoring matched rule, the first of equals', () => {
    const match = (id: number, score: number) => ({ id, score, category: 'sqli', severity: 'x', locations: [] });
    expect(topRuleId({ score: 0, categoryScores: {}, matches: [] })).toBeUndefined();
    const e = { score: 13, categoryScores: {}, matches: [match(942100, 3), match(942190, 5), match(942200, 5)] };
    expect(topRuleId(e)).toBe('942190');
  });
});
