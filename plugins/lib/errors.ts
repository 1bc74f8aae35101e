// Kong-style error responses shared by every Bulwark plugin: `{ "message": "..." }` JSON bodies sent with
// `kong.response.exit`, as Kong's bundled plugins do.
//
// The default messages are those of `kong.response.error` (Kong 3.9 `kong/pdk/response.lua`,
// HTTP_ERROR_MESSAGES), except where Kong's bundled plugins or `kong/tools/http.lua`
// (`get_default_exit_body`) say it differently and users know those texts:
// 413 from request-size-limiting, 429 from rate-limiting, 502/503 from get_default_exit_body.
import type { HeaderValues, JsonBody, Kong } from './pdk';

export const DEFAULT_ERROR_MESSAGES: Readonly<Record<number, string>> = Object.freeze({
  400: 'Bad request',
  401: 'Unauthorized',
  402: 'Payment required',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  407: 'Proxy authentication required',
  408: 'Request timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length required',
  412: 'Precondition failed',
  413: 'Request size limit exceeded',
  414: 'URI too long',
  415: 'Unsupported media type',
  416: 'Range not satisfiable',
  417: 'Expectation failed',
  421: 'Misdirected request',
  422: 'Unprocessable entity',
  423: 'Locked',
  424: 'Failed dependency',
  425: 'Too early',
  426: 'Upgrade required',
  428: 'Precondition required',
  429: 'API rate limit exceeded',
  431: 'Request header fields too large',
  451: 'Unavailable for legal reasons',
  494: 'Request header or cookie too large',
  500: 'An unexpected error occurred',
  501: 'Not implemented',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'The upstream server is timing out',
  505: 'HTTP version not supported',
});

/** The message Bulwark sends for an internal failure (Kong's own text for 500). */
export const UNEXPECTED_ERROR_MESSAGE = DEFAULT_ERROR_MESSAGES[500] as string;

export interface ErrorBody {
  message: string;
}

/** Kong's default message for a status; like `kong.response.error` for statuses without one. */
export function defaultErrorMessage(status: number): string {
  return DEFAULT_ERROR_MESSAGES[status] ?? `The upstream server responded with ${status}`;
}

export function errorBody(status: number, message?: string): ErrorBody {
  return { message: message !== undefined && message !== '' ? message : defaultErrorMessage(status) };
}

/**
 * A body sent as exactly this text, for a contract that fixes the bytes (OAuth 2.0 token errors are serialised by
 * the plugin: Kong's JSON encoder would escape `/` and order keys its own way). The caller sets Content-Type.
 */
export class RawBody {
  constructor(readonly text: string) {}
}

/**
 * A rejection's body: a string is the message of Kong's `{"message": …}` body (empty or absent: Kong's text for
 * the status); an object is sent as the whole JSON body, and a RawBody as its text, for plugins whose contract
 * fixes another shape.
 */
export type RejectBody = string | RawBody | JsonBody;

/**
 * End the request with an error `status`, a JSON body and headers: the implementation of the `reject` every phase
 * handler gets (lib/plugin.ts PhaseContext). Kong ends the request at once and never answers another PDK call of
 * this event. Allowed in rewrite, access and response (../../docs/kong-protocol.md §1.11).
 */
export function exitWithError(
  kong: Pick<Kong, 'response'>,
  status: number,
  body?: RejectBody,
  headers?: HeaderValues,
): Promise<void> {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    // A programming error; refusing here keeps a bad status from ever reaching Kong (which would raise).
    throw new RangeError(`reject() needs an error status (400-599), got ${status}`);
  }
  if (body instanceof RawBody) return kong.response.exit(status, body.text, headers);
  const json = body === undefined || typeof body === 'string' ? errorBody(status, body) : body;
  return kong.response.exit(status, json, headers);
}
