// The request model was rewritten for speed (issue #17: JSON flattened in the guard's one pass, strings taken as the
// client's bytes without decoding and re-encoding, no per-value allocations beyond the value). It must return exactly
// what the previous builder returned, frozen in scripts/bench/request-model-reference: the same values in the same
// order with the same names, the same unscanned list, the same refusals (status, reason, detail). Compared over the
// realistic mix and 10 KB bodies of threat-traffic.ts, hand-written hostile requests, every limit in both on_limit
// modes, and seeded random JSON documents with and without a corrupted byte.
import type { LimitAction, ScanLimits } from '../../../plugins/bulwark-threat-protection/config';
import { defaultScanLimits } from '../../../plugins/bulwark-threat-protection/config';
import {
  buildRequestModel,
  jsonNumberText,
  type ModelResult,
  type RequestSnapshot,
} from '../../../plugins/bulwark-threat-protection/request-model';
import { referenceBuildRequestModel } from '../../../scripts/bench/request-model-reference/request-model';
import { jsonBodyOfSize, realisticRequest, seeded } from '../../../scripts/bench/threat-traffic';

const DEFAULTS = defaultScanLimits();
const HEADERS = ['user-agent', 'referer', 'x-forwarded-for'];

/** Small limits, so that every cap (and each JSON guard limit) is reached by short inputs. */
const SMALL: ScanLimits = {
  maxBodySize: 1 << 20,
  maxValueBytes: 24,
  maxRequestBytes: 400,
  maxValues: 12,
  json: { maxDepth: 3, maxArrayLength: 4, maxObjectEntries: 4, maxKeyLength: 6, maxStringLength: 30 },
};

const LIMIT_SETS: [string, ScanLimits][] = [
  ['default limits', DEFAULTS],
  ['small limits', SMALL],
];
const ACTIONS: LimitAction[] = ['refuse', 'scan_prefix'];

interface Case {
  label: string;
  request: RequestSnapshot;
}

/** Every (limits, on_limit) combination where the builders disagree, with both results. */
function differences(
  cases: Case[],
): { label: string; limits: string; onLimit: LimitAction; now: ModelResult; before: ModelResult }[] {
  const out = [];
  for (const { label, request } of cases) {
    for (const [limitsName, limits] of LIMIT_SETS) {
      for (const onLimit of ACTIONS) {
        const now = buildRequestModel(request, HEADERS, limits, onLimit);
        const before = referenceBuildRequestModel(request, HEADERS, limits, onLimit);
        if (JSON.stringify(now) !== JSON.stringify(before))
          out.push({ label, limits: limitsName, onLimit, now, before });
      }
    }
  }
  return out;
}

const json = (body: string | Uint8Array, contentType = 'application/json', extra: Record<string, string[]> = {}) => ({
  method: 'POST',
  pathWithQuery: '/v1/items',
  headers: { 'content-type': [contentType], ...extra },
  body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
});

const get = (pathWithQuery: string, headers: Record<string, string[]> = {}): RequestSnapshot => ({
  method: 'GET',
  pathWithQuery,
  headers,
});

