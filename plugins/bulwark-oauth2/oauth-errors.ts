// RFC 6749 §5.2 error responses of the token endpoint, pure: which status, which headers, which body.
//
// Every response of the token endpoint carries `Cache-Control: no-store` and `Pragma: no-cache`
// (RFC 6749 §5.1; tokens and errors must not sit in caches). Descriptions are fixed texts chosen here,
// never derived from the request or from the configuration: the precise reason goes to Kong's log.
import type { HeaderValues } from '../lib/pdk';
import { OAUTH2_REASONS, type OAuth2Reason } from './reasons';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope';

export interface OAuthError {
  code: OAuthErrorCode;
  description: string;
  /** HTTP status when it differs from the RFC default (400, or 401 for invalid_client over Basic). */
  status?: number;
  /** Extra headers (Allow for 405, Retry-After for 429). */
  headers?: HeaderValues;
  /** invalid_client only: the client tried (or should try) HTTP Basic, so 401 + WWW-Authenticate. */
  basicChallenge?: boolean;
  /** The security event's reason code (reasons.ts) when it says more than `code`; never sent to the client. */
  reason?: OAuth2Reason;
}

export const NO_STORE_HEADERS: Readonly<HeaderValues> = Object.freeze({
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
});

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export interface TokenEndpointResponse {
  status: number;
  body: string;
  headers: HeaderValues;
  /** An error's reason code for the security event (reasons.ts). */
  reason?: OAuth2Reason;
}

/** The realm sent in `WWW-Authenticate: Basic realm="..."`. */
export const BASIC_REALM = 'bulwark-oauth2';

/** invalid_client has two reason codes (unknown_client, wrong_secret): callers say which; unknown_client otherwise. */
function reasonOfCode(code: OAuthErrorCode): OAuth2Reason {
  return code === 'invalid_client' ? OAUTH2_REASONS.unknownClient : code;
}

export function errorResponse(err: OAuthError): TokenEndpointResponse {
  let status = err.status ?? 400;
  const headers: HeaderValues = { 'Content-Type': JSON_CONTENT_TYPE, ...NO_STORE_HEADERS, ...(err.headers ?? {}) };
  if (err.code === 'invalid_client' && err.basicChallenge === true && err.status === undefined) {
    // RFC 6749 §5.2: a client that authenticated with the Authorization header gets 401 and the challenge.
    status = 401;
    headers['WWW-Authenticate'] = `Basic realm="${BASIC_REALM}", charset="UTF-8"`;
  }
  const body = JSON.stringify({ error: err.code, error_description: err.description });
  return { status, body, headers, reason: err.reason ?? reasonOfCode(err.code) };
}

export function successResponse(body: {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
}): TokenEndpointResponse {
  return {
    status: 200,
    body: JSON.stringify(body),
    headers: { 'Content-Type': JSON_CONTENT_TYPE, ...NO_STORE_HEADERS },
  };
}
