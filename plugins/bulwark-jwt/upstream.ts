// What the upstream sees of an accepted token: chosen claims as request headers, and the token itself
// removed when configured (always when it came in the query string). Pure: returns the PDK changes to make.
import type { HeaderMultimap, HeaderValues } from '../lib/pdk';
import { verifiedHeaderChanges } from '../lib/verified-headers';
import type { JwtConfig } from './config';
import type { JsonObject } from './token';
import { cookieHeaderWithout, type TokenLocation } from './token-source';

export const MAX_FORWARDED_VALUE = 4096;
const SAFE_VALUE = /^[^\x00-\x1f\x7f]*$/;

/** A claim as a header value: scalars as text, arrays of scalars space-separated, objects as JSON. */
export function claimHeaderValue(value: unknown): string | undefined {
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value) && value.every((v) => ['string', 'number', 'boolean'].includes(typeof v)))
    text = value.join(' ');
  else if (value !== null && typeof value === 'object') text = JSON.stringify(value);
  if (text === undefined || text === '' || text.length > MAX_FORWARDED_VALUE || !SAFE_VALUE.test(text))
    return undefined;
  return text;
}

export interface UpstreamChanges {
  /** One kong.service.request.setHeaders call (replaces only the named headers). */
  set: HeaderValues;
  /** Headers to remove (one clearHeader each): spoofed claim headers (every spelling), the token header. */
  clear: string[];
  /** Query parameter to remove (the token). */
  clearQueryArg: string | undefined;
}

export function upstreamChanges(
  conf: JwtConfig,
  claims: JsonObject,
  inbound: HeaderMultimap,
  location: TokenLocation | undefined,
): UpstreamChanges {
  const facts: HeaderValues = {};
  const withheld: string[] = [];
  for (const [claim, header] of conf.forwardClaims) {
    const value = claimHeaderValue(claims[claim]);
    if (value !== undefined) facts[header] = value;
    // No usable claim: an inbound header of that name must not reach the upstream as if it came from the token.
    else withheld.push(header);
  }
  // Every other spelling an upstream folds to the same name (X_Auth_Subject, x-auth_subject…) is cleared too.
  const { set, clear } = verifiedHeaderChanges(inbound, facts, withheld);
  let clearQueryArg: string | undefined;
  if (location !== undefined) {
    if (location.type === 'query') clearQueryArg = location.name;
    else if (conf.hideCredentials) {
      if (location.type === 'bearer') clear.push('Authorization');
      else if (location.type === 'header') clear.push(location.name);
      else {
        const rest = cookieHeaderWithout(inbound, location.name);
        if (rest === undefined) clear.push('Cookie');
        else set.Cookie = rest;
      }
    }
  }
  return { set, clear, clearQueryArg };
}

/** Without a verified token (anonymous): no inbound header may pass for a forwarded claim, under any spelling. */
export function anonymousUpstreamChanges(conf: JwtConfig, inbound: HeaderMultimap): string[] {
  return verifiedHeaderChanges(
    inbound,
    {},
    conf.forwardClaims.map(([, header]) => header),
  ).clear;
}
