// Rule matching and evaluation (operations.ts, decide.ts, expression.ts): precedence, templates, BOLA, CEL bounds.
import { parseAuthzConfig } from '../../../../plugins/bulwark-authz/config';
import { decide, type RequestFacts } from '../../../../plugins/bulwark-authz/decide';
import { compileExpression } from '../../../../plugins/bulwark-authz/expression';
import { OperationIndex } from '../../../../plugins/bulwark-authz/operations';
import { parseRawQuery } from '../../../../plugins/lib/bounded-reads';
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
const anonymous = identityRecord({ authenticated: false, authenticatedBy: 'bulwark-jwt', method: 'anonymous' });

function facts(method: string, target: string, headers?: Record<string, string[]>): RequestFacts {
  const q = target.indexOf('?');
  return {
    method,
    path: q === -1 ? target : target.slice(0, q),
    query: parseRawQuery(q === -1 ? '' : target.slice(q + 1)),
    headers,
  };
}

const conf = parseAuthzConfig({
  rules: [
    { name: 'health', path: '/health', methods: ['GET'], caller: 'any' },
    { name: 'list-orders', path: '/orders', methods: ['GET'], scopes_all: ['orders:read'] },
    { name: 'create-order', path: '/orders', methods: ['POST'], scopes_any: ['orders:write', 'orders:admin'] },
    { name: 'own-orders', path: '/users/{id}/orders', methods: ['GET'], objects: [{ param: 'id', equals: 'subject' }] },
    { name: 'support-orders', path: '/users/{id}/orders', methods: ['GET'], groups_any: ['support'] },
    { name: 'me', path: '/users/me', methods: ['GET'] },
    {
      name: 'org',
      path: '/orgs/{org}/projects',
      methods: ['GET'],
      objects: [{ param: 'org', member_of: 'claims.orgs' }],
    },
    {
      name: 'by-query',
      path: '/reports',
      methods: ['GET'],
      objects: [{ param: 'owner', location: 'query', equals: 'subject' }],
    },
    {
      name: 'suspended',
      effect: 'deny',
      path: '/users/{id}/orders',
      claims: [{ claim: 'status', equals: 'suspended' }],
    },
    {
      name: 'partners',
      path: '/partners/{p}',
      consumers: ['partner-a'],
      claims: [{ claim: 'tier', matches: 'gold|platinum' }],
    },
    {
      name: 'files',
      path: '/files/{name}.json',
      methods: ['GET'],
      expression: 'request.params.name.startsWith(identity.subject + "-")',
    },
  ],
});

describe('operations and templates', () => {
  it('default deny: an operation no rule covers, and a method no rule names, are refused', () => {
    expect(decide(conf, user('a'), facts('GET', '/admin'))).toMatchObject({
      outcome: 'deny',
      reason: 'no_rule_for_operation',
    });
    expect(decide(conf, user('a', { scopes: ['orders:read'] }), facts('DELETE', '/orders'))).toMatchObject({
      outcome: 'deny',
      reason: 'no_rule_for_operation',
    });
    expect(decide(conf, user('a', { scopes: ['orders:read'] }), facts('GET', '/orders'))).toMatchObject({
      outcome: 'allow',
    });
  });

  it('caller: authenticated by default for allow rules; any when said', () => {
    expect(decide(conf, undefined, facts('GET', '/health'))).toMatchObject({ outcome: 'allow' });
    expect(decide(conf, undefined, facts('GET', '/users/me'))).toMatchObject({
      outcome: 'deny',
      reason: 'unauthenticated',
    });
    expect(decide(conf, anonymous, facts('GET', '/users/me'))).toMatchObject({
      outcome: 'deny',
      reason: 'unauthenticated',
    });
    expect(decide(conf, user('a'), facts('GET', '/users/me'))).toMatchObject({
      outcome: 'allow',
      rule: { name: 'me' },
    });
  });

  it('scopes all / any', () => {
    expect(decide(conf, user('a'), facts('GET', '/orders'))).toMatchObject({
      outcome: 'deny',
      reason: 'insufficient_scope',
    });
    expect(decide(conf, user('a', { scopes: ['orders:admin'] }), facts('POST', '/orders'))).toMatchObject({
      outcome: 'allow',
    });
    expect(decide(conf, user('a', { scopes: ['orders:read'] }), facts('POST', '/orders'))).toMatchObject({
      outcome: 'deny',
    });
  });

  it('normalised paths reach the same operation with the same decoded parameter', () => {
    const a = user('alice');
    for (const p of [
      '/users/alice/orders',
      '/users/./alice/orders',
      '/users//alice/orders',
      '/users/%61lice/orders',
      '/x/../users/alice/orders',
    ]) {
      expect(decide(conf, a, facts('GET', p))).toMatchObject({ outcome: 'allow', rule: { name: 'own-orders' } });
    }
    expect(decide(conf, a, facts('GET', '/users/alice/orders/'))).toMatchObject({
      outcome: 'deny',
      reason: 'no_rule_for_operation',
    });
  });

  it('mixed segments (RE2) and CEL over the parameters', () => {
    expect(decide(conf, user('bob'), facts('GET', '/files/bob-1.json'))).toMatchObject({ outcome: 'allow' });
    expect(decide(conf, user('bob'), facts('GET', '/files/alice-1.json'))).toMatchObject({
      outcome: 'deny',
      reason: 'expression_false',
    });
  });

  it('consumer list and claim matches (RE2, whole value)', () => {
    const partner = (tier: string) => user('p', { consumer: { id: 'id-1', username: 'partner-a' }, claims: { tier } });
    expect(decide(conf, partner('gold'), facts('GET', '/partners/x'))).toMatchObject({ outcome: 'allow' });
    expect(decide(conf, partner('golden'), facts('GET', '/partners/x'))).toMatchObject({
      outcome: 'deny',
      reason: 'claim_mismatch',
    });
    expect(decide(conf, user('p', { claims: { tier: 'gold' } }), facts('GET', '/partners/x'))).toMatchObject({
      outcome: 'deny',
      reason: 'consumer_not_listed',
    });
  });
});

