// Kong 3.9 skips a plugin (fail-open) when one of its steps gets no reply for lua_socket_read_timeout (60 s;
// kong/runloop/plugin_servers/rpc/mp_rpc.lua Rpc:call returns "no data", handle_event only logs it). No Bulwark
// configuration may let a handler wait that long on anything outside Kong: every timeout field is bounded by the
// schema (`between`) and again by the config parser, at most MAX_OUTBOUND_WAIT_MS (10 s).
import type { FieldDef, FieldEntry } from '../../kong/schema/types';
import { MAX_OUTBOUND_WAIT_MS } from '../../plugins/lib/config';
import { configFor, violationFor } from '../helpers/plugin-info';
import * as apiKey from '../../plugins/bulwark-api-key';
import * as authz from '../../plugins/bulwark-authz';
import * as docs from '../../plugins/bulwark-docs';
import * as jwt from '../../plugins/bulwark-jwt';
import * as oauth2 from '../../plugins/bulwark-oauth2';
import * as rateLimit from '../../plugins/bulwark-rate-limit';
import * as transport from '../../plugins/bulwark-transport';
import * as threatProtection from '../../plugins/bulwark-threat-protection';
import * as upstreamTrust from '../../plugins/bulwark-upstream-trust';
import * as validator from '../../plugins/bulwark-validator';

/** [dotted path, field] of every field whose name says it is a timeout. */
function timeoutFields(entries: FieldEntry[], at = ''): [string, FieldDef][] {
  const out: [string, FieldDef][] = [];
  for (const entry of entries) {
    const [name, def] = Object.entries(entry)[0] as [string, FieldDef];
    const here = `${at}${name}`;
    if (/timeout/i.test(name)) out.push([here, def]);
    if (def.fields) out.push(...timeoutFields(def.fields, `${here}.`));
    if (def.elements?.fields) out.push(...timeoutFields(def.elements.fields, `${here}[].`));
  }
  return out;
}

const KONG_STEP_TIMEOUT_MS = 60_000;

describe("no Bulwark config can outlast Kong's 60 s wait for a plugin step", () => {
  test('MAX_OUTBOUND_WAIT_MS is well below lua_socket_read_timeout', () => {
    expect(MAX_OUTBOUND_WAIT_MS * 4).toBeLessThanOrEqual(KONG_STEP_TIMEOUT_MS);
  });

  test.each(
    [apiKey, authz, docs, jwt, oauth2, rateLimit, transport, upstreamTrust, validator, threatProtection].map(
      (m) => [m.Name, m] as const,
    ),
  )('%s: every timeout field is bounded by the schema', (_name, m) => {
    for (const [path, def] of timeoutFields(m.Schema as unknown as FieldEntry[])) {
      expect({ path, between: def.between }).toEqual({ path, between: [expect.any(Number), expect.any(Number)] });
      expect(def.between![1]).toBeLessThanOrEqual(MAX_OUTBOUND_WAIT_MS);
    }
  });

  test('the timeout fields found are the known outbound waits', () => {
    expect(timeoutFields(jwt.Schema as unknown as FieldEntry[]).map(([p]) => p)).toEqual(['jwks.timeout']);
    expect(timeoutFields(authz.Schema as unknown as FieldEntry[]).map(([p]) => p)).toEqual(['authzen.timeout_ms']);
    expect(timeoutFields(rateLimit.Schema as unknown as FieldEntry[]).map(([p]) => p)).toEqual([
      'redis.connect_timeout_ms',
      'redis.timeout_ms',
    ]);
    expect(timeoutFields(apiKey.Schema as unknown as FieldEntry[]).map(([p]) => p)).toEqual([
      'redis.connect_timeout_ms',
      'redis.timeout_ms',
    ]);
  });

  test('the config parsers refuse a longer wait too (a schema that Kong did not apply)', () => {
    const jwtConfig = configFor(jwt.Schema as unknown as FieldEntry[], {
      issuers: [{ issuer: 'https://idp.example.com', jwks_url: 'https://idp.example.com/jwks', audiences: ['a'] }],
    });
    expect(() => new jwt.Plugin({ ...jwtConfig, jwks: { ...(jwtConfig.jwks as object), timeout: 30_000 } })).toThrow(
      'jwks.timeout: must be between 100 and 10000',
    );
    const rl = configFor(rateLimit.Schema as unknown as FieldEntry[], {
      limits: [{ name: 'm', limit: 1, window_seconds: 60 }],
      redis: { mode: 'standalone' },
    });
    for (const key of ['timeout_ms', 'connect_timeout_ms']) {
      expect(() => new rateLimit.Plugin({ ...rl, redis: { ...(rl.redis as object), [key]: 60_000 } })).toThrow(
        `redis.${key}: must be between 10 and 10000`,
      );
    }
    const ak = configFor(apiKey.Schema as unknown as FieldEntry[], { store: 'redis', redis: { mode: 'standalone' } });
    expect(() => new apiKey.Plugin({ ...ak, redis: { ...(ak.redis as object), timeout_ms: 60_000 } })).toThrow(
      'redis.timeout_ms: must be between 10 and 10000',
    );
    expect(
      violationFor(rateLimit.Schema as unknown as FieldEntry[], {
        limits: [{ name: 'm', limit: 1, window_seconds: 60 }],
        redis: { timeout_ms: 60_000 },
      }),
    ).toEqual({
      config: { redis: { timeout_ms: 'value should be between 10 and 10000' } },
    });
  });
});
