// bulwark-authz's reason codes (reasons.ts): unique, documented in the README, and what decide() reports.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AUTHZ_REASONS } from '../../../../plugins/bulwark-authz';
import { parseAuthzConfig } from '../../../../plugins/bulwark-authz/config';
import { decide } from '../../../../plugins/bulwark-authz/decide';

const codes = Object.values(AUTHZ_REASONS) as string[];
const readme = fs.readFileSync(path.join(__dirname, '../../../../plugins/bulwark-authz/README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Reason codes'), readme.indexOf('### Which operations'));

describe('AUTHZ_REASONS', () => {
  test('codes are unique snake_case and each is in the README reason table', () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) {
      expect(c).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect({ code: c, documented: section.includes(`| \`${c}\` |`) }).toEqual({ code: c, documented: true });
    }
  });

  test('decide() reports the exported codes', () => {
    const conf = parseAuthzConfig({ rules: [{ name: 'a', path: '/a', methods: ['GET'], scopes_all: ['s'] }] });
    const none = decide(conf, undefined, { method: 'GET', path: '/b', query: {}, headers: undefined });
    expect(none).toMatchObject({ outcome: 'deny', reason: AUTHZ_REASONS.noRuleForOperation });
    const anon = decide(conf, undefined, { method: 'GET', path: '/a', query: {}, headers: undefined });
    expect(anon).toMatchObject({ outcome: 'deny', reason: AUTHZ_REASONS.unauthenticated });
  });
});