describe('precedence', () => {
  it('a deny rule whose conditions hold wins over an allow rule that also holds, whatever the order', () => {
    const suspended = user('alice', { claims: { status: 'suspended' } });
    expect(decide(conf, suspended, facts('GET', '/users/alice/orders'))).toMatchObject({
      outcome: 'deny',
      rule: { name: 'suspended' },
      reason: 'deny_rule',
    });
  });
  it('a later allow rule can allow what an earlier one does not (support staff read any orders)', () => {
    expect(decide(conf, user('sam', { groups: ['support'] }), facts('GET', '/users/alice/orders'))).toMatchObject({
      outcome: 'allow',
      rule: { name: 'support-orders' },
    });
  });
  it('a literal template and a variable one both match /users/me: the rules of both are candidates', () => {
    // `me` allows any authenticated caller; own-orders is for /users/{id}/orders only, so no conflict here.
    expect(decide(conf, user('x'), facts('GET', '/users/me'))).toMatchObject({
      outcome: 'allow',
      rule: { name: 'me' },
    });
  });
  it('a CEL error counts against an allow rule and for a deny rule (fail closed)', () => {
    const c = parseAuthzConfig({
      rules: [
        { name: 'maybe-deny', effect: 'deny', path: '/t', expression: 'identity.claims.blocked == true' },
        { name: 'allow', path: '/t', caller: 'any' },
        { name: 'allow2', path: '/u', expression: 'identity.claims.level > 3' },
      ],
    });
    expect(decide(c, user('a'), facts('GET', '/t'))).toMatchObject({
      outcome: 'deny',
      rule: { name: 'maybe-deny' },
      reason: 'expression_error',
    });
    expect(decide(c, user('a', { claims: { blocked: false } }), facts('GET', '/t'))).toMatchObject({
      outcome: 'allow',
    });
    expect(decide(c, user('a'), facts('GET', '/u'))).toMatchObject({ outcome: 'deny', reason: 'expression_error' });
  });
});

