// RFC 7520 §4 JWS examples (spec/fixtures/jose-cookbook): the plugin's key import (keys.ts: public
// part of the cookbook JWKs, the key/alg binding) and jose's signature verification accept every
// example, in compact, flattened and general JSON serializations, and refuse them when altered or when
// checked with the wrong algorithm or key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { jose } from '../../../../plugins/lib/jose';
import { importedKeyFor, importJwk, keyMismatch, parseStaticKey } from '../../../../plugins/bulwark-jwt/keys';
import { parseToken } from '../../../../plugins/bulwark-jwt/token';

const ROOT = path.resolve(__dirname, '../../../fixtures/jose-cookbook');
const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

interface Example {
  title: string;
  input: { payload: string; key: Record<string, unknown>; alg: string };
  signing: { protected: Record<string, unknown> };
  output: { compact: string; json: unknown; json_flat: unknown };
}

const examples: [string, Example][] = fs
  .readdirSync(path.join(ROOT, 'jws'))
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(fs.readFileSync(path.join(ROOT, 'jws', f), 'utf8')) as Example]);

/** The verification key as an operator would configure it: the public part (or the oct JWK). */
function publicPart(jwk: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE.includes(k)));
}

describe('RFC 7520 JWS examples', () => {
  it('the corpus holds the four §4 examples (RS256, PS384, ES512, HS256)', () => {
    expect(examples.map(([, e]) => e.input.alg)).toEqual(['RS256', 'PS384', 'ES512', 'HS256']);
  });

  describe.each(examples)('%s', (_file, ex) => {
    const alg = ex.input.alg;
    const key = importJwk(publicPart(ex.input.key), 'cookbook', true);

    it('imports the key with its kid and binds it to the example algorithm', () => {
      expect(key.kid).toBe(ex.input.key.kid);
      expect(keyMismatch(key, alg)).toBeUndefined();
      expect(ex.signing.protected.alg).toBe(alg);
    });

    it('verifies the compact serialization and yields the payload', async () => {
      const { payload, protectedHeader } = await jose().compactVerify(
        ex.output.compact,
        (await importedKeyFor(key, alg)) as never,
        { algorithms: [alg] },
      );
      expect(new TextDecoder().decode(payload)).toBe(ex.input.payload);
      expect(protectedHeader).toEqual(ex.signing.protected);
    });

    it('verifies the flattened and general JSON serializations', async () => {
      const k = (await importedKeyFor(key, alg)) as never;
      const flat = await jose().flattenedVerify(ex.output.json_flat as never, k, { algorithms: [alg] });
      expect(new TextDecoder().decode(flat.payload)).toBe(ex.input.payload);
      const general = await jose().generalVerify(ex.output.json as never, k, { algorithms: [alg] });
      expect(new TextDecoder().decode(general.payload)).toBe(ex.input.payload);
    });

    it('refuses an altered payload and an algorithm outside the allow-list', async () => {
      const [h, p, s] = ex.output.compact.split('.');
      const altered = `${h}.${p!.slice(0, -2)}${p!.endsWith('AA') ? 'BB' : 'AA'}.${s}`;
      const k = (await importedKeyFor(key, alg)) as never;
      await expect(jose().compactVerify(altered, k, { algorithms: [alg] })).rejects.toMatchObject({
        code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      });
      await expect(jose().compactVerify(ex.output.compact, k, { algorithms: ['RS512'] })).rejects.toMatchObject({
        code: 'ERR_JOSE_ALG_NOT_ALLOWED',
      });
    });

    it('is not a JWT: the JWT parser refuses its plain-text payload', () => {
      expect(parseToken(ex.output.compact, 8192)).toMatchObject({ reason: 'claims_not_json' });
    });
  });

  it('the cookbook RSA key is refused for HS256 and the EC P-521 key for ES256 (key type must match alg)', () => {
    const rsa = importJwk(publicPart(examples[0]![1].input.key), 'rsa', false);
    const ec = importJwk(publicPart(examples[2]![1].input.key), 'ec', false);
    expect(keyMismatch(rsa, 'HS256')).toBe('HS256 needs a shared secret, not an RSA key');
    expect(keyMismatch(ec, 'ES256')).toBe('ES256 needs curve P-256, not P-521');
    expect(keyMismatch(ec, 'ES512')).toBeUndefined();
  });

  it('the §3 JWKs: public keys import, private keys are refused as static keys, oct keys only where secrets are allowed', () => {
    const jwk = (f: string) => fs.readFileSync(path.join(ROOT, 'jwk', f), 'utf8');
    expect(parseStaticKey(jwk('3_1.ec_public_key.json'), 'k')[0]).toMatchObject({
      kty: 'EC',
      crv: 'P-521',
      kid: 'bilbo.baggins@hobbiton.example',
    });
    expect(parseStaticKey(jwk('3_3.rsa_public_key.json'), 'k')[0]).toMatchObject({ kty: 'RSA', size: 2048 });
    expect(() => parseStaticKey(jwk('3_2.ec_private_key.json'), 'k')).toThrow('private key material is not accepted');
    expect(() => parseStaticKey(jwk('3_4.rsa_private_key.json'), 'k')).toThrow('private key material is not accepted');
    expect(parseStaticKey(jwk('3_5.symmetric_key_mac_computation.json'), 'k')[0]).toMatchObject({
      kty: 'oct',
      alg: 'HS256',
      size: 32,
    });
    expect(() => importJwk(JSON.parse(jwk('3_5.symmetric_key_mac_computation.json')), 'jwks', false)).toThrow(
      'symmetric (oct) keys are not accepted here',
    );
  });
});
