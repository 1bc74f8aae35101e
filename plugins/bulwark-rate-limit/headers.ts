// Response headers. Pure.
//
// IETF fields (draft-ietf-httpapi-ratelimit-headers-11, May 2026, §3 and §4; same syntax as -10): both are
// Structured Field Lists whose items are the policy name as an sf-string with parameters:
//   RateLimit-Policy: "minute";q=100;w=60, "day";q=10000;w=86400     (q quota, w window in seconds)
//   RateLimit: "minute";r=42;t=18, "day";r=9957;t=40000              (r remaining quota, t seconds until it resets)
// Implementation parameters must carry a vendor prefix (§3.1): a gcra limit whose burst differs from its quota
// adds `bulwark-burst=N`.
// Kong compatibility (legacy_headers, kong/plugins/rate-limiting/handler.lua): X-RateLimit-Limit-<name> and
// X-RateLimit-Remaining-<name> per limit, and RateLimit-Limit/-Remaining/-Reset for the limit with the fewest
// remaining units (draft-polli style). Retry-After (seconds) on refusals; §6 asks that it not point earlier than
// the reset of the limit that refused, which holds since both come from the same decision.
import type { HeaderValues } from '../lib/pdk';
import type { LimitOutcome } from './algorithms';
import type { LimitPolicy } from './config';

export interface HeaderOptions {
  ietf: boolean;
  legacy: boolean;
}

/** An sf-string (RFC 8941 §3.3.3): names are restricted to [A-Za-z0-9_.-] by config, so no escaping is needed. */
function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

export function policyHeader(
  limits: readonly LimitPolicy[],
  applied: readonly number[],
  windowSeconds: readonly number[],
): string {
  return limits
    .map((l, i) => {
      const q = applied[i] ?? l.limit;
      let item = `${sfString(l.name)};q=${q};w=${Math.max(1, Math.round(windowSeconds[i] ?? l.windowMs / 1000))}`;
      if (l.algorithm === 'gcra' && l.burst !== l.limit)
        item += `;bulwark-burst=${Math.max(1, Math.floor((l.burst * q) / l.limit))}`;
      return item;
    })
    .join(', ');
}

export function rateLimitHeader(limits: readonly LimitPolicy[], outcomes: readonly LimitOutcome[]): string {
  return limits
    .map((l, i) => `${sfString(l.name)};r=${outcomes[i]!.remaining};t=${seconds(outcomes[i]!.resetMs)}`)
    .join(', ');
}

/** Seconds a refused client should wait: the longest wait among the limits that refused (at least 1). */
export function retryAfterSeconds(outcomes: readonly LimitOutcome[]): number {
  let ms = 0;
  for (const o of outcomes) if (!o.allowed) ms = Math.max(ms, o.retryMs);
  return Math.max(1, seconds(ms));
}

/** All rate-limit headers for one decision; `refused` adds Retry-After. */
export function rateLimitHeaders(
  limits: readonly LimitPolicy[],
  outcomes: readonly LimitOutcome[],
  applied: readonly number[],
  windowSeconds: readonly number[],
  opts: HeaderOptions,
  refused: boolean,
): HeaderValues {
  const h: HeaderValues = {};
  if (opts.ietf) {
    h['RateLimit-Policy'] = policyHeader(limits, applied, windowSeconds);
    h['RateLimit'] = rateLimitHeader(limits, outcomes);
  }
  if (opts.legacy) {
    let strictest = 0;
    limits.forEach((l, i) => {
      h[`X-RateLimit-Limit-${l.name}`] = String(applied[i] ?? l.limit);
      h[`X-RateLimit-Remaining-${l.name}`] = String(outcomes[i]!.remaining);
      if (outcomes[i]!.remaining < outcomes[strictest]!.remaining) strictest = i;
    });
    h['RateLimit-Limit'] = String(applied[strictest] ?? limits[strictest]!.limit);
    h['RateLimit-Remaining'] = String(outcomes[strictest]!.remaining);
    h['RateLimit-Reset'] = String(seconds(outcomes[strictest]!.resetMs));
  }
  if (refused) h['Retry-After'] = String(retryAfterSeconds(outcomes));
  return h;
}