describe('object-level (BOLA) conditions', () => {
  const alice = user('alice');
  it('A reading /users/B/orders is refused, her own is allowed', () => {
    expect(decide(conf, alice, facts('GET', '/users/alice/orders'))).toMatchObject({ outcome: 'allow' });
    expect(decide(conf, alice, facts('GET', '/users/bob/orders'))).toMatchObject({
      outcome: 'deny',
      reason: 'object_not_owned',
    });
  });
  it.each([
    '/users/alice/orders?id=bob',
    '/users/alice/orders?ID=bob',
    '/users/alice/orders?id[]=bob',
    '/users/alice/orders?id=alice',
    '/users/alice/orders?id',
  ])('a second copy of the parameter is refused: %s', (target) => {
    expect(decide(conf, alice, facts('GET', target))).toMatchObject({
      outcome: 'deny',
      reason: 'ambiguous_or_missing_parameter',
    });
  });
  it('query parameter: exactly once, own value only', () => {
    expect(decide(conf, alice, facts('GET', '/reports?owner=alice'))).toMatchObject({ outcome: 'allow' });
    expect(decide(conf, alice, facts('GET', '/reports?owner=bob'))).toMatchObject({
      outcome: 'deny',
      reason: 'object_not_owned',
    });
    expect(decide(conf, alice, facts('GET', '/reports?owner=alice&owner=bob'))).toMatchObject({
      outcome: 'deny',
      reason: 'ambiguous_or_missing_parameter',
    });
    expect(decide(conf, alice, facts('GET', '/reports?owner=bob&owner=alice'))).toMatchObject({
      outcome: 'deny',
      reason: 'ambiguous_or_missing_parameter',
    });
    expect(decide(conf, alice, facts('GET', '/reports'))).toMatchObject({
      outcome: 'deny',
      reason: 'ambiguous_or_missing_parameter',
    });
    expect(decide(conf, alice, facts('GET', '/reports?Owner=alice'))).toMatchObject({ outcome: 'deny' });
  });
  it('member_of a list claim (org ∈ claims.orgs)', () => {
    const member = user('m', { claims: { orgs: ['acme', 'globex'] } });
    expect(decide(conf, member, facts('GET', '/orgs/acme/projects'))).toMatchObject({ outcome: 'allow' });
    expect(decide(conf, member, facts('GET', '/orgs/initech/projects'))).toMatchObject({
      outcome: 'deny',
      reason: 'object_not_owned',
    });
    expect(decide(conf, user('n'), facts('GET', '/orgs/acme/projects'))).toMatchObject({
      outcome: 'deny',
      reason: 'object_not_owned',
    });
  });
  it('a header object condition: one value, not also in the query', () => {
    const c = parseAuthzConfig({
      rules: [
        { name: 'tenant', path: '/t', objects: [{ param: 'x-tenant', location: 'header', member_of: 'groups' }] },
      ],
    });
    const g = user('a', { groups: ['t1'] });
    expect(decide(c, g, facts('GET', '/t', { 'x-tenant': ['t1'] }))).toMatchObject({ outcome: 'allow' });
    expect(decide(c, g, facts('GET', '/t', { 'x-tenant': ['t1', 't2'] }))).toMatchObject({ outcome: 'deny' });
    expect(decide(c, g, facts('GET', '/t', { 'x-tenant': ['t1'], x_tenant: ['t2'] }))).toMatchObject({
      outcome: 'deny',
    });
    expect(decide(c, g, facts('GET', '/t?x-tenant=t2', { 'x-tenant': ['t1'] }))).toMatchObject({ outcome: 'deny' });
    expect(c.needsHeaders).toBe(true);
    expect(conf.needsHeaders).toBe(false);
  });
});

describe('CEL bounds (checked once at load)', () => {
  it('refuses nested comprehensions, matches(), oversized expressions and non-bool results', () => {
    expect(() => compileExpression('identity.groups.exists(g, identity.scopes.exists(s, s == g))')).toThrow(
      /inside another/,
    );
    expect(() => compileExpression('identity.subject.matches("(a+)+$")')).toThrow(/matches\(\) is not allowed/);
    expect(() =>
      compileExpression(Array.from({ length: 200 }, (_, i) => `identity.subject == "${i}"`).join(' || ')),
    ).toThrow();
    expect(() => compileExpression('x'.repeat(3000))).toThrow(/longer than/);
    expect(() => compileExpression('identity.scopes')).toThrow(/bool/);
    expect(() => compileExpression('identity.nope == 1')).toThrow(/type-check/);
  });
  it('accepts one level of comprehension over the bounded lists, and knows when it reads headers', () => {
    expect(compileExpression('identity.groups.exists(g, g.startsWith("team-"))').readsHeaders).toBe(false);
    expect(compileExpression('request.headers["x-env"] == "prod"').readsHeaders).toBe(true);
  });
});

describe('the operation index is not a linear scan', () => {
  it('finds the rules of one operation among 1000 without touching the others', () => {
    const index = new OperationIndex<number>();
    for (let i = 0; i < 1000; i++) index.add(['GET'], `/r${i}/{id}/items`, i);
    index.add([], '/r7/{x}/items', -1);
    expect(index.match('GET', '/r7/abc/items')?.map((m) => [m.value, m.params])).toEqual([
      [7, { id: 'abc' }],
      [-1, { x: 'abc' }],
    ]);
    expect(index.match('POST', '/r7/abc/items')?.map((m) => m.value)).toEqual([-1]);
    expect(index.match('GET', '/r7/abc')).toEqual([]);
    expect(index.match('GET', 'no-slash')).toBeUndefined();
  });
});
