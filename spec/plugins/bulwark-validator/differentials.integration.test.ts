// Differentials through the Kong emulator with the real plugin server (both servers: BULWARK_PLUGINSERVER=stock)
// and the echo upstream: what passes must be what an upstream parser reads; the rest is refused before it.
// Document: spec/fixtures/openapi/stripe-style (form bodies with deepObject fields, anyOf deepObject filters).
import * as path from 'node:path';
import {
  startGateway,
  Gateway,
  echoed,
  type GatewayRequest,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const FIXTURE = path.resolve(__dirname, '../../fixtures/openapi/stripe-style/openapi.yaml');

const CONFIG = `
_format_version: "3.0"
services:
  - name: stripe
    url: ECHO
    routes:
      - { name: stripe, paths: ["/v1"], strip_path: false }
      - { name: stripe-small, paths: ["/small/v1"], strip_path: false }
plugins:
  - name: bulwark-validator
    route: stripe
    config:
      openapi: { spec_file: ${JSON.stringify(FIXTURE)}, base_paths: ["/"] }
  - name: bulwark-validator
    route: stripe-small
    config:
      openapi: { spec_file: ${JSON.stringify(FIXTURE)}, base_paths: ["/small"] }
      limits: { max_body_size: 4096 }
`;

type ErrorBody = { message: string; errors?: { location: string; rule: string; detail: string }[] };
const errorsOf = (body: Buffer): ErrorBody => JSON.parse(body.toString('utf8')) as ErrorBody;
const locations = (body: Buffer) => (errorsOf(body).errors ?? []).map((e) => `${e.location} ${e.rule}`);
const FORM = 'application/x-www-form-urlencoded';
const BASE = 'mode=payment&success_url=https%3A%2F%2Fshop.example%2Fok';

describe('bulwark-validator differentials (emulator + real plugin server)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ plugins: ['bulwark-validator'] });
    gw.configure(CONFIG);
  });
  afterAllNoFailOpen(() => [gw]);

  const send = (r: GatewayRequest) => gw.send(r);
  const refused = async (r: Parameters<Gateway['kong']['request']>[0], status = 400) => {
    const res = await send(r);
    expect(res.status).toBe(status);
    expect(res.report.upstreamRequest).toBeUndefined();
    return res;
  };
  const form = (body: string, extra: Partial<Parameters<Gateway['kong']['request']>[0]> = {}) =>
    send({ method: 'POST', path: '/v1/checkout/sessions', body, headers: { 'content-type': FORM }, ...extra });

  test('integers: -Infinity, 1e400, 0x0A, 1e1, +5, 5.0 are refused; 5 passes', async () => {
    for (const text of ['-Infinity', '1e400', '0x0A', '1e1', '%2B5', '5.0', '%205%20']) {
      const res = await refused({ path: `/v1/checkout/sessions?limit=${text}` });
      expect(locations(res.body)).toEqual(['query/limit number-syntax']);
    }
    expect((await send({ path: '/v1/checkout/sessions?limit=5' })).status).toBe(200);
  });

  test('int64 compared on the digits: 2^63 refused, 2^63-1 passes', async () => {
    await refused({ path: '/v1/checkout/sessions?amount=9223372036854775808' });
    expect((await send({ path: '/v1/checkout/sessions?amount=9223372036854775807' })).status).toBe(200);
  });

  test('multipart with two boundary parameters, or a part with two names: 400 before the upstream', async () => {
    const body =
      '--X\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\nPNG\r\n' +
      '--X\r\nContent-Disposition: form-data; name="purpose"\r\n\r\ndispute_evidence\r\n' +
      '--X\r\nContent-Disposition: form-data; name="copies"\r\n\r\n5\r\n--X--\r\n';
    expect(
      (
        await send({
          method: 'POST',
          path: '/v1/files',
          body,
          headers: { 'content-type': 'multipart/form-data; boundary=X' },
        })
      ).status,
    ).toBe(200);
    const dup = await refused({
      method: 'POST',
      path: '/v1/files',
      body,
      headers: { 'content-type': 'multipart/form-data; boundary=X; boundary=Y' },
    });
    expect(errorsOf(dup.body).errors![0]!.detail).toContain('boundary more than once');
    const twoNames = body.replace('name="copies"', 'name="copies"; name="purpose"');
    const res = await refused({
      method: 'POST',
      path: '/v1/files',
      body: twoNames,
      headers: { 'content-type': 'multipart/form-data; boundary=X' },
    });
    expect(errorsOf(res.body).errors![0]!.detail).toBe('multipart Content-Disposition gives name more than once');
  });

  test('bracketed aliases: ?limit[]=1000 and ?limit[0]=1000 refused like ?limit=1000; success_url[] in a form body too', async () => {
    await refused({ path: '/v1/checkout/sessions?limit=1000' });
    for (const q of ['limit[]=1000', 'limit[0]=1000', 'limit%5B%5D=1000']) {
      const res = await refused({ path: `/v1/checkout/sessions?${q}` });
      expect(errorsOf(res.body).errors![0]!.rule).toBe('bracketed-alias');
    }
    const res = await form(`${BASE}&success_url[]=https%3A%2F%2Fevil.example`);
    expect(res.status).toBe(400);
    expect(locations(res.body)).toEqual(['body/* bracketed-alias']); // a name the client chose is not echoed unless harmless
  });

  test('a Stripe-style deepObject form body passes byte for byte; a bad member is located', async () => {
    const body =
      `${BASE}&metadata[order_id]=6735&line_items[0][price]=price_123&line_items[0][quantity]=2` +
      '&line_items[0][adjustable_quantity][enabled]=true&expand[]=customer';
    const ok = await form(body);
    expect(ok.status).toBe(200);
    expect(echoed(ok.body).body).toBe(body);
    const bad = await form(`${BASE}&line_items[0][price]=price_123&line_items[0][quantity]=abc`);
    expect(bad.status).toBe(400);
    expect(locations(bad.body)).toEqual(['body/line_items/0/quantity type']);
  });

  test('anyOf deepObject query: created[gte]=notanumber refused, created[gte]=1700000000 and created=1700000000 pass', async () => {
    await refused({ path: '/v1/checkout/sessions?created[gte]=notanumber' });
    expect((await send({ path: '/v1/checkout/sessions?created[gte]=1700000000' })).status).toBe(200);
    expect((await send({ path: '/v1/checkout/sessions?created=1700000000' })).status).toBe(200);
  });

  test('a body without Content-Length nor Transfer-Encoding (HTTP/2) is validated', async () => {
    // A GET that defines no body, with one in DATA frames: refused instead of reaching the upstream.
    const get = await refused({ path: '/v1/checkout/sessions', body: 'limit=1000', httpVersion: 2 });
    expect(locations(get.body)).toEqual(['body unexpected-body']);
    const bad = await refused({
      method: 'POST',
      path: '/v1/checkout/sessions',
      body: 'mode=bogus&success_url=x',
      headers: { 'content-type': FORM },
      httpVersion: 2,
    });
    expect(locations(bad.body)).toEqual(['body/mode enum']);
    const ok = await form(BASE, { httpVersion: 2 });
    expect(ok.status).toBe(200);
    expect(echoed(ok.body).body).toBe(BASE);
  });

  test('a chunked body over max_body_size (spooled by nginx, > 8k) gets 413, not 500', async () => {
    const big = `${BASE}&customer_email=${'a'.repeat(9000)}`;
    const res = await send({
      method: 'POST',
      path: '/small/v1/checkout/sessions',
      body: big,
      headers: { 'content-type': FORM, 'transfer-encoding': 'chunked' },
    });
    expect(res.status).toBe(413);
    expect(res.report.upstreamRequest).toBeUndefined();
    // Under the limit, chunked: validated and passed.
    const small = await send({
      method: 'POST',
      path: '/small/v1/checkout/sessions',
      body: BASE,
      headers: { 'content-type': FORM, 'transfer-encoding': 'chunked' },
    });
    expect(small.status).toBe(200);
  });
});
