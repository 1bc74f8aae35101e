// RFC 9745 `Deprecation` and RFC 8594 `Sunset` response headers for operations the OpenAPI document marks
// deprecated (openapi.deprecation_headers). The document says it per operation:
//   deprecated: true                 the operation is deprecated (OpenAPI);
//   x-deprecation-date: <date>       since when (RFC 9745's Deprecation value is a date: without one, no header);
//   x-sunset: <date>                 when it stops being served (RFC 8594 Sunset).
// Dates are RFC 3339 / ISO 8601 (`2026-06-30` or `2026-06-30T00:00:00Z`).
import { ConfigError } from '../lib/config';

export interface OperationDeprecation {
  deprecated: boolean;
  /** x-deprecation-date, epoch seconds. */
  since?: number;
  /** x-sunset, epoch seconds. */
  sunset?: number;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

function dateField(op: Record<string, unknown>, name: string, location: string): number | undefined {
  const v = op[name];
  if (v === undefined) return undefined;
  const t = typeof v === 'string' && ISO_DATE.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t))
    throw new ConfigError(`${location}.${name}`, 'expected an RFC 3339 date (2026-06-30 or 2026-06-30T00:00:00Z)');
  return Math.floor(t / 1000);
}

/** The operation's deprecation facts, or undefined when it has none. `location` names the operation for errors. */
export function readDeprecation(op: Record<string, unknown>, location: string): OperationDeprecation | undefined {
  const since = dateField(op, 'x-deprecation-date', location);
  const sunset = dateField(op, 'x-sunset', location);
  const deprecated = op.deprecated === true;
  if (!deprecated && since === undefined && sunset === undefined) return undefined;
  return { deprecated, ...(since !== undefined ? { since } : {}), ...(sunset !== undefined ? { sunset } : {}) };
}

/** The response headers for a deprecated operation: `Deprecation: @<seconds>` and `Sunset: <HTTP-date>`. */
export function deprecationHeaders(d: OperationDeprecation | undefined): Record<string, string> | undefined {
  if (d === undefined) return undefined;
  const headers: Record<string, string> = {};
  // RFC 9745 §2.1: an sf-date (`@` + Unix seconds); a deprecated operation with no known date gets none.
  if (d.since !== undefined) headers.Deprecation = `@${d.since}`;
  // RFC 8594 §3: an HTTP-date (IMF-fixdate, what toUTCString prints).
  if (d.sunset !== undefined) headers.Sunset = new Date(d.sunset * 1000).toUTCString();
  return Object.keys(headers).length > 0 ? headers : undefined;
}
