import { isValidBoundary, parseMultipart } from '../../plugins/lib/multipart';

const LIMITS = { maxParts: 10, maxHeaderBytes: 1024 };
const body = (boundary: string, parts: string[]) =>
  Buffer.from(parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('') + `--${boundary}--\r\n`);

describe('parseMultipart', () => {
  test('fields, files, part content types and binary content are kept', () => {
    const b = body('XyZ', [
      'Content-Disposition: form-data; name="title"\r\n\r\nHello\r\nworld',
      'Content-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n\u0000\u0001',
      'Content-Disposition: form-data; name="meta"\r\nContent-Type: application/json\r\n\r\n{"a":1}',
    ]);
    const r = parseMultipart(b, 'XyZ', LIMITS);
    if (!r.ok) throw new Error(r.reason);
    expect(r.parts.map((p) => [p.name, p.filename, p.contentType, Buffer.from(p.body).toString('latin1')])).toEqual([
      ['title', undefined, undefined, 'Hello\r\nworld'],
      ['file', 'a.bin', 'application/octet-stream', '\u0000\u0001'],
      ['meta', undefined, 'application/json', '{"a":1}'],
    ]);
  });

  test('a preamble is skipped, an empty part is allowed', () => {
    const b = Buffer.from('preamble\r\n--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n\r\n--b--');
    const r = parseMultipart(b, 'b', LIMITS);
    expect(r.ok && r.parts[0]!.body.length).toBe(0);
  });

  test.each([
    ['no boundary in the body', Buffer.from('hello'), 'b', 'does not start with the boundary'],
    [
      'truncated (no closing delimiter)',
      Buffer.from('--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nabc'),
      'b',
      'truncated',
    ],
    [
      'part without a name',
      Buffer.from('--b\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--b--'),
      'b',
      'without a form-data name',
    ],
    [
      'part without Content-Disposition',
      Buffer.from('--b\r\nContent-Type: text/plain\r\n\r\nabc\r\n--b--'),
      'b',
      'without Content-Disposition',
    ],
    ['invalid boundary', Buffer.from('--\r\n'), 'a'.repeat(71), 'invalid multipart boundary'],
  ])('%s → refused', (_n, b, boundary, reason) => {
    const r = parseMultipart(b, boundary, LIMITS);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  test('limits on parts and header size', () => {
    const many = body(
      'b',
      Array.from({ length: 11 }, (_, i) => `Content-Disposition: form-data; name="f${i}"\r\n\r\nv`),
    );
    expect(parseMultipart(many, 'b', LIMITS)).toEqual({ ok: false, reason: 'more than 10 multipart parts' });
    const bigHeader = body('b', [`Content-Disposition: form-data; name="x"\r\nX-Pad: ${'p'.repeat(2000)}\r\n\r\nv`]);
    expect(parseMultipart(bigHeader, 'b', LIMITS)).toEqual({ ok: false, reason: 'multipart part headers too large' });
  });

  test('ambiguous part headers are refused (busboy/multer keep the first of each, we would keep the last)', () => {
    const cases: [string, string][] = [
      [
        'Content-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"',
        'multipart part with more than one Content-Disposition',
      ],
      ['Content-Disposition: form-data; name="a"; name="b"', 'multipart Content-Disposition gives name more than once'],
      [
        'Content-Disposition: form-data; name="a"; filename="x"; FILENAME="y"',
        'multipart Content-Disposition gives filename more than once',
      ],
      [
        "Content-Disposition: form-data; name*=utf-8''a",
        'multipart Content-Disposition parameter name* (RFC 5987 form) is not allowed in form-data',
      ],
      [
        'Content-Disposition: form-data; name="a"\r\nContent-Type: text/plain\r\nContent-Type: application/json',
        'multipart part with more than one Content-Type',
      ],
    ];
    for (const [headers, reason] of cases)
      expect(parseMultipart(body('b', [`${headers}\r\n\r\nv`]), 'b', LIMITS)).toEqual({ ok: false, reason });
  });

  test('boundary syntax (RFC 2046)', () => {
    expect(isValidBoundary('----WebKitFormBoundary7MA4YWxkTrZu0gW')).toBe(true);
    expect(isValidBoundary('a b')).toBe(true);
    expect(isValidBoundary('ends ')).toBe(false);
    expect(isValidBoundary('')).toBe(false);
    expect(isValidBoundary('semi;colon')).toBe(false);
  });
});
