// Writes bulwark-upstream-trust's conformance vectors (plugins/bulwark-upstream-trust/vectors/*.json): requests as a
// backend receives them from the gateway (or from an attacker), the gateway's public keys, the verifier settings and
// the expected outcome. Backends in any language can run their verifier over them.
//
//   npm run build && node dist/js/scripts/upstream-trust-vectors.js [out-dir]
//
// Keys are fresh on every run (only public keys are written), so a regenerated set differs byte for byte; the
// committed set is what spec/plugins/bulwark-upstream-trust/vectors.test.ts checks.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { jose } from '../plugins/lib/jose';
import { parseUpstreamTrustConfig, type UpstreamTrustConfig } from '../plugins/bulwark-upstream-trust/config';
import { signMessage, signToken, type RequestBinding } from '../plugins/bulwark-upstream-trust/sign';
import { TOKEN_TYPE } from '../plugins/bulwark-upstream-trust/protocol';
import type { BulwarkIdentity } from '../plugins/lib/identity';

const ISSUER = 'https://gateway.example.com';
const AUDIENCE = 'orders';
const HOST = 'orders.internal:8080';
const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z
const HEADER = 'x-bulwark-upstream-token';

interface VectorRequest {
  method: string;
  target: string;
  headers: Record<string, string>;
  body_base64: string | null;
  expect: { ok: true; subject?: string | null } | { ok: false; error: string };
}

interface Vector {
  name: string;
  description: string;
  format: 'jwt' | 'http-message-signatures';
  verifier: {
    issuer: string;
    audience: string;
    now: number;
    clock_tolerance_seconds: number;
    max_token_lifetime_seconds: number;
    algorithms: string[];
    header_name: string;
  };
  jwks: { keys: Record<string, unknown>[] };
  requests: VectorRequest[];
}

function privateJwk(key: KeyObject, kid: string): string {
  return JSON.stringify({ ...(key.export({ format: 'jwk' }) as Record<string, unknown>), kid });
}

const ed = generateKeyPairSync('ed25519').privateKey;
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const stranger = generateKeyPairSync('ed25519').privateKey;

function config(
  format: UpstreamTrustConfig['format'],
  active: string,
  keys = [privateJwk(ed, 'gw-ed-2026'), privateJwk(ec, 'gw-ec-2026')],
): UpstreamTrustConfig {
  return parseUpstreamTrustConfig({ issuer: ISSUER, signing_keys: keys, active_key_id: active, format, token_ttl: 30 });
}

const edJwt = config('jwt', 'gw-ed-2026');
const ecJwt = config('jwt', 'gw-ec-2026');
const edMsg = config('http-message-signatures', 'gw-ed-2026');
const strangerJwt = parseUpstreamTrustConfig({
  issuer: ISSUER,
  signing_keys: [privateJwk(stranger, 'gw-ed-2026')],
  format: 'jwt',
});
const strangerMsg = parseUpstreamTrustConfig({
  issuer: ISSUER,
  signing_keys: [privateJwk(stranger, 'gw-ed-2026')],
  format: 'http-message-signatures',
});
const jwks = JSON.parse(edJwt.keys.jwksJson) as { keys: Record<string, unknown>[] };

const identity: BulwarkIdentity = {
  v: 1,
  authenticated: true,
  authenticatedBy: 'bulwark-jwt',
  method: 'jwt',
  subject: 'alice',
  consumer: { id: '8a2d9d0e-6c51-4d8f-9b7a-3e1f2c4d5e6f', username: 'alice' },
  credential: { kind: 'jwt', id: 'b1c2d3e4-0000-5000-8000-000000000001' },
  scopes: ['orders:read', 'orders:write'],
  groups: [],
  claims: {},
};

const GET: RequestBinding = { method: 'GET', upstreamPath: '/orders/7', query: 'limit=5', host: HOST, body: undefined };
const BODY = Buffer.from('{"item":"book","quantity":2}');
const POST: RequestBinding = { method: 'POST', upstreamPath: '/orders', query: '', host: HOST, body: BODY };

