import { parseToken } from '../../../../plugins/bulwark-jwt/token';
import { b64url } from '../../../fixtures/jwt/idp';

const H = b64url({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' });
const P = b64url({ iss: 'i', sub: 's' });
const S = 'c2lnbmF0dXJl';
const reason = (t: string, max = 8192) => {
  const r = parseToken(t, max);
  return 'reason' in r ? r.reason : 'ok';
};

describe('parseToken', () => {
  it('parses header, claims, alg and kid of a well-formed token', () => {
    expect(parseToken(`${H}.${P}.${S}`, 8192)).toEqual({
      header: { alg: 'RS256', kid: 'k1', typ: 'at+jwt' },
      claims: { iss: 'i', sub: 's' },
      alg: 'RS256',
      kid: 'k1',
    });
  });

  it.each([
    ['too long', `${H}.${P}.${S}`, 'token_too_large', 20],
    ['two segments', `${H}.${P}`, 'malformed', 8192],
    ['four segments', `${H}.${P}.${S}.x`, 'malformed', 8192],
    ['JWE (five segments)', 'a.b.c.d.e', 'encrypted_token', 8192],
    ['empty payload', `${H}..${S}`, 'malformed', 8192],
    ['no signature', `${H}.${P}.`, 'malformed', 8192],
    ['padding', `${H}.${P}=.${S}`, 'malformed', 8192],
    ['standard base64 alphabet', `${H}.${P}.${S}+/`, 'malformed', 8192],
    ['impossible base64 length', `${H}.${P}.${S}a`, 'malformed', 8192],
    ['header not JSON', `${b64url('hello')}.${P}.${S}`, 'header_not_json', 8192],
    ['header a JSON array', `${b64url('["alg"]')}.${P}.${S}`, 'header_not_json', 8192],
    ['header not UTF-8', `${Buffer.from([0xff, 0xfe]).toString('base64url')}.${P}.${S}`, 'malformed', 8192],
    ['claims not JSON', `${H}.${b64url('hello')}.${S}`, 'claims_not_json', 8192],
    ['claims a JSON string', `${H}.${b64url('"x"')}.${S}`, 'claims_not_json', 8192],
    ['duplicate claim', `${H}.${b64url('{"sub":"a","sub":"b"}')}.${S}`, 'duplicate_member', 8192],
    ['duplicate header member', `${b64url('{"alg":"RS256","alg":"none"}')}.${P}.${S}`, 'duplicate_member', 8192],
    ['alg none', `${b64url({ alg: 'none' })}.${P}.`, 'alg_none', 8192],
    ['alg NONE', `${b64url({ alg: 'NONE' })}.${P}.${S}`, 'alg_none', 8192],
    ['no alg', `${b64url({ typ: 'JWT' })}.${P}.${S}`, 'malformed', 8192],
    ['unsupported alg', `${b64url({ alg: 'RS1' })}.${P}.${S}`, 'alg_unsupported', 8192],
    ['crit', `${b64url({ alg: 'RS256', crit: ['exp'] })}.${P}.${S}`, 'crit_unsupported', 8192],
    ['b64 false', `${b64url({ alg: 'RS256', b64: false })}.${P}.${S}`, 'crit_unsupported', 8192],
    ['enc in a 3-part token', `${b64url({ alg: 'RS256', enc: 'A128GCM' })}.${P}.${S}`, 'encrypted_token', 8192],
    ['numeric kid', `${b64url({ alg: 'RS256', kid: 1 })}.${P}.${S}`, 'kid_invalid', 8192],
    ['huge kid', `${b64url({ alg: 'RS256', kid: 'k'.repeat(257) })}.${P}.${S}`, 'kid_invalid', 8192],
    [
      'huge header within the token limit',
      `${b64url({ alg: 'RS256', x: 'x'.repeat(2100) })}.${P}.${S}`,
      'token_too_large',
      65536,
    ],
    [
      'deeply nested claims',
      `${H}.${b64url('{"a":' + '['.repeat(40) + ']'.repeat(40) + '}')}.${S}`,
      'claims_not_json',
      8192,
    ],
  ])('%s → %s', (_name, token, expected, max) => {
    expect(reason(token, max)).toBe(expected);
  });

  it('refuses base64url with non-zero trailing bits (a second spelling of the same bytes)', () => {
    const canonical = b64url('{"alg":"RS256","ab":1}'); // 22 bytes: the last character carries 4 unused bits
    const bytes = Buffer.from(canonical, 'base64url');
    expect(bytes.length % 3).not.toBe(0);
    const last = canonical.slice(-1);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) + 1]!;
    const variant = canonical.slice(0, -1) + sibling;
    expect(Buffer.from(variant, 'base64url').equals(bytes)).toBe(true);
    expect(reason(`${variant}.${P}.${S}`)).toBe('malformed');
  });

  it('refuses a signature segment with non-zero trailing bits (same bytes, another spelling: one token, one spelling)', () => {
    // A 256-byte RS256 signature is 342 characters; the last one carries 4 unused bits.
    const sig = Buffer.alloc(256, 7).toString('base64url');
    expect(reason(`${H}.${P}.${sig}`)).toBe('ok');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const variant = sig.slice(0, -1) + alphabet[alphabet.indexOf(sig.slice(-1)) + 1]!;
    expect(Buffer.from(variant, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    const parsed = parseToken(`${H}.${P}.${variant}`, 8192);
    expect(parsed).toEqual({ reason: 'malformed', detail: 'signature is not canonical base64url' });
    expect(reason(`${H}.${P}.${sig}==`)).toBe('malformed');
  });
});
