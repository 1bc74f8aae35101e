// The conformance vectors (plugins/bulwark-upstream-trust/vectors/*.json, written by
// scripts/upstream-trust-vectors.ts) run through the verifier kit: every vector's requests in order, each with the
// expected outcome. Backends in other languages run the same files against their own verifier.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createVerifier } from '../../../plugins/bulwark-upstream-trust/verifier';

const dir = path.join(__dirname, '..', '..', '..', 'plugins', 'bulwark-upstream-trust', 'vectors');

interface Vector {
  name: string;
  format: 'jwt' | 'http-message-signatures';
  verifier: {
    issuer: string;
    audience: string;
    now: number;
    clock_tolerance_seconds: number;
    max_token_lifetime_seconds: number;
    algorithms: ('EdDSA' | 'ES256')[];
    header_name: string;
  };
  jwks: { keys: Record<string, unknown>[] };
  requests: {
    method: string;
    target: string;
    headers: Record<string, string>;
    body_base64: string | null;
    expect: { ok: boolean; error?: string; subject?: string | null };
  }[];
}

const vectors = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Vector);

test('the set covers a valid request and every negative case the issue lists, in both formats', () => {
  const errors = (format: string) =>
    new Set(
      vectors
        .filter((v) => v.format === format)
        .flatMap((v) => v.requests.map((r) => (r.expect.ok ? 'ok' : r.expect.error))),
    );
  expect([...errors('jwt')].sort()).toEqual(
    expect.arrayContaining([
      'ok',
      'method_mismatch',
      'path_mismatch',
      'query_mismatch',
      'host_mismatch',
      'body_digest_mismatch',
      'expired',
      'replayed',
      'wrong_audience',
      'unknown_key',
      'alg_not_allowed',
    ]),
  );
  expect([...errors('http-message-signatures')].sort()).toEqual(
    expect.arrayContaining([
      'ok',
      'bad_signature',
      'body_digest_mismatch',
      'expired',
      'replayed',
      'wrong_audience',
      'alg_not_allowed',
    ]),
  );
  expect(vectors.length).toBeGreaterThanOrEqual(30);
});

test.each(vectors.map((v) => [v.name, v] as const))('%s', async (_name, v) => {
  const verifier = createVerifier({
    issuer: v.verifier.issuer,
    audience: v.verifier.audience,
    format: v.format,
    headerName: v.verifier.header_name,
    algorithms: v.verifier.algorithms,
    clockToleranceSeconds: v.verifier.clock_tolerance_seconds,
    maxTokenLifetimeSeconds: v.verifier.max_token_lifetime_seconds,
    jwks: { keys: v.jwks.keys },
    now: () => v.verifier.now * 1000,
  });
  for (const r of v.requests) {
    const result = await verifier.verify({
      method: r.method,
      url: r.target,
      headers: r.headers,
      body: r.body_base64 === null ? undefined : Buffer.from(r.body_base64, 'base64'),
    });
    if (r.expect.ok) {
      expect(result).toMatchObject({ ok: true });
      if (result.ok && r.expect.subject !== undefined) expect(result.identity?.subject ?? null).toBe(r.expect.subject);
    } else {
      expect(result).toMatchObject({ ok: false, error: r.expect.error });
    }
  }
});
