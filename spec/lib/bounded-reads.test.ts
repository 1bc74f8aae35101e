import {
  headerLineCount,
  MAX_HEADER_LINES,
  parseRawQuery,
  queryPieceCount,
  readQuery,
  readRequestHeaders,
  readResponseHeaders,
  unescapeQueryComponent,
} from '../../plugins/lib/bounded-reads';
import { parseQueryArgs } from '../../kong/emulator/request-context';
import { fixMultimap } from '../../kong/emulator/pdk';
import { fakeKong } from './fake-kong';
import { phaseContext } from '../../plugins/lib/plugin';

const lines = (n: number) => ({ 'x-a': Array.from({ length: n }, () => 'v') });

describe('headerLineCount', () => {
  test('one per header line, repeated names included (as nginx counts)', () => {
    expect(headerLineCount({})).toBe(0);
    expect(headerLineCount({ a: ['1'], b: ['1', '2', '3'] })).toBe(4);
  });
});

describe('readRequestHeaders', () => {
  test('one getHeaders(1000) call; the map as Kong gave it', async () => {
    const f = fakeKong({ 'request.getHeaders': () => lines(999) });
    expect(await readRequestHeaders(phaseContext('p', f.kong, {}))).toEqual(lines(999));
    expect(f.calls).toEqual([['request.getHeaders', [MAX_HEADER_LINES]]]);
  });

  test('a full result (1000 lines: Kong may have cut the list) → log line + 431, undefined', async () => {
    const f = fakeKong({ 'request.getHeaders': () => lines(1000) });
    expect(await readRequestHeaders(phaseContext('bulwark-x', f.kong, {}))).toBeUndefined();
    expect(f.names()).toEqual(['request.getHeaders', 'log.warn', 'log.setSerializeValue', 'response.exit']);
    expect(f.calls[2]![1][1]).toMatchObject({ decision: 'deny', reason: 'too_many_headers', status: 431 });
    expect(JSON.parse(f.calls[1]![1][0] as string)).toMatchObject({
      plugin: 'bulwark-x',
      event: 'request_refused',
      reason: 'too_many_headers',
      status: 431,
    });
    expect(f.exit).toEqual({ status: 431, body: { message: 'Request header fields too large' }, headers: undefined });
  });
});

describe('readQuery', () => {
  test('one getRawQuery call, parsed as Kong would (no cap below 1001 pieces)', async () => {
    const raw = `${Array.from({ length: 150 }, (_, i) => `q${i}=1`).join('&')}&access_token=t`;
    const f = fakeKong({ 'request.getRawQuery': () => raw });
    const q = await readQuery(phaseContext('p', f.kong, {}));
    expect(q?.access_token).toEqual(['t']);
    expect(f.names()).toEqual(['request.getRawQuery']);
  });

  test('more than 1000 pieces, empty ones included (Kong would cut them) → log line + 400', async () => {
    const f = fakeKong({ 'request.getRawQuery': () => `${'&'.repeat(1000)}access_token=t` });
    expect(await readQuery(phaseContext('p', f.kong, {}))).toBeUndefined();
    expect(f.names()).toEqual(['request.getRawQuery', 'log.warn', 'log.setSerializeValue', 'response.exit']);
    expect(f.exit?.status).toBe(400);
    const ok = fakeKong({ 'request.getRawQuery': () => `${'&'.repeat(999)}access_token=t` });
    expect((await readQuery(phaseContext('p', ok.kong, {})))?.access_token).toEqual(['t']);
  });
});

describe('readResponseHeaders', () => {
  test('getHeaders(1000); a full result is reported incomplete', async () => {
    const f = fakeKong({ 'response.getHeaders': () => lines(1000) });
    expect((await readResponseHeaders(f.kong)).complete).toBe(false);
    expect(f.calls).toEqual([['response.getHeaders', [1000]]]);
    const g = fakeKong({ 'response.getHeaders': () => lines(999) });
    expect((await readResponseHeaders(g.kong)).complete).toBe(true);
  });
});

describe('queryPieceCount / parseRawQuery: what get_query(1000) gives over RPC', () => {
  test('nginx counts every & piece (lua-nginx-module ngx_http_lua_ffi_req_get_uri_args_count)', () => {
    expect(queryPieceCount('')).toBe(0);
    expect(queryPieceCount('a')).toBe(1);
    expect(queryPieceCount('a&&b&')).toBe(4);
  });

  test.each(['foo=hello%20world&bar=baz&zzz&blo=&bar=bla&bar', 'a+b=c+d&%41=%zz&=x&&x&x', 'k=%E2%82%AC&k=v&empty='])(
    'same map as the emulated Kong get_query(1000) after fix_mmap: %s',
    (raw) => {
      expect(parseRawQuery(raw)).toEqual(fixMultimap(parseQueryArgs(raw, 1000)));
    },
  );

  test('unescape as nginx: + is a space, malformed escapes kept', () => {
    expect(unescapeQueryComponent('a+b%20c%zz%4')).toBe('a b c%zz%4');
  });

  test('bytes that are not UTF-8 come as bulwark-pluginserver hands them over: U+DC00 + byte, ASCII never swallowed', () => {
    // %E0 then "<script>": Kong unescapes to the bytes e0 3c …, sent as a str (kong/pluginserver/framer.ts).
    expect(unescapeQueryComponent('%E0<script>%C0%AF%A0')).toBe('\uDCE0<script>\uDCC0\uDCAF\uDCA0');
    expect(unescapeQueryComponent('%E2%82%AC+\uDCE0')).toBe('€ \uDCE0'); // a raw byte (already escaped) stays
  });
});
