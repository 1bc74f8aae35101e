// allowedOperations (allowed-operations.ts): which operations an identity may call under a rule set, for per-caller
// API documentation. Checked against the access decision itself: an operation listed `always` is allowed for every
// concrete request, an operation left out is refused for every one.
import { allowedOperations } from '../../../../plugins/bulwark-authz';
import { parseAuthzConfig } from '../../../../plugins/bulwark-authz/config';
import { decide, type RequestFacts } from '../../../../plugins/bulwark-authz/decide';
import { identityRecord, type BulwarkIdentity, type IdentityInput } from '../../../../plugins/lib/identity';

const user = (subject: string, extra: Partial<IdentityInput> = {}): BulwarkIdentity =>
  identityRecord({
    authenticated: true,
    authenticatedBy: 'bulwark-jwt',
    method: 'jwt',
    subject,
    credential: { kind: 'jwt', id: `c-${subject}` },
    ...extra,
  });
const facts = (method: string, path: string): RequestFacts => ({ method, path, query: {}, headers: undefined });

const conf = parseAuthzConfig({
  rules: [
    { name: 'health', path: '/health', methods: ['GET'], caller: 'any' },
    { name: 'list-orders', path: '/orders', methods: ['GET'], scopes_all: ['orders:read'] },
    { name: 'create-order', path: '/orders', methods: ['POST'], scopes_any: ['orders:write'] },
    { name: 'own-orders', path: '/users/{id}/orders', methods: ['GET'], objects: [{ param: 'id', equals: 'subject' }] },
    { name: 'support-orders', path: '/users/{id}/orders', methods: ['GET'], groups_any: ['support'] },
    { name: 'admin', path: '/admin/{section}', groups_all: ['admin'] },
    { name: 'no-audit', effect: 'deny', path: '/admin/audit', methods: ['DELETE'] },
    { name: 'files', path: '/files/{name}', methods: ['GET'], expression: 'request.params.name != ""' },
    { name: 'suspended', effect: 'deny', path: '/orders', claims: [{ claim: 'status', equals: 'suspended' }] },
  ],
});

const summary = (identity: BulwarkIdentity | undefined) =>
  allowedOperations(conf, identity).map((o) => `${o.method} ${o.path_template} ${o.access}`);

describe('allowedOperations', () => {
  test('nobody authenticated: only the rule for any caller', () => {
    expect(summary(undefined)).toEqual(['GET /health always']);
  });

  test('scopes decide per operation; an object-level or CEL rule is conditional', () => {
    expect(summary(user('alice', { scopes: ['orders:read'] }))).toEqual([
      'GET /files/{name} conditional',
      'GET /health always',
      'GET /orders always',
      'GET /users/{id}/orders conditional',
    ]);
  });

  test('an identity-only rule makes an operation always callable even when a BOLA rule covers it too', () => {
    const ops = allowedOperations(conf, user('sam', { groups: ['support'] }));
    expect(ops.find((o) => o.path_template === '/users/{id}/orders')).toEqual({
      method: 'GET',
      path_template: '/users/{id}/orders',
      access: 'always',
      rules: ['own-orders', 'support-orders'],
    });
  });

  test('a deny rule holding for the caller removes the operation; one covering only some requests makes it conditional', () => {
    const suspended = user('s', { scopes: ['orders:read', 'orders:write'], claims: { status: 'suspended' } });
    expect(summary(suspended)).not.toContain('GET /orders always');
    expect(summary(suspended).some((o) => o.includes(' /orders '))).toBe(false);
    // The DELETE /admin/audit deny rule overlaps /admin/{section} for any method: conditional, never left out.
    expect(summary(user('root', { groups: ['admin'] }))).toContain('* /admin/{section} conditional');
  });

  test('a deny rule with variables removes the operations whose every path it covers, and only those', () => {
    const covered = parseAuthzConfig({
      rules: [
        { name: 'one-order', path: '/orders/{id}', methods: ['GET'], caller: 'any' },
        { name: 'summary', path: '/orders/summary', methods: ['GET'], caller: 'any' },
        { name: 'index', path: '/orders/', methods: ['GET'], caller: 'any' },
        { name: 'as-json', path: '/orders/{id}.json', methods: ['GET'], caller: 'any' },
        { name: 'items', path: '/orders/{id}/items', methods: ['GET'], caller: 'any' },
        { name: 'no-single-order', effect: 'deny', path: '/orders/{order}', methods: ['GET'] },
      ],
    });
    const listed = allowedOperations(covered, undefined).map((o) => `${o.method} ${o.path_template} ${o.access}`);
    // Before: only the identical template was removed; '/orders/{id}' and '/orders/summary' were listed conditional.
    expect(listed).toEqual([
      'GET /orders/ always',
      'GET /orders/{id}.json conditional',
      'GET /orders/{id}/items always',
    ]);
    for (const path of ['/orders/7', '/orders/summary', '/orders/7.json'])
      expect(decide(covered, undefined, facts('GET', path)).outcome).toBe('deny');
    for (const path of ['/orders/', '/orders/7/items'])
      expect(decide(covered, undefined, facts('GET', path)).outcome).toBe('allow');
  });

  test('agrees with the access decision: always → every probe allowed; absent → every probe refused', () => {
    const callers = [
      undefined,
      user('alice', { scopes: ['orders:read'] }),
      user('w', { scopes: ['orders:write'] }),
      user('sam', { groups: ['support'] }),
      user('root', { groups: ['admin'] }),
      user('s', { scopes: ['orders:read'], claims: { status: 'suspended' } }),
    ];
    const probes: [string, string, string][] = [
      ['GET', '/health', '/health'],
      ['GET', '/orders', '/orders'],
      ['POST', '/orders', '/orders'],
      ['GET', '/users/{id}/orders', '/users/bob/orders'],
      ['GET', '/admin/{section}', '/admin/users'],
      ['DELETE', '/admin/{section}', '/admin/audit'],
      ['GET', '/files/{name}', '/files/x'],
    ];
    for (const who of callers) {
      const ops = allowedOperations(conf, who);
      for (const [method, template, path] of probes) {
        const listed = ops.find((o) => (o.method === method || o.method === '*') && o.path_template === template);
        const outcome = decide(conf, who, facts(method, path)).outcome;
        const label = { who: who?.subject ?? 'nobody', method, path };
        if (listed === undefined) expect({ ...label, outcome }).toEqual({ ...label, outcome: 'deny' });
        else if (listed.access === 'always') expect({ ...label, outcome }).toEqual({ ...label, outcome: 'allow' });
      }
    }
  });
});
