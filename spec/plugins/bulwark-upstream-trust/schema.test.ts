// bulwark-upstream-trust's Schema against Kong's rules (the emulator's metaschema and config processing), then the
// instance start (parseConfig): keys limited to EdDSA/ES256, lifetime capped at 60 s, fields named in refusals.
import type { FieldEntry } from '../../../kong/schema/types';
import * as upstreamTrust from '../../../plugins/bulwark-upstream-trust';
import { parseUpstreamTrustConfig } from '../../../plugins/bulwark-upstream-trust/config';
import { configFor, describePluginInfo, violationFor } from '../../helpers/plugin-info';
import { ecKey, edKey, rsaKey } from '../bulwark-oauth2/fixtures';

const fields = upstreamTrust.Schema as unknown as FieldEntry[];
const configOf = (input: unknown) => configFor(fields, input);
const violation = (input: unknown) => violationFor(fields, input);
const ed = edKey();

describePluginInfo(
  upstreamTrust,
  'below authentication, authorization, rate limiting, validation, threat protection and request-transformer (801)',
);

describe('config', () => {
  test('defaults: JWT format, 30 s tokens, 1 MiB bodies rejected above, no JWKS path', () => {
    const conf = parseUpstreamTrustConfig(configOf({ issuer: 'gw', signing_keys: [ed.pem] }));
    expect(conf).toMatchObject({
      format: 'jwt',
      tokenTtl: 30,
      maxBodySize: 1048576,
      oversizedBody: 'reject',
      headerName: 'X-Bulwark-Upstream-Token',
    });
    expect(conf.jwksPath).toBeUndefined();
    expect(conf.keys.active.alg).toBe('EdDSA');
  });

  test('Kong refuses a token lifetime over 60 s, a missing issuer and no keys, naming the field', () => {
    expect(violation({ issuer: 'gw', signing_keys: [ed.pem], token_ttl: 61 })).toEqual({
      config: { token_ttl: expect.any(String) },
    });
    expect(violation({ signing_keys: [ed.pem] })).toEqual({ config: { issuer: expect.any(String) } });
    expect(violation({ issuer: 'gw', signing_keys: [] })).toEqual({ config: { signing_keys: expect.any(String) } });
    expect(violation({ issuer: 'gw', signing_keys: [ed.pem], format: 'paseto' })).toEqual({
      config: { format: expect.any(String) },
    });
  });

  test('the instance refuses RSA and P-384 keys (EdDSA or ES256 only) and an unknown active kid, naming the field', () => {
    expect(() => parseUpstreamTrustConfig(configOf({ issuer: 'gw', signing_keys: [ed.pem, rsaKey().pem] }))).toThrow(
      'signing_keys[1]: RS256 keys are not accepted',
    );
    expect(() => parseUpstreamTrustConfig(configOf({ issuer: 'gw', signing_keys: [ecKey('P-384').pem] }))).toThrow(
      'signing_keys[0]: ES384 keys are not accepted',
    );
    expect(() =>
      parseUpstreamTrustConfig(configOf({ issuer: 'gw', signing_keys: [ed.pem], active_key_id: 'nope' })),
    ).toThrow('active_key_id: no signing key has kid');
    expect(() =>
      parseUpstreamTrustConfig(configOf({ issuer: 'gw', signing_keys: [JSON.stringify({ ...ed.jwk, kid: 'a"b' })] })),
    ).toThrow('signing_keys[0]: kid must be');
  });

  test('rotation: several keys, the active one chosen by kid, all public parts in the JWKS', () => {
    const ec = ecKey('P-256');
    const conf = parseUpstreamTrustConfig(
      configOf({
        issuer: 'gw',
        signing_keys: [JSON.stringify({ ...ed.jwk, kid: 'old' }), JSON.stringify({ ...ec.jwk, kid: 'new' })],
        active_key_id: 'new',
      }),
    );
    expect(conf.keys.active).toMatchObject({ kid: 'new', alg: 'ES256' });
    const jwks = JSON.parse(conf.keys.jwksJson) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(['old', 'new']);
    expect(jwks.keys.every((k) => !('d' in k))).toBe(true);
  });
});
