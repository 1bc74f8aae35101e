// The regular expression the README publishes, in a real scanner's rule format: a gitleaks configuration file
// (TOML, `[[rules]]` with `regex` and `keywords`) read with a TOML parser, the regex compiled with RE2 (re2js: the
// syntax and semantics of Go's regexp, which gitleaks and trufflehog use), applied as gitleaks does (a fragment is
// scanned only when it contains one of the rule's keywords, case-insensitively). It must find generated keys in
// the places keys leak to, and not near-misses.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RE2JS } from 're2js';
import { parse as parseToml } from 'smol-toml';
import { generateKey, keyPattern, parseKey } from '../../../../plugins/bulwark-api-key/key-format';

const FIXTURE = path.join(__dirname, '..', '..', '..', 'fixtures', 'api-key', 'gitleaks.toml');
const README = path.join(__dirname, '..', '..', '..', '..', 'plugins', 'bulwark-api-key', 'README.md');

interface GitleaksRule {
  id: string;
  regex: string;
  keywords: string[];
}

const config = parseToml(fs.readFileSync(FIXTURE, 'utf8')) as unknown as { rules: GitleaksRule[] };
const rule = config.rules.find((r) => r.id === 'bulwark-api-key')!;
const re = RE2JS.compile(rule.regex);

/** What gitleaks reports for one fragment: the matches of the rule, if a keyword is present. */
function gitleaksFindings(fragment: string): string[] {
  const lower = fragment.toLowerCase();
  if (!rule.keywords.some((k) => lower.includes(k.toLowerCase()))) return [];
  const m = re.matcher(fragment);
  const out: string[] = [];
  while (m.find()) out.push(m.group() ?? '');
  return out;
}

test('the fixture rule is the pattern the plugin computes and the README publishes', () => {
  expect(rule.regex).toBe(keyPattern(['bwk_live', 'bwk_test']));
  const readme = fs.readFileSync(README, 'utf8');
  expect(readme).toContain(rule.regex);
  expect(readme).toContain(keyPattern(['bwk_live']));
});

test('finds generated keys where keys leak: env files, JSON, shell history, URLs, logs', () => {
  for (let i = 0; i < 50; i++) {
    const live = generateKey('bwk_live');
    const test = generateKey('bwk_test');
    const fragments = [
      `BULWARK_API_KEY=${live}`,
      `{"apiKey":"${live}","other":"${test}"}`,
      `curl -H 'x-api-key: ${live}' https://api.example.com/orders`,
      `GET /orders?apikey=${live}&x=1 HTTP/1.1`,
      `2026-11-30T12:00:00Z key=${test} status=401`,
    ];
    for (const f of fragments) {
      const found = gitleaksFindings(f);
      expect(found.length).toBeGreaterThanOrEqual(1);
      for (const k of found) expect(parseKey(k, new Set(['bwk_live', 'bwk_test'])).ok).toBe(true);
    }
  }
});

test('does not match near-misses', () => {
  const key = generateKey('bwk_live');
  const body = key.slice('bwk_live_'.length);
  const nearMisses = [
    `bwk_live_${body.slice(1)}`, // random part one short
    `bwk_live_x${body}`, // one long
    `${key}Z`, // checksum seven characters
    `${key}_more`, // continues as a word
    `xbwk_live_${body}`, // inside a longer word
    `bwk_prod_${body}`, // another prefix
    `BWK_LIVE_${body}`, // case matters for the prefix (the keyword filter does not, the regex does)
    `bwk_live_${body.replace(/^(.{5})./, '$1-')}`, // a character outside base62
    `bwk_live-${body}`, // wrong separator
  ];
  for (const f of nearMisses) expect({ f, found: gitleaksFindings(f) }).toEqual({ f, found: [] });
});

test('a look-alike with a wrong checksum matches the regex (scanners cannot compute CRC32) but the plugin refuses it unlooked-up', () => {
  const key = generateKey('bwk_live');
  const forged = key.slice(0, -1) + (key.endsWith('0') ? '1' : '0');
  expect(gitleaksFindings(forged)).toEqual([forged]);
  expect(parseKey(forged, new Set(['bwk_live']))).toEqual({ ok: false, reason: 'checksum' });
});
