// Parsing a compact JWS (RFC 7515 §7.1) carrying a JWT, before any key is touched. Everything here is
// attacker input: sizes are bounded, base64url must be canonical, header and claims must be JSON objects
// without duplicate member names (RFC 7519 §4: a JWT with duplicate claim names is rejected here, since
// parsers disagree on which one wins), `alg` must name a supported algorithm (`none` never is), and a
// `crit` header or an unencoded payload (`b64`) is refused (RFC 7515 §4.1.11: unknown critical
// extensions make the token invalid; this plugin understands none).
import { parseGuardedJson, type JsonLimits } from '../lib/json-guard';
import { SUPPORTED_ALGORITHMS } from './keys';

export type JsonObject = Record<string, unknown>;

export interface ParsedToken {
  header: JsonObject;
  claims: JsonObject;
  alg: string;
  kid: string | undefined;
}

export type TokenParseFailure =
  | 'token_too_large'
  | 'malformed'
  | 'encrypted_token'
  | 'header_not_json'
  | 'claims_not_json'
  | 'duplicate_member'
  | 'alg_none'
  | 'alg_unsupported'
  | 'crit_unsupported'
  | 'kid_invalid';

export interface TokenParseError {
  reason: TokenParseFailure;
  detail: string;
}

/** Header JSON larger than this is refused whatever the token limit (a real header is < 1 KiB). */
export const MAX_HEADER_BYTES = 2048;
export const MAX_KID_LENGTH = 256;

const B64URL = /^[A-Za-z0-9_-]*$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The bytes of a canonical base64url segment (RFC 7515 §2, RFC 4648 §5 without padding), else undefined: no
 * padding, no character outside the alphabet, no impossible length, and zero unused trailing bits, so one
 * token has one spelling. jose (atob / Uint8Array.fromBase64 "loose") would accept "AB" for "AA" and padding.
 */
function canonicalBase64url(segment: string): Buffer | undefined {
  if (!B64URL.test(segment) || segment.length % 4 === 1) return undefined;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : undefined; // differs: non-zero trailing bits
}

function decodeSegment(segment: string): string | undefined {
  const bytes = canonicalBase64url(segment);
  if (bytes === undefined) return undefined;
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined; // not UTF-8
  }
}

// Header and payload JSON go through the shared hardened scanner: duplicate member names are refused (RFC 7515
// §5.2 / RFC 7519 §4 allow rejecting them; JSON.parse would silently keep the last), as are deep nesting, lone
// surrogates and invalid UTF-8. Lengths are already bounded by the token size limit.
const TOKEN_JSON_LIMITS: Readonly<JsonLimits> = Object.freeze({
  maxDepth: 16,
  maxArrayLength: 1 << 20,
  maxObjectEntries: 1 << 20,
  maxKeyLength: 1 << 20,
  maxStringLength: 1 << 24,
});

function parseObject(text: string): JsonObject | 'duplicate_member' | undefined {
  const parsed = parseGuardedJson(Buffer.from(text, 'utf8'), TOKEN_JSON_LIMITS);
  if (!parsed.ok) return parsed.error.rule === 'duplicate-key' ? 'duplicate_member' : undefined;
  const value = parsed.value;
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

export function parseToken(token: string, maxBytes: number): ParsedToken | TokenParseError {
  if (token.length > maxBytes)
    return { reason: 'token_too_large', detail: `token of ${token.length} bytes exceeds ${maxBytes}` };
  const parts = token.split('.');
  if (parts.length === 5) return { reason: 'encrypted_token', detail: 'JWE tokens are not accepted' };
  if (parts.length !== 3)
    return { reason: 'malformed', detail: `expected 3 dot-separated segments, found ${parts.length}` };
  const [h, p, s] = parts as [string, string, string];
  if (h.length === 0 || p.length === 0) return { reason: 'malformed', detail: 'empty header or payload segment' };
  if (h.length > Math.ceil((MAX_HEADER_BYTES * 4) / 3) + 4)
    return { reason: 'token_too_large', detail: `header over ${MAX_HEADER_BYTES} bytes` };

  const headerText = decodeSegment(h);
  if (headerText === undefined) return { reason: 'malformed', detail: 'header is not canonical base64url UTF-8' };
  const header = parseObject(headerText);
  if (header === 'duplicate_member') return { reason: 'duplicate_member', detail: 'duplicate member in the header' };
  if (header === undefined) return { reason: 'header_not_json', detail: 'header is not a JSON object' };

  const alg = header.alg;
  if (typeof alg !== 'string') return { reason: 'malformed', detail: 'header has no "alg"' };
  if (alg.toLowerCase() === 'none') return { reason: 'alg_none', detail: 'unsigned token (alg "none")' };
  if (!SUPPORTED_ALGORITHMS.includes(alg))
    return { reason: 'alg_unsupported', detail: `algorithm ${JSON.stringify(alg.slice(0, 32))} is not supported` };
  if ('crit' in header) return { reason: 'crit_unsupported', detail: 'critical header extensions are not supported' };
  if ('b64' in header)
    return { reason: 'crit_unsupported', detail: 'unencoded payloads (b64) are not accepted for JWTs' };
  if ('enc' in header) return { reason: 'encrypted_token', detail: 'JWE tokens are not accepted' };
  const kid = header.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH)) {
    return { reason: 'kid_invalid', detail: `kid must be a string of 1-${MAX_KID_LENGTH} characters` };
  }

  // After the header, so that an unsigned `alg: none` token is reported as such.
  if (s.length === 0) return { reason: 'malformed', detail: 'missing signature' };
  if (canonicalBase64url(s) === undefined)
    return { reason: 'malformed', detail: 'signature is not canonical base64url' };

  const claimsText = decodeSegment(p);
  if (claimsText === undefined) return { reason: 'malformed', detail: 'payload is not canonical base64url UTF-8' };
  const claims = parseObject(claimsText);
  if (claims === 'duplicate_member')
    return { reason: 'duplicate_member', detail: 'duplicate claim name in the payload' };
  if (claims === undefined) return { reason: 'claims_not_json', detail: 'payload is not a JSON object' };
  return { header, claims, alg, kid };
}

export function isParseError(v: ParsedToken | TokenParseError): v is TokenParseError {
  return 'reason' in v;
}