function jsonCases(): Case[] {
  const docs: Record<string, string | Uint8Array> = {
    'nested objects and arrays': '{"items":[{"name":"a","tags":["x","y"]},{"name":"b","qty":2}],"n":null}',
    'top-level scalar string': '"hello"',
    'top-level number': '42',
    'top-level null': 'null',
    'top-level true': 'true',
    'top-level array of scalars': '[1,"two",false,null,{"k":""}]',
    'empty containers': '{"a":{},"b":[],"c":[[]],"d":""}',
    'numbers as JSON.parse prints them':
      '[0,-0,1.0,1.50,1e2,1E+2,-1e-7,123456789012345,1234567890123456,12345678901234567890,1e400,-1e400,0.1,5e-324,-12]',
    'escapes decoded to UTF-8 bytes': '{"s":"a\\n\\t\\"\\\\\\/\\b\\f\\r\\u0000\\u00e9\\u20ac\\ud83d\\ude00x"}',
    'escaped member names': '{"\\u0061b":1,"c\\"d":2,"\\ud83d\\ude00":3,"é":4}',
    'non-ASCII text as the bytes': '{"name":"Siobhán Müller — 東京 😀","é":"ü"}',
    'array-index member names come first, ascending':
      '{"b":1,"10":2,"2":3,"01":4,"-1":5,"4294967294":6,"4294967295":7,"0":8,"a":{"9":1,"x":2,"3":3},"1.5":9}',
    'array-index names nested in arrays': '[{"z":1,"1":[{"k":1,"0":2}],"0":"first"},{"7":{"5":"v"}}]',
    '__proto__ and constructor members': '{"__proto__":{"a":1},"constructor":"x","toString":"y"}',
    'names with dots and brackets': '{"a.b":{"c[d]":"e"},"":"empty name","array_0":"x"}',
    'long string over max_value_bytes': `{"k":"${'A'.repeat(70000)}"}`,
    'many values': `{"a":[${Array.from({ length: 2100 }, (_, i) => i).join(',')}]}`,
    'array-index member over 200,000 leaves': `{"b":1,"0":[${Array.from({ length: 20 }, () => `[${'1,'.repeat(9999)}1]`).join(',')}]}`,
    'deep nesting at the limit': `${'['.repeat(64)}1${']'.repeat(64)}`,
    'deep nesting over the limit': `${'['.repeat(65)}1${']'.repeat(65)}`,
    'deep nesting 10000': `${'['.repeat(10000)}${']'.repeat(10000)}`,
    'many keys at the limit': `{${Array.from({ length: 1000 }, (_, i) => `"k${i}":${i}`).join(',')}}`,
    'many keys over the limit': `{${Array.from({ length: 1001 }, (_, i) => `"k${i}":${i}`).join(',')}}`,
    'duplicate keys': '{"a":1,"b":2,"a":3}',
    'duplicate keys, one escaped': '{"a":1,"\\u0061":2}',
    'duplicate keys nested': '{"x":{"a":1},"y":{"a":1,"a":2}}',
    'duplicate keys in a big object': `{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')},"k17":0}`,
    'lone surrogate': '{"a":"\\ud800"}',
    'lone low surrogate': '{"a":"\\udc80x"}',
    BOM: '\ufeff{"a":1}',
    'trailing comma': '{"a":[1,2,],"b":1}',
    truncated: '{"a":[1,2',
    'unterminated string': '{"a":"abc',
    'control character in a string': '{"a":"a\u0001b"}',
    'invalid escape': '{"a":"\\x41"}',
    'data after the value': '{"a":1} {"b":2}',
    'empty body text': '   ',
    'bad literal': '{"a":tru}',
    'bad number': '{"a":01}',
    'syntax error after a limit is exceeded': `{"k":"${'A'.repeat(70000)}",}`,
    'long key': `{"${'k'.repeat(300)}":1}`,
    'long string over the guard limit': `{"k":"${'é'.repeat(65537)}"}`,
    invalid_utf8: Buffer.concat([Buffer.from('{"a":"x'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
    'truncated UTF-8': Buffer.concat([Buffer.from('{"a":"x'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]),
    'encoded surrogate': Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
    'invalid UTF-8 in a key': Buffer.concat([Buffer.from('{"'), Buffer.from([0xa0]), Buffer.from('":1}')]),
    'SQL in a value': '{"q":"1\' OR \'1\'=\'1","n":"<script>alert(1)</script>"}',
  };
  const cases: Case[] = [];
  for (const [label, body] of Object.entries(docs)) {
    cases.push({ label: `JSON: ${label}`, request: json(body) });
  }
  cases.push({ label: 'JSON: +json subtype', request: json('{"a":[1]}', 'application/problem+json; charset=utf-8') });
  cases.push({ label: 'JSON: upper-case media type', request: json('{"a":[1]}', 'Application/JSON') });
  cases.push({ label: 'JSON: text/json is not read as JSON', request: json('{"a":[1]}', 'text/json') });
  return cases;
}

function multipart(parts: string[], boundary = 'XyZ'): Buffer {
  return Buffer.from(`${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`, 'latin1');
}

function otherBodyCases(): Case[] {
  const cases: Case[] = [];
  const form = 'application/x-www-form-urlencoded';
  const add = (label: string, body: string | Uint8Array, contentType?: string) =>
    cases.push({
      label,
      request: {
        method: 'POST',
        pathWithQuery: '/form',
        headers: contentType === undefined ? {} : { 'content-type': [contentType] },
        body: typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
      },
    });
  add('form', 'a=1&b=%27%20OR%201%3D1&c=x+y&&d&=v&e=%zz%4&f=%A0&g=a=b', form);
  add('form with charset', 'name=J%C3%B6rg&x=%FF%FE', `${form}; charset=UTF-8`);
  add('form, many fields', Array.from({ length: 3000 }, (_, i) => `f${i}=${i}`).join('&'), form);
  add('form, no = anywhere but the end', `${'a&'.repeat(2000)}z=1`, form);
  add('form, one huge value', `v=${'x'.repeat(70000)}`, form);
  add('no content type', '{"a":1}');
  add('unknown content type', '<xml>1</xml>', 'application/xml');
  add('malformed content type', 'x', 'not a media type');
  add('empty body', '', 'application/json');
  add(
    'multipart',
    multipart([
      'Content-Disposition: form-data; name="title"\r\n\r\nHello \' OR 1=1',
      'Content-Disposition: form-data; name="file"; filename="../../etc/passwd"\r\nContent-Type: text/plain\r\n\r\nroot:x',
      'Content-Disposition: form-data; name="caf\xc3\xa9"\r\n\r\n\xa0bytes\xff',
      'Content-Disposition: form-data; name="empty"\r\n\r\n',
    ]),
    'multipart/form-data; boundary=XyZ',
  );
  add(
    'multipart without boundary',
    multipart(['Content-Disposition: form-data; name="a"\r\n\r\n1']),
    'multipart/form-data',
  );
  add(
    'multipart with a duplicate parameter',
    multipart(['Content-Disposition: form-data; name="a"; name="b"\r\n\r\n1']),
    'multipart/form-data; boundary=XyZ',
  );
  add(
    'multipart truncated',
    Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1'),
    'multipart/form-data; boundary=XyZ',
  );
  add(
    'multipart, many parts',
    multipart(Array.from({ length: 2100 }, (_, i) => `Content-Disposition: form-data; name="p${i}"\r\n\r\n${i}`)),
    'multipart/form-data; boundary=XyZ',
  );
  return cases;
}

function requestLineAndHeaderCases(): Case[] {
  const cases: Case[] = [];
  const add = (label: string, request: RequestSnapshot) => cases.push({ label, request });
  add('query with every kind of piece', get('/p/a.php?a=1&&b&=x&c=%27&d=a+b&e=%u0041&f=%zz&g=%A0%00&h=a=b=c&'));
  add('query of 8 KB', get(`/s?q=${'%41'.repeat(2700)}`));
  add('query of 500 arguments', get(`/s?${Array.from({ length: 500 }, (_, i) => `a${i}=${i}`).join('&')}`));
  add('query of 3000 arguments', get(`/s?${Array.from({ length: 3000 }, (_, i) => `a${i}=v`).join('&')}`));
  add('query, many flags then one =', get(`/s?${'f&'.repeat(3000)}x=1`));
  add('long argument names over the limits', get(`/s?${'n'.repeat(200)}=${'v'.repeat(100)}&${'m'.repeat(150)}=1`));
  add('empty query', get('/x?'));
  add('path only, no basename', get('/'));
  add('escaped bytes in path, query, headers and cookies', {
    method: 'GET',
    pathWithQuery: '/a\uDCE0b/c\uDCC0\uDCAF?q=\uDCA0&\uDCFF=1',
    headers: {
      'user-agent': ['\uDCE0<script>é'],
      referer: ['https://x/\uDCC0\uDCAF'],
      cookie: ['a=1\uDCA0OR\uDCA01=1; b=\uD83D\uDE00'],
    },
  });
  add('cookies of every shape', get('/', { cookie: ['a=1; b = 2 ;c;=v; ;d=e=f;\xa0g=\xa0h\xa0', 'x=y'] }));
  add('many cookies', get('/', { cookie: [Array.from({ length: 1100 }, (_, i) => `c${i}=${i}`).join('; ')] }));
  add(
    'headers: several values, mixed-case key, absent ones',
    get('/', {
      'User-Agent': ['UA 1'],
      'x-forwarded-for': ['1.2.3.4', '5.6.7.8'],
      authorization: ['Bearer secret'],
    }),
  );
  add('long header value', get('/', { 'user-agent': ['U'.repeat(70000)] }));
  add('long path', get(`/${'a/'.repeat(5000)}x`));
  return cases;
}

function trafficCases(): Case[] {
  const rnd = seeded(17);
  const cases: Case[] = [];
  for (let i = 0; i < 600; i++) cases.push({ label: `mix request ${i}`, request: realisticRequest(rnd) });
  for (let i = 0; i < 12; i++) cases.push({ label: `10 KB body ${i}`, request: jsonBodyOfSize(rnd, 10_240) });
  // In the engine thread a body arrives as a plain Uint8Array (not a Buffer), possibly a view into a larger one.
  for (const { label, request } of cases.slice(0, 50)) {
    if (request.body === undefined) continue;
    const padded = new Uint8Array(request.body.byteLength + 7);
    padded.set(request.body, 3);
    cases.push({
      label: `${label}, body as a Uint8Array view`,
      request: { ...request, body: padded.subarray(3, 3 + request.body.byteLength) },
    });
  }
  return cases;
}

/** A random JSON document from the characters and shapes the flattener treats differently. */
function randomJson(rnd: () => number, depth: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const scalar = () =>
    pick([
      () => JSON.stringify(pick(['', 'a', 'é', '\u0000', 'x"y', 'a\\b', '😀', "' OR 1=1", 'SELECT', 'é'.repeat(20)])),
      () => pick(['0', '-0', '1.0', '1e3', '-2.5E-3', '123456789012345678', '7']),
      () => pick(['true', 'false', 'null']),
      () =>
        `"\\u${Math.floor(rnd() * 0xd000)
          .toString(16)
          .padStart(4, '0')}"`,
    ])();
  const r = rnd();
  if (depth <= 0 || r < 0.4) return scalar();
  const n = Math.floor(rnd() * 5);
  if (r < 0.7) return `[${Array.from({ length: n }, () => randomJson(rnd, depth - 1)).join(',')}]`;
  const keys = ['a', 'b', '0', '1', '12', '01', 'é', '', 'a.b', '__proto__', 'k'];
  const members = Array.from({ length: n }, () => `${JSON.stringify(pick(keys))}:${randomJson(rnd, depth - 1)}`);
  return `{${members.join(',')}}`;
}

function randomJsonCases(): Case[] {
  const rnd = seeded(4242);
  const cases: Case[] = [];
  for (let i = 0; i < 1500; i++) {
    const text = Buffer.from(randomJson(rnd, 5), 'utf8');
    cases.push({ label: `random JSON ${i}: ${text.toString('latin1').slice(0, 80)}`, request: json(text) });
    // The same document with one byte replaced: syntax, UTF-8 and escape errors at every position.
    const broken = Buffer.from(text);
    if (broken.length > 0) {
      broken[Math.floor(rnd() * broken.length)] = pickByte(rnd);
      cases.push({
        label: `random JSON ${i}, one byte changed: ${broken.toString('latin1').slice(0, 80)}`,
        request: json(broken),
      });
    }
  }
  return cases;
}

function pickByte(rnd: () => number): number {
  const bytes = [0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d, 0x75, 0x30, 0x20, 0x01, 0x80, 0xc3, 0xff, 0xed];
  return rnd() < 0.8 ? bytes[Math.floor(rnd() * bytes.length)]! : Math.floor(rnd() * 256);
}

describe('the request model returns exactly what the previous builder returned', () => {
  test('on the realistic mix and 10 KB JSON bodies', () => {
    expect(differences(trafficCases())).toEqual([]);
  });

  test('on JSON bodies: nesting, many and duplicate keys, escapes, numbers, invalid UTF-8, every guard limit', () => {
    expect(differences(jsonCases())).toEqual([]);
  });

  test('on form, multipart and other bodies', () => {
    expect(differences(otherBodyCases())).toEqual([]);
  });

  test('on the request line, headers and cookies, raw bytes included', () => {
    expect(differences(requestLineAndHeaderCases())).toEqual([]);
  });

  test('on random JSON documents, intact and with one byte corrupted', () => {
    expect(differences(randomJsonCases())).toEqual([]);
  });

  test('the cases reach refusals of both kinds and the unscanned list', () => {
    // Otherwise the comparison above would prove less than it says.
    const all = [...jsonCases(), ...otherBodyCases(), ...requestLineAndHeaderCases(), ...randomJsonCases()];
    const seen = new Set<string>();
    for (const { request } of all) {
      for (const [, limits] of LIMIT_SETS) {
        for (const onLimit of ACTIONS) {
          const m = buildRequestModel(request, HEADERS, limits, onLimit);
          if (!m.ok) seen.add(`${m.status} ${m.reason}`);
          else if (m.unscanned.length > 0) seen.add('unscanned');
          else if (m.values.some((v) => v.collection === 'ARGS_POST')) seen.add('ARGS_POST');
        }
      }
    }
    expect([...seen].sort()).toEqual(['400 malformed_body', '413 scan_limit_exceeded', 'ARGS_POST', 'unscanned']);
  });
});

test('JSON numbers are written as String(JSON.parse(text)) writes them', () => {
  const rnd = seeded(99);
  const digits = (n: number) =>
    Array.from({ length: n }, () => (rnd() < 0.3 ? '0' : String(Math.floor(rnd() * 10)))).join('');
  const wrong: string[] = [];
  for (let i = 0; i < 200_000; i++) {
    const sign = rnd() < 0.3 ? '-' : '';
    const int = rnd() < 0.4 ? '0' : `${1 + Math.floor(rnd() * 9)}${digits(Math.floor(rnd() * 17))}`;
    const fraction = rnd() < 0.3 ? '' : `.${digits(1 + Math.floor(rnd() * 17))}`;
    const exponent = rnd() < 0.1 ? `${rnd() < 0.5 ? 'e' : 'E'}${rnd() < 0.5 ? '-' : '+'}${Math.floor(rnd() * 30)}` : '';
    const text = `${sign}${int}${fraction}${exponent}`;
    if (jsonNumberText(text, fraction === '' && exponent === '') !== String(JSON.parse(text) as number))
      wrong.push(text);
  }
  expect(wrong).toEqual([]);
});
