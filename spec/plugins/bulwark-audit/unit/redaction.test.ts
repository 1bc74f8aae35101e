// Redaction planning (pure) and the event reference in the README (every reason code constant listed there).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileRedaction, redactionEdits, redactQuery, redactUri } from '../../../../plugins/bulwark-audit/redaction';
import { COMMON_REASONS } from '../../../../plugins/lib/security-event';
import { BOUNDED_READ_REASONS } from '../../../../plugins/lib/bounded-reads';

const r = compileRedaction({ headers: ['X-Partner-Secret'], query: ['session_key'], cookies: [] });

test('query values are replaced, names kept, other parameters untouched; case-insensitive; operator names added', () => {
  expect(redactQuery('a=1&APIKEY=k&session_key=s&b', r.query)).toEqual({
    query: 'a=1&APIKEY=REDACTED&session_key=REDACTED&b',
    changed: true,
    names: ['apikey', 'session_key'],
  });
  expect(redactUri('/p?x=1', r.query)).toBe('/p?x=1');
  expect(redactUri('/p?access%5Ftoken=t', r.query)).toBe('/p?access%5Ftoken=REDACTED');
});

test('serializer edits: headers present only, query copies, upstream_uri; nothing for a clean request', () => {
  expect(redactionEdits({ accept: ['*/*'] }, '/p?x=1', undefined, r)).toEqual([]);
  expect(
    redactionEdits(
      { 'x-api-key': ['k'], 'x-partner-secret': ['s'], authorization: ['Bearer t'] },
      '/p?apikey=k',
      { scheme: 'https', host: 'api.example.com', port: 443 },
      r,
    ),
  ).toEqual([
    { key: 'request.headers.x-api-key', value: 'REDACTED', mode: 'replace' },
    { key: 'request.headers.x-partner-secret', value: 'REDACTED', mode: 'replace' },
    { key: 'request.querystring.apikey', value: 'REDACTED', mode: 'replace' },
    { key: 'request.uri', value: '/p?apikey=REDACTED', mode: 'replace' },
    { key: 'request.url', value: 'https://api.example.com:443/p?apikey=REDACTED', mode: 'replace' },
    { key: 'upstream_uri', value: 'REDACTED', mode: 'replace' },
  ]);
});

test('the README event reference lists every reason code constant', () => {
  const readme = fs.readFileSync(
    path.join(__dirname, '..', '..', '..', '..', 'plugins', 'bulwark-audit', 'README.md'),
    'utf8',
  );
  for (const reason of [...Object.values(COMMON_REASONS), ...Object.values(BOUNDED_READ_REASONS)])
    expect(readme).toContain(`\`${reason}\``);
});
