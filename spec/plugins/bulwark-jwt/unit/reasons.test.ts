// bulwark-jwt's reason codes (reasons.ts): every token rejection the verifier can produce is one of them, and the
// README documents each; the handler logs the codes it decides itself.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JWT_REASONS } from '../../../../plugins/bulwark-jwt';
import { DESCRIPTIONS } from '../../../../plugins/bulwark-jwt/verifier';

const codes = Object.values(JWT_REASONS) as string[];
const readme = fs.readFileSync(path.join(__dirname, '../../../../plugins/bulwark-jwt/README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Reason codes'), readme.indexOf('## The caller identity'));

describe('JWT_REASONS', () => {
  test('codes are unique snake_case', () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });

  test('every rejection reason of the verifier is a documented code', () => {
    for (const reason of Object.keys(DESCRIPTIONS)) expect(codes).toContain(reason);
  });

  test('the README reason table lists every code', () => {
    for (const c of codes)
      expect({ code: c, documented: section.includes(`\`${c}\``) }).toEqual({ code: c, documented: true });
  });
});
