// bulwark-authz's Schema against Kong's rules (the emulator's metaschema and config processing), then the
// plugin's own config parsing: errors name the rule and the field; unreachable rules are refused.
import type { FieldEntry } from '../../../kong/schema/types';
import * as authz from '../../../plugins/bulwark-authz';
import { parseAuthzConfig } from '../../../plugins/bulwark-authz/config';
import { configFor, describePluginInfo, violationFor } from '../../helpers/plugin-info';

const fields = authz.Schema as unknown as FieldEntry[];
const configOf = (input: unknown) => configFor(fields, input);
const violation = (input: unknown) => violationFor(fields, input);
const parse = (input: Record<string, unknown>) => parseAuthzConfig(configOf(input));

const DOC = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  servers: [{ url: 'https://api.example.com/v1' }],
  paths: {
    '/orders': { get: { operationId: 'listOrders' }, post: { operationId: 'createOrder' } },
    '/users/{id}/orders': { get: { operationId: 'userOrders' } },
  },
});

describePluginInfo(authz, 'after the authentication plugins, before rate-limit 915 and validator 890');

describe('schema (Kong refuses at the Admin API)', () => {
  it('defaults', () => {
    const c = configOf({ rules: [{ name: 'r', path: '/a' }] });
    expect(c).toMatchObject({ mode: 'enforce', deny_status: 403, authzen: { timeout_ms: 1000, cache_ttl: 30 } });
    expect((c.rules as Record<string, unknown>[])[0]).toMatchObject({
      effect: 'allow',
      methods: [],
      authzen: false,
      objects: [],
      claims: [],
    });
  });
  it('refuses no rules, an unknown method, a bad deny status, an unbounded timeout', () => {
    expect(violation({ rules: [] })).toEqual({ config: { rules: expect.any(String) } });
    expect(violation({ rules: [{ name: 'r', path: '/a', methods: ['FETCH'] }] })).toMatchObject({
      config: { rules: expect.anything() },
    });
    expect(violation({ rules: [{ name: 'r', path: '/a' }], deny_status: 401 })).toEqual({
      config: { deny_status: expect.any(String) },
    });
    expect(violation({ rules: [{ name: 'r', path: '/a' }], authzen: { timeout_ms: 60000 } })).toEqual({
      config: { authzen: { timeout_ms: expect.any(String) } },
    });
  });
});

describe('instance start: errors name the rule and the field', () => {
  it.each([
    [{ rules: [{ name: 'r', path: 'orders' }] }, 'rules[0] (r).path: must start with /'],
    [{ rules: [{ name: 'r', path: '/a/{id}/{id}' }] }, 'rules[0] (r).path: a parameter appears twice'],
    [{ rules: [{ name: 'r' }] }, 'rules[0] (r).path: give exactly one of path, operation_id'],
    [
      {
        rules: [
          { name: 'ok', path: '/a' },
          { name: 'ok', path: '/b' },
        ],
      },
      'rules[1] (ok).name: rules[0] (ok) has the same name',
    ],
    [
      { rules: [{ name: 'r', path: '/u/{id}', objects: [{ param: 'uid', equals: 'subject' }] }] },
      'rules[0] (r).objects[0].param: the path template has no {uid}',
    ],
    [
      { rules: [{ name: 'r', path: '/u/{id}', objects: [{ param: 'id', equals: 'password' }] }] },
      'rules[0] (r).objects[0].equals: unknown identity attribute "password"',
    ],
    [
      { rules: [{ name: 'r', path: '/u/{id}', objects: [{ param: 'id', location: 'query', equals: 'subject' }] }] },
      'rules[0] (r).objects[0].location: {id} is a path parameter',
    ],
    [
      { rules: [{ name: 'r', path: '/u', claims: [{ claim: 'role', matches: '(' }] }] },
      'rules[0] (r).claims[0].matches: not an RE2 regular expression',
    ],
    [
      { rules: [{ name: 'r', path: '/u', claims: [{ claim: 'role', equals: 'a', matches: 'b' }] }] },
      'rules[0] (r).claims[0].claim: give exactly one of equals, values, matches',
    ],
    [
      { rules: [{ name: 'r', path: '/u', expression: 'identity.subject + 1' }] },
      'rules[0] (r).expression: does not type-check',
    ],
    [
      { rules: [{ name: 'r', path: '/u', expression: 'identity.subject' }] },
      'rules[0] (r).expression: must be a bool expression',
    ],
    [
      { rules: [{ name: 'r', path: '/u', operation_id: 'x' }] },
      'rules[0] (r).path: give exactly one of path, operation_id',
    ],
    [
      { rules: [{ name: 'r', operation_id: 'listOrders' }] },
      'rules[0] (r).operation_id: needs openapi.spec or openapi.spec_file',
    ],
    [
      { rules: [{ name: 'r', operation_id: 'nope' }], openapi: { spec: DOC } },
      'rules[0] (r).operation_id: the OpenAPI document has no operationId "nope"',
    ],
    [
      { rules: [{ name: 'r', path: '/v1/order', methods: ['GET'] }], openapi: { spec: DOC } },
      'rules[0] (r).path: the OpenAPI document has no operation GET /v1/order',
    ],
    [{ rules: [{ name: 'r', path: '/u', authzen: true }] }, 'rules[0] (r).authzen: needs authzen.url'],
    [
      { rules: [{ name: 'r', path: '/u', caller: 'anonymous', scopes_all: ['a'] }] },
      'rules[0] (r).caller: an anonymous caller has no scopes',
    ],
    [
      {
        rules: [
          { name: 'block', effect: 'deny', path: '/admin' },
          { name: 'admins', path: '/admin', methods: ['GET'], groups_any: ['admin'] },
        ],
      },
      'rules[1] (admins).path: unreachable: rules[0] (block) denies the same operation without conditions',
    ],
  ])('%j', (input, message) => {
    expect(() => parse(input)).toThrow(message);
  });

  it('operation_id expands to the operation below every server base path', () => {
    const c = parse({
      rules: [{ name: 'list', operation_id: 'listOrders', scopes_all: ['orders:read'] }],
      openapi: { spec: DOC },
    });
    expect(c.rules.map((r) => [r.methods, r.template])).toEqual([[['GET'], '/v1/orders']]);
  });
});
