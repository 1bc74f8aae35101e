// bulwark-jwt key and token hygiene through the Kong emulator with the real plugin server (run on both
// servers: BULWARK_PLUGINSERVER=stock for the stock one) and a real JWKS server:
// - a JWKS serving an RSA key with e = 1 (Wycheproof's JWK test) next to good keys: tokens "signed" for the
//   e = 1 key (no private key needed: the signature is the padded digest) are refused, the good key keeps
//   working, one log line names the dropped kid and the reason;
// - static keys with e = 1 or a ROCA modulus fail the instance start with the field named;
// - a signature spelled with non-zero trailing bits (same bytes) is refused;
// - a present aud is checked even with audience_required false.
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  startGateway,
  type Gateway,
  afterAllNoFailOpen,
  BOTH_PLUGIN_SERVERS,
  runsOnPluginServers,
} from '../../helpers/emulator';
import { claimsFor, makeSigner, startIdp, type Idp, type Signer } from '../../fixtures/jwt/idp';
import { rocaPublicJwk } from '../../fixtures/roca';
import { jose } from '../../../plugins/lib/jose';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const AUD = 'orders-api';
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex'); // RFC 8017 §9.2 note 1

/** An RS256 "signature" that verifies under any key with e = 1: s^1 mod n = s = the EMSA-PKCS1-v1_5 encoding. */
function forgeForExponentOne(signingInput: string, modulusBytes: number): string {
  const t = Buffer.concat([SHA256_DIGEST_INFO, createHash('sha256').update(signingInput).digest()]);
  return Buffer.concat([
    Buffer.from([0, 1]),
    Buffer.alloc(modulusBytes - t.length - 3, 0xff),
    Buffer.from([0]),
    t,
  ]).toString('base64url');
}