function request(
  b: RequestBinding,
  headers: Record<string, string>,
  expect: VectorRequest['expect'],
  body: Buffer | undefined = b.body instanceof Uint8Array ? Buffer.from(b.body) : undefined,
): VectorRequest {
  const target = b.query === '' ? b.upstreamPath : `${b.upstreamPath}?${b.query}`;
  return {
    method: b.method,
    target,
    headers: { host: b.host, ...headers },
    body_base64: body === undefined ? null : body.toString('base64'),
    expect,
  };
}

async function jwt(
  conf: UpstreamTrustConfig,
  b: RequestBinding,
  opts: { now?: number; audience?: string; jti?: string } = {},
): Promise<Record<string, string>> {
  const token = await signToken(conf, {
    binding: b,
    identity,
    audience: opts.audience ?? AUDIENCE,
    nowMs: (opts.now ?? NOW) * 1000,
    jti: opts.jti,
  });
  return { [HEADER]: token };
}

function msg(
  conf: UpstreamTrustConfig,
  b: RequestBinding,
  opts: { now?: number; audience?: string } = {},
): Record<string, string> {
  const h = signMessage(conf, {
    binding: b,
    identity,
    audience: opts.audience ?? AUDIENCE,
    nowMs: (opts.now ?? NOW) * 1000,
  });
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), String(v)]));
}

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

