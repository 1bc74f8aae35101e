// The access handler against a recording fake kong: which paths it answers, what passes on, and that the page's
// start script cannot be broken out of by a document title.
import { phaseContext } from '../../../../plugins/lib/plugin';
import { parseDocsConfig } from '../../../../plugins/bulwark-docs/config';
import { access, docsTarget } from '../../../../plugins/bulwark-docs/handler';
import { docsPage } from '../../../../plugins/bulwark-docs/page';
import { fakeKong } from '../../../lib/fake-kong';
import { PETSTORE_INTERNAL_FILE } from '../fixtures';

test('docsTarget: the page, the document, the assets, other docs paths; everything else passes on', () => {
  expect(docsTarget('/docs', '/docs')).toEqual({ kind: 'page' });
  expect(docsTarget('/docs', '/docs/')).toEqual({ kind: 'page' });
  expect(docsTarget('/docs', '/docs/openapi.json')).toEqual({ kind: 'document' });
  expect(docsTarget('/docs', '/docs/assets/swagger-ui.css')).toEqual({ kind: 'asset', name: 'swagger-ui.css' });
  expect(docsTarget('/docs', '/docs/x')).toEqual({ kind: 'unknown' });
  expect(docsTarget('/docs', '/docsx')).toBeUndefined();
  expect(docsTarget('/docs', '/pets')).toBeUndefined();
});

test('a request outside the docs path costs one getPath and passes on', async () => {
  const conf = parseDocsConfig({ openapi: { spec_file: PETSTORE_INTERNAL_FILE } });
  const fake = fakeKong({ 'request.getPath': () => '/pets' });
  await access(phaseContext('bulwark-docs', fake.kong, conf));
  expect(fake.names()).toEqual(['request.getPath']);
  expect(fake.exit).toBeUndefined();
});

test('a title cannot close the script or the title element', () => {
  const html = docsPage({ basePath: '/docs', title: '</title><script>alert(1)</script>', tryIt: false, nonce: 'n' });
  expect(html).not.toContain('<script>alert(1)');
  expect(html.match(/<script/g)).toHaveLength(2);
});

describe('filter authz fails closed', () => {
  const conf = () =>
    parseDocsConfig({
      openapi: { spec_file: PETSTORE_INTERNAL_FILE },
      filter: 'authz',
      authz: { rules: [{ name: 'list-pets', methods: ['GET'], path: '/v2/pets', scopes_all: ['pets:read'] }] },
    });
  const documentRequest = (shared: unknown) =>
    fakeKong({
      'request.getPath': () => '/docs/openapi.json',
      'request.getMethod': () => 'GET',
      'ctx.shared.get': () => shared,
    });

  test('no caller identity: 403 with the reason logged, no document', async () => {
    const fake = documentRequest(undefined);
    await access(phaseContext('bulwark-docs', fake.kong, conf()));
    expect(fake.exit?.status).toBe(403);
    expect(JSON.stringify(fake.exit?.body)).not.toContain('paths');
    expect(fake.names()).toEqual([
      'request.getPath',
      'request.getMethod',
      'ctx.shared.get',
      'log.warn',
      'log.setSerializeValue',
      'response.exit',
    ]);
    expect(String(fake.calls.find(([n]) => n === 'log.warn')![1][0])).toContain('"reason":"docs_no_identity"');
    // The deny record bulwark-audit reads (lib/security-event.ts) names the reason too.
    expect(fake.calls.find(([n]) => n === 'log.setSerializeValue')![1]).toEqual([
      'bulwark.decisions.bulwark-docs',
      expect.objectContaining({ decision: 'deny', reason: 'docs_no_identity', status: 403 }),
    ]);
  });

  test('a malformed identity record counts as none (403)', async () => {
    const fake = documentRequest({ v: 2, authenticated: true, scopes: ['pets:read'] });
    await access(phaseContext('bulwark-docs', fake.kong, conf()));
    expect(fake.exit?.status).toBe(403);
  });

  test('rules that cannot be evaluated: 500 with the reason logged, no document', async () => {
    const c = conf();
    c.publisher.documentFor = () => {
      throw new Error('boom');
    };
    const fake = documentRequest({
      v: 1,
      authenticated: true,
      authenticatedBy: 'bulwark-jwt',
      method: 'jwt',
      subject: 'ann',
      scopes: ['pets:read'],
      groups: [],
      claims: {},
    });
    await access(phaseContext('bulwark-docs', fake.kong, c));
    expect(fake.exit?.status).toBe(500);
    expect(String(fake.calls.find(([n]) => n === 'log.err')![1][0])).toContain('"reason":"docs_filter_failed"');
  });
});