const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('bulwark-jwt key hygiene (emulator + real plugin server + real JWKS server)', () => {
  let gw: Gateway;
  let idp: Idp;
  let good: Signer;
  let staticSigner: Signer;
  const logs: string[] = [];
  const weakPublic = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  const weakJwk = { ...weakPublic, e: 'AQ', kid: 'weak-e1', alg: 'RS256', use: 'sig' };
  const rocaJwk = { ...rocaPublicJwk(), kid: 'roca-1', alg: 'RS256', use: 'sig' };

  beforeAll(async () => {
    idp = await startIdp();
    good = await makeSigner('RS256', 'good-1');
    staticSigner = await makeSigner('RS256', 'static-1');
    idp.setKeys({ keys: [weakJwk, good.publicJwk, rocaJwk] });
    const e1Pem = createPublicKey({ key: weakJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const plugin = (route: string, config: object) => ({ name: 'bulwark-jwt', route, config });
    gw = await startGateway({ plugins: ['bulwark-jwt'], onLog: (l) => logs.push(l) });
    gw.configure(
      JSON.stringify({
        _format_version: '3.0',
        services: [
          {
            name: 'api',
            url: 'ECHO',
            routes: ['jwks', 'static-e1', 'static-roca', 'static', 'noaud'].map((n) => ({ name: n, paths: [`/${n}`] })),
          },
        ],
        plugins: [
          plugin('jwks', {
            issuers: [
              {
                issuer: idp.base,
                jwks_url: idp.jwksUrl,
                allow_http_jwks: true,
                audiences: [AUD],
                algorithms: ['RS256'],
              },
            ],
          }),
          plugin('static-e1', {
            issuers: [{ issuer: 'weak', keys: [e1Pem], audiences: [AUD], algorithms: ['RS256'] }],
          }),
          plugin('static-roca', {
            issuers: [
              { issuer: 'ok', keys: [JSON.stringify(staticSigner.publicJwk)], audiences: [AUD] },
              { issuer: 'roca', keys: [JSON.stringify(rocaJwk)], audiences: [AUD] },
            ],
          }),
          plugin('static', {
            issuers: [
              {
                issuer: 'static',
                keys: [JSON.stringify(staticSigner.publicJwk)],
                audiences: [AUD],
                algorithms: ['RS256'],
              },
            ],
          }),
          plugin('noaud', {
            issuers: [
              {
                issuer: 'static',
                keys: [JSON.stringify(staticSigner.publicJwk)],
                audience_required: false,
                algorithms: ['RS256'],
              },
            ],
          }),
        ],
      }),
    );
  });

  afterAllNoFailOpen(() => [gw]);
  afterAll(async () => {
    await idp?.close();
  });

  const call = async (p: string, token: string) => {
    const res = await gw.kong.request({ path: p, headers: { authorization: `Bearer ${token}` } });
    expect(res.report.failOpen).toEqual([]);
    await res.report.logDone;
    return res;
  };

  test('JWKS with an e = 1 key and a ROCA key next to a good key: forged tokens 401, the good key works, one log line per dropped kid', async () => {
    const signingInput = `${b64url({ alg: 'RS256', kid: 'weak-e1', typ: 'at+jwt' })}.${b64url(claimsFor(idp.base, AUD))}`;
    const forged = `${signingInput}.${forgeForExponentOne(signingInput, Buffer.from(weakPublic.n!, 'base64url').length)}`;
    // The forgery is real: jose verifies it with the e = 1 key. Only the key check stops it.
    await expect(jose().compactVerify(forged, await jose().importJWK(weakJwk, 'RS256'))).resolves.toBeDefined();

    const before = logs.length;
    for (let i = 0; i < 3; i++) {
      const res = await call('/jwks/x', forged);
      expect(res.status).toBe(401);
      expect(res.report.upstreamRequest).toBeUndefined();
      expect(res.headers.first('www-authenticate')).toContain(
        'error_description="The access token signature is invalid"',
      );
    }
    expect((await call('/jwks/x', await good.sign(claimsFor(idp.base, AUD)))).status).toBe(200);

    const refusals = logs.slice(before).filter((l) => l.includes('jwks_key_refused'));
    process.stdout.write(`JWKS key refusals logged:\n${refusals.join('\n')}\n`);
    expect(refusals).toHaveLength(2);
    expect(refusals.filter((l) => l.includes('"kid":"weak-e1"'))).toHaveLength(1);
    expect(refusals.find((l) => l.includes('"kid":"weak-e1"'))).toContain('RSA public exponent 1 is below 3');
    expect(refusals.find((l) => l.includes('"kid":"roca-1"'))).toContain('ROCA fingerprint');
    expect(refusals.join('\n')).not.toContain(String(weakPublic.n).slice(0, 32)); // no key material
  });

  test('a static key with e = 1 fails the instance start with the field named: 500, never proxied', async () => {
    const signingInput = `${b64url({ alg: 'RS256' })}.${b64url(claimsFor('weak', AUD))}`;
    const res = await call('/static-e1/x', `${signingInput}.${forgeForExponentOne(signingInput, 256)}`);
    expect(res.status).toBe(500);
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(gw.kong.log.join('\n')).toMatch(/issuers\[0\]\.keys\[0\]: RSA public exponent 1 is below 3/);
  });

  test('a static ROCA key fails the instance start with the field named, even next to a good issuer', async () => {
    const res = await call('/static-roca/x', await staticSigner.sign(claimsFor('ok', AUD)));
    expect(res.status).toBe(500);
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(gw.kong.log.join('\n')).toMatch(/issuers\[1\]\.keys\[0\]: RSA modulus has the ROCA fingerprint/);
  });

  test('a signature spelled with non-zero trailing bits (same bytes) is refused; the canonical spelling passes', async () => {
    const token = await staticSigner.sign(claimsFor('static', AUD));
    expect((await call('/static/x', token)).status).toBe(200);
    const sig = token.split('.')[2]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 256 bytes → 342 characters: the last one carries 2 bits of data and 4 unused (zero) bits; set one.
    const variant = token.slice(0, -1) + alphabet[alphabet.indexOf(sig.slice(-1)) + 1]!;
    expect(Buffer.from(variant.split('.')[2]!, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    const before = logs.length;
    const res = await call('/static/x', variant);
    expect(res.status).toBe(401);
    expect(res.report.upstreamRequest).toBeUndefined();
    expect(res.headers.first('www-authenticate')).toContain('error_description="The access token is malformed"');
    expect(logs.slice(before).join('\n')).toContain('signature is not canonical base64url');
  });

  test('audience_required false without audiences: a token without aud passes, a token with any aud is refused', async () => {
    expect((await call('/noaud/x', await staticSigner.sign(claimsFor('static', AUD, { aud: undefined })))).status).toBe(
      200,
    );
    const res = await call('/noaud/x', await staticSigner.sign(claimsFor('static', 'some-other-api')));
    expect(res.status).toBe(401);
    expect(res.headers.first('www-authenticate')).toContain(
      'error_description="The access token audience is not accepted"',
    );
  });
});
