// Every plugin's reason codes (the `reason` of its security events): unique, lower snake case (what
// plugins/lib/security-event.ts accepts), and each one in the plugin README's "Reason codes" table.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { API_KEY_REASONS } from '../../plugins/bulwark-api-key';
import { REASONS as DOCS_REASONS } from '../../plugins/bulwark-docs/handler';
import { OAUTH2_REASONS } from '../../plugins/bulwark-oauth2';
import { RATE_LIMIT_REASONS } from '../../plugins/bulwark-rate-limit';
import { TRANSPORT_REASONS } from '../../plugins/bulwark-transport';
import { UPSTREAM_TRUST_REASONS } from '../../plugins/bulwark-upstream-trust';
import { VALIDATOR_REASONS, validatorReason } from '../../plugins/bulwark-validator/reasons';
import { isReasonCode } from '../../plugins/lib/security-event';

const PLUGINS: [string, Record<string, string>][] = [
  ['bulwark-api-key', API_KEY_REASONS],
  ['bulwark-docs', DOCS_REASONS],
  ['bulwark-oauth2', OAUTH2_REASONS],
  ['bulwark-rate-limit', RATE_LIMIT_REASONS],
  ['bulwark-transport', TRANSPORT_REASONS],
  ['bulwark-upstream-trust', UPSTREAM_TRUST_REASONS],
  ['bulwark-validator', VALIDATOR_REASONS],
];

function reasonTable(plugin: string): string {
  const readme = fs.readFileSync(path.join(__dirname, '../../plugins', plugin, 'README.md'), 'utf8');
  const start = readme.indexOf('## Reason codes');
  if (start === -1) return '';
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

describe.each(PLUGINS)('%s reason codes', (plugin, reasons) => {
  const codes = Object.values(reasons);

  test('unique, and each a well-formed reason code', () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect({ code: c, ok: isReasonCode(c) }).toEqual({ code: c, ok: true });
    expect(codes).toContain('allowed');
  });

  test('the README reason table lists every code, and no other', () => {
    const table = reasonTable(plugin);
    const documented = [...table.matchAll(/^\| `([a-z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...codes].sort());
  });
});

test("the validator's status → reason map covers every refusal status validate.ts uses", () => {
  expect([400, 404, 405, 413, 415].map(validatorReason)).toEqual([
    'validation_failed',
    'no_operation',
    'method_not_allowed',
    'body_too_large',
    'unsupported_media_type',
  ]);
});