async function main(): Promise<void> {
  const out = path.resolve(
    process.argv[2] ?? path.join(__dirname, '..', '..', '..', 'plugins', 'bulwark-upstream-trust', 'vectors'),
  );
  const verifier = () => ({
    issuer: ISSUER,
    audience: AUDIENCE,
    now: NOW + 2,
    clock_tolerance_seconds: 5,
    max_token_lifetime_seconds: 60,
    algorithms: ['EdDSA', 'ES256'],
    header_name: HEADER,
  });
  const vectors: Vector[] = [];
  const add = (name: string, description: string, format: Vector['format'], requests: VectorRequest[]) =>
    vectors.push({ name, description, format, verifier: verifier(), jwks, requests });
  const ok = { ok: true as const, subject: 'alice' };
  const no = (error: string) => ({ ok: false as const, error });

  // ---- JWT format
  add('jwt-valid-get', 'GET with a query, EdDSA', 'jwt', [request(GET, await jwt(edJwt, GET), ok)]);
  add('jwt-valid-post', 'POST with a body bound by Content-Digest sha-256, EdDSA', 'jwt', [
    request(POST, await jwt(edJwt, POST), ok),
  ]);
  add('jwt-valid-es256', 'GET signed ES256 with the second key of the set', 'jwt', [
    request(GET, await jwt(ecJwt, GET), ok),
  ]);
  add('jwt-other-method', 'the token of a GET on a DELETE', 'jwt', [
    request({ ...GET, method: 'DELETE' }, await jwt(edJwt, GET), no('method_mismatch')),
  ]);
  add('jwt-other-path', 'the token of /orders/7 on /orders/8', 'jwt', [
    request({ ...GET, upstreamPath: '/orders/8' }, await jwt(edJwt, GET), no('path_mismatch')),
  ]);
  add('jwt-other-query', 'the token of ?limit=5 on ?limit=500', 'jwt', [
    request({ ...GET, query: 'limit=500' }, await jwt(edJwt, GET), no('query_mismatch')),
  ]);
  add('jwt-other-host', 'the token for orders.internal:8080 sent to billing.internal:8080', 'jwt', [
    request({ ...GET, host: 'billing.internal:8080' }, await jwt(edJwt, GET), no('host_mismatch')),
  ]);
  add('jwt-altered-body', 'the token of one body with another body', 'jwt', [
    request(POST, await jwt(edJwt, POST), no('body_digest_mismatch'), Buffer.from('{"item":"book","quantity":200}')),
  ]);
  add('jwt-body-added', 'a token signed without a body, sent with one', 'jwt', [
    request({ ...GET, method: 'POST' }, await jwt(edJwt, { ...GET, method: 'POST' }), no('body_digest_mismatch'), BODY),
  ]);
  add('jwt-expired', 'signed 40 s before now with a 30 s lifetime (5 s leeway)', 'jwt', [
    request(GET, await jwt(edJwt, GET, { now: NOW - 40 }), no('expired')),
  ]);
  add('jwt-not-yet-valid', 'issued 30 s in the future', 'jwt', [
    request(GET, await jwt(edJwt, GET, { now: NOW + 30 }), no('not_yet_valid')),
  ]);
  const replayed = await jwt(edJwt, GET);
  add('jwt-replayed', 'the same token twice: the first is accepted, the second refused', 'jwt', [
    request(GET, replayed, ok),
    request(GET, replayed, no('replayed')),
  ]);
  add('jwt-wrong-audience', 'a token for the billing backend', 'jwt', [
    request(GET, await jwt(edJwt, GET, { audience: 'billing' }), no('wrong_audience')),
  ]);
  add('jwt-wrong-issuer', 'a token from another gateway configuration (same keys)', 'jwt', [
    request(
      GET,
      await jwt(
        parseUpstreamTrustConfig({
          issuer: 'https://other-gateway.example.com',
          signing_keys: [privateJwk(ed, 'gw-ed-2026')],
        }),
        GET,
      ),
      no('wrong_issuer'),
    ),
  ]);
  add('jwt-unknown-key', 'signed by a key whose kid is not in the JWKS', 'jwt', [
    request(
      GET,
      await jwt(parseUpstreamTrustConfig({ issuer: ISSUER, signing_keys: [privateJwk(stranger, 'gw-ed-2027')] }), GET),
      no('unknown_key'),
    ),
  ]);
  add('jwt-wrong-key-same-kid', 'signed by another key under a kid the JWKS has', 'jwt', [
    request(GET, await jwt(strangerJwt, GET), no('bad_signature')),
  ]);
  {
    // Algorithm swap: HS256 keyed with the public JWK's bytes (the classic confusion attack), and alg none.
    const claims = JSON.parse(
      Buffer.from((await jwt(edJwt, GET))[HEADER]!.split('.')[1]!, 'base64url').toString(),
    ) as Record<string, unknown>;
    const publicX = Buffer.from(JSON.stringify(jwks.keys[0]));
    const hs = await new (jose().SignJWT)(claims)
      .setProtectedHeader({ alg: 'HS256', kid: 'gw-ed-2026', typ: TOKEN_TYPE })
      .sign(publicX);
    add('jwt-alg-swap-hs256', 'HS256 with the public key as the HMAC secret', 'jwt', [
      request(GET, { [HEADER]: hs }, no('alg_not_allowed')),
    ]);
    const none = `${b64url({ alg: 'none', typ: TOKEN_TYPE })}.${b64url({ ...claims, jti: 'none-1' })}.`;
    add('jwt-alg-none', 'an unsigned token (alg none)', 'jwt', [
      request(GET, { [HEADER]: none }, no('alg_not_allowed')),
    ]);
    const long = await new (jose().SignJWT)({ ...claims, jti: 'long-1', exp: NOW + 3600 })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'gw-ed-2026', typ: TOKEN_TYPE })
      .sign(edJwt.keys.active.privateKey);
    add('jwt-lifetime-too-long', 'a correctly signed token living one hour', 'jwt', [
      request(GET, { [HEADER]: long }, no('lifetime_too_long')),
    ]);
    const wrongTyp = await new (jose().SignJWT)({ ...claims, jti: 'typ-1' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'gw-ed-2026', typ: 'JWT' })
      .sign(edJwt.keys.active.privateKey);
    add('jwt-wrong-type', 'a correctly signed JWT of another type (typ JWT)', 'jwt', [
      request(GET, { [HEADER]: wrongTyp }, no('wrong_type')),
    ]);
    const [h, p, s] = (await jwt(edJwt, GET))[HEADER]!.split('.');
    const tampered = `${h}.${b64url({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), hth: HOST, sub: 'admin' })}.${s}`;
    add('jwt-tampered-claims', 'the payload changed after signing (sub admin)', 'jwt', [
      request(GET, { [HEADER]: tampered }, no('bad_signature')),
    ]);
  }
  add('jwt-missing', 'no token at all (a request straight to the backend)', 'jwt', [
    request(GET, {}, no('missing_token')),
  ]);

  // ---- RFC 9421 format
  add('httpsig-valid-get', 'GET with a query', 'http-message-signatures', [request(GET, msg(edMsg, GET), ok)]);
  add('httpsig-valid-post', 'POST with Content-Digest covered', 'http-message-signatures', [
    request(POST, msg(edMsg, POST), ok),
  ]);
  add(
    'httpsig-other-path',
    'the signature of /orders/7 on /orders/8 (the base changes: bad_signature)',
    'http-message-signatures',
    [request({ ...GET, upstreamPath: '/orders/8' }, msg(edMsg, GET), no('bad_signature'))],
  );
  add('httpsig-other-query', 'the signature of ?limit=5 on ?limit=500', 'http-message-signatures', [
    request({ ...GET, query: 'limit=500' }, msg(edMsg, GET), no('bad_signature')),
  ]);
  add('httpsig-other-method', 'the signature of a GET on a DELETE', 'http-message-signatures', [
    request({ ...GET, method: 'DELETE' }, msg(edMsg, GET), no('bad_signature')),
  ]);
  add(
    'httpsig-other-host',
    'the signature for orders.internal:8080 sent to billing.internal:8080',
    'http-message-signatures',
    [request({ ...GET, host: 'billing.internal:8080' }, msg(edMsg, GET), no('bad_signature'))],
  );
  add('httpsig-altered-body', 'another body under the signed Content-Digest', 'http-message-signatures', [
    request(POST, msg(edMsg, POST), no('body_digest_mismatch'), Buffer.from('{"item":"book","quantity":200}')),
  ]);
  add('httpsig-expired', 'created 40 s before now, expires after 30 s', 'http-message-signatures', [
    request(GET, msg(edMsg, GET, { now: NOW - 40 }), no('expired')),
  ]);
  const replayedMsg = msg(edMsg, GET);
  add('httpsig-replayed', 'the same signature twice', 'http-message-signatures', [
    request(GET, replayedMsg, ok),
    request(GET, replayedMsg, no('replayed')),
  ]);
  add('httpsig-wrong-audience', 'signed for the billing backend', 'http-message-signatures', [
    request(GET, msg(edMsg, GET, { audience: 'billing' }), no('wrong_audience')),
  ]);
  add('httpsig-wrong-key-same-kid', 'signed by another key under a known kid', 'http-message-signatures', [
    request(GET, msg(strangerMsg, GET), no('bad_signature')),
  ]);
  {
    const m = msg(edMsg, GET);
    const swapped = { ...m, 'signature-input': m['signature-input']!.replace('alg="ed25519"', 'alg="hmac-sha256"') };
    add('httpsig-alg-swap', 'alg parameter changed to hmac-sha256', 'http-message-signatures', [
      request(GET, swapped, no('alg_not_allowed')),
    ]);
  }

  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(out)) if (f.endsWith('.json')) fs.rmSync(path.join(out, f));
  for (const v of vectors) fs.writeFileSync(path.join(out, `${v.name}.json`), `${JSON.stringify(v, null, 2)}\n`);
  process.stdout.write(`wrote ${vectors.length} vectors to ${out}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
