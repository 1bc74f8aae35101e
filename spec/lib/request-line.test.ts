// plugins/lib/request-line.ts: which request lines give path, query and version in one RPC, and when a body read can
// be skipped. The emulator's `$request` is pinned against Kong in spec/emulator/request-line.test.ts.
import { certainlyNoBody, parseRequestLine, readRequestLine } from '../../plugins/lib/request-line';
import type { Kong } from '../../plugins/lib/pdk';

describe('parseRequestLine', () => {
  test('origin form: the target exactly as get_path_with_query returns it, and the major version', () => {
    expect(parseRequestLine('GET /a/b?x=1&y HTTP/1.1')).toEqual({ pathWithQuery: '/a/b?x=1&y', httpMajor: 1 });
    expect(parseRequestLine('POST / HTTP/1.0')).toEqual({ pathWithQuery: '/', httpMajor: 1 });
    expect(parseRequestLine('PUT /x HTTP/2.0')).toEqual({ pathWithQuery: '/x', httpMajor: 2 });
    expect(parseRequestLine('GET /x HTTP/3.0')).toEqual({ pathWithQuery: '/x', httpMajor: 3 });
    // nginx accepts several spaces between the parts (sw_spaces_before_uri, sw_http_09).
    expect(parseRequestLine('GET  /x?q   HTTP/1.1')).toEqual({ pathWithQuery: '/x?q', httpMajor: 1 });
    // Bytes that are not UTF-8 arrive as U+DC00 + byte (kong-strings): part of the target like any other char.
    expect(parseRequestLine('GET /\udcff%00 HTTP/1.1')).toEqual({ pathWithQuery: '/\udcff%00', httpMajor: 1 });
  });

  test('anything else is left to get_path_with_query: absolute form, HTTP/0.9, no line', () => {
    expect(parseRequestLine('GET http://h/p HTTP/1.1')).toBeUndefined();
    expect(parseRequestLine('GET /p')).toBeUndefined();
    expect(parseRequestLine('GET /p HTTP/1.1 x')).toBeUndefined();
    expect(parseRequestLine('')).toBeUndefined();
    expect(parseRequestLine(undefined)).toBeUndefined();
  });

  test('readRequestLine: one call for the origin form, the old call as fallback', async () => {
    const made: string[] = [];
    const kong = (line: string | undefined) =>
      ({
        nginx: { getVar: async (v: string) => (made.push(`getVar ${v}`), line) },
        request: { getPathWithQuery: async () => (made.push('getPathWithQuery'), '/p?q') },
      }) as unknown as Pick<Kong, 'nginx' | 'request'>;
    expect(await readRequestLine(kong('GET /a HTTP/1.1'))).toEqual({ pathWithQuery: '/a', httpMajor: 1 });
    expect(made).toEqual(['getVar request']);
    made.length = 0;
    expect(await readRequestLine(kong('GET http://h/p?q HTTP/1.1'))).toEqual({
      pathWithQuery: '/p?q',
      httpMajor: undefined,
    });
    expect(made).toEqual(['getVar request', 'getPathWithQuery']);
  });
});

describe('certainlyNoBody', () => {
  const h1 = { pathWithQuery: '/', httpMajor: 1 };
  test('HTTP/1.x without Content-Length and Transfer-Encoding has no body', () => {
    expect(certainlyNoBody(h1, { host: ['x'] })).toBe(true);
  });
  test('a declared length or a transfer coding, HTTP/2 and 3, or an unknown version: read the body', () => {
    expect(certainlyNoBody(h1, { 'content-length': ['0'] })).toBe(false);
    expect(certainlyNoBody(h1, { 'transfer-encoding': ['chunked'] })).toBe(false);
    expect(certainlyNoBody({ pathWithQuery: '/', httpMajor: 2 }, {})).toBe(false);
    expect(certainlyNoBody({ pathWithQuery: '/', httpMajor: 3 }, {})).toBe(false);
    expect(certainlyNoBody({ pathWithQuery: '/', httpMajor: undefined }, {})).toBe(false);
  });
});
