// bulwark-validator's RFC 9745 Deprecation / RFC 8594 Sunset headers (openapi.deprecation_headers) and its "log"
// fallthrough (openapi.unknown_operations: log), through the Kong emulator with the real plugin server.
import {
  startGateway,
  Gateway,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../../helpers/emulator';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const SPEC = JSON.stringify({
  openapi: '3.0.3',
  info: { title: 'orders', version: '2' },
  paths: {
    '/orders': { get: { operationId: 'listOrders', responses: { 200: { description: 'ok' } } } },
    '/orders/export': {
      get: {
        operationId: 'exportOrders',
        deprecated: true,
        'x-deprecation-date': '2026-01-01T00:00:00Z',
        'x-sunset': '2026-06-30',
        responses: { 200: { description: 'ok' } },
      },
    },
  },
});

const CONFIG = `
_format_version: "3.0"
services:
  - name: on
    url: ECHO
    routes:
      - name: on
        paths: [/on]
        strip_path: true
        plugins:
          - name: bulwark-validator
            config:
              openapi:
                spec: '${SPEC}'
                base_paths: [/on]
                deprecation_headers: true
                unknown_operations: log
  - name: off
    url: ECHO
    routes:
      - name: off
        paths: [/off]
        strip_path: true
        plugins:
          - name: bulwark-validator
            config:
              openapi:
                spec: '${SPEC}'
                base_paths: [/off]
`;

describe('bulwark-validator: deprecation headers and the log fallthrough', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ plugins: ['bulwark-validator'] });
    gw.configure(CONFIG);
  });
  afterAllNoFailOpen(() => [gw]);

  test('a deprecated operation answers with Deprecation (@seconds of x-deprecation-date) and Sunset (HTTP-date of x-sunset)', async () => {
    const res = await gw.send({ path: '/on/orders/export' });
    expect(res.status).toBe(200);
    expect(res.headers.first('deprecation')).toBe(`@${Date.UTC(2026, 0, 1) / 1000}`);
    expect(res.headers.first('sunset')).toBe('Tue, 30 Jun 2026 00:00:00 GMT');
    expect(res.report.pdkCalls.filter(([, m]) => m === 'kong.response.set_headers')).toHaveLength(1);
  });

  test('a current operation gets neither header and costs no extra round trip', async () => {
    const res = await gw.send({ path: '/on/orders' });
    expect(res.status).toBe(200);
    expect(res.headers.first('deprecation')).toBeUndefined();
    expect(res.headers.first('sunset')).toBeUndefined();
    expect(res.report.pdkCalls.map(([, m]) => m)).not.toContain('kong.response.set_headers');
  });

  test('deprecation_headers off (the default): no headers on the deprecated operation', async () => {
    const res = await gw.send({ path: '/off/orders/export' });
    expect(res.status).toBe(200);
    expect(res.headers.first('deprecation')).toBeUndefined();
    expect(res.headers.first('sunset')).toBeUndefined();
  });

  test('unknown_operations log: an undocumented operation passes and is logged (path only); reject (default) refuses it', async () => {
    const logged = gw.kong.log.length;
    const res = await gw.send({ path: '/on/admin/users/42?token=secret' });
    expect(res.status).toBe(200);
    const lines = gw.kong.log.slice(logged).join('\n');
    expect(lines).toMatch(/undocumented_operation/);
    expect(lines).toContain('/on/admin/users/42');
    expect(lines).not.toContain('token=secret');
    expect((await gw.send({ path: '/off/admin/users/42' })).status).toBe(404);
  });
});
