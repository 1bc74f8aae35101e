// The credential fingerprint of a security event (`credential_fingerprint`, lib/security-event.ts): which credential a
// request presented, so that an analyst can follow one key, token or certificate across events and the abuse
// detectors can count distinct credentials, without the credential itself ever leaving the plugin.
//
// Format: `<label>:<digest>`.
//   label   names the kind of credential and is never secret: `jwt`, `mtls`, `oauth2-client`, or for an API key the
//           key's configured prefix (`bwk_live`; `api-key` when the prefix is not one of the configured ones, so that
//           a caller cannot spread its guesses over made-up labels). bulwark-audit's failed_auth_credential detector
//           counts per `<plugin>/<label>` (the part before the last ':').
//   digest  for a secret (API key, bearer token, the stored hash of an OAuth2 client secret): the first 12
//           characters (72 bits) of the base64url SHA-256 of the secret, the same 12 characters bulwark-jwt has
//           always logged as `token` (lib/token-hash.ts tokenFingerprint), so events and log lines correlate.
//           72 bits: collisions are negligible for counting distinct credentials, and a hash of a high-entropy
//           secret cannot be inverted. Values that may well be a person's password are not fingerprinted (a fast
//           hash of one would be an offline guessing oracle in every log store): an API-key header value that does
//           not even have a key's shape, and the client secret an OAuth2 client presents (bulwark-oauth2
//           fingerprints the stored hash of the secret that matched instead). A bearer value is fingerprinted as
//           presented, as bulwark-jwt's `jwt_rejected` log line always has.
//           for a client certificate: the SHA-256 fingerprint of the leaf's DER in lower-case hex (64 characters):
//           public, standard, what `openssl x509 -fingerprint -sha256` prints (without colons) and what operators
//           search for; it is also the certificate's identity credential id.
import { fingerprintOfTokenHash, tokenFingerprint } from './token-hash';

/** The labels of the non-API-key credentials. */
export const FINGERPRINT_LABELS = {
  jwt: 'jwt',
  mtls: 'mtls',
  oauth2Client: 'oauth2-client',
  /** An API key whose prefix is not one of the configured ones. */
  apiKey: 'api-key',
} as const;

/** Longest fingerprint: a 24-character key prefix or `mtls` with 64 hex digits, well inside the record bound. */
export const FINGERPRINT_MAX_LENGTH = 96;

const LABEL = /^[a-z][a-z0-9_-]{0,31}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

function checkedLabel(label: string): string {
  if (!LABEL.test(label)) throw new Error(`credential fingerprint label ${JSON.stringify(label.slice(0, 40))} invalid`);
  return label;
}

/** `<label>:<12 base64url characters of SHA-256(secret)>`; the secret must be high-entropy (see above). */
export function secretFingerprint(label: string, secret: string): string {
  return `${checkedLabel(label)}:${tokenFingerprint(secret)}`;
}

/** secretFingerprint from the secret's tokenHash (lib/token-hash.ts), when one was computed anyway. */
export function secretFingerprintOfHash(label: string, secretHash: string): string {
  return `${checkedLabel(label)}:${fingerprintOfTokenHash(secretHash)}`;
}

/** `mtls:<sha-256 of the leaf certificate's DER, lower-case hex>`. */
export function certificateFingerprint(sha256Hex: string): string {
  const hex = sha256Hex.replace(/:/g, '').toLowerCase();
  if (!SHA256_HEX.test(hex)) throw new Error('certificate fingerprint must be a SHA-256 in hex');
  return `${FINGERPRINT_LABELS.mtls}:${hex}`;
}

/** The label of a fingerprint (the part before the last ':'). */
export function fingerprintLabel(fingerprint: string): string {
  const cut = fingerprint.lastIndexOf(':');
  return cut > 0 ? fingerprint.slice(0, cut) : fingerprint;
}
