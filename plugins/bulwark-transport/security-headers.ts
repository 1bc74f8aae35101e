// Security response headers: presets, operator overrides and HSTS. All computed once per plugin
// instance (they depend on the config only), so access does no work for them but one setHeaders RPC.
import type { HeaderValues } from '../lib/pdk';

export type SecurityHeaderPreset = 'api' | 'browser' | 'none';

/** For JSON APIs: nothing may render, frame, sniff, cache or be embedded cross-origin. */
const API_PRESET: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

/** For same-origin web apps: a self-only CSP, cross-origin isolation, no powerful features. */
const BROWSER_PRESET: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'; object-src 'none'; img-src 'self' data:",
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'strict-origin-when-cross-origin',
  'X-Frame-Options': 'SAMEORIGIN',
};

export const PRESETS: Readonly<Record<SecurityHeaderPreset, Readonly<Record<string, string>>>> = {
  api: API_PRESET,
  browser: BROWSER_PRESET,
  none: {},
};

export const HSTS_HEADER = 'Strict-Transport-Security';

export interface HstsSettings {
  enabled: boolean;
  maxAge: number;
  includeSubdomains: boolean;
  preload: boolean;
}

/** The Strict-Transport-Security value, or undefined when HSTS is off. */
export function hstsValue(hsts: HstsSettings): string | undefined {
  if (!hsts.enabled) return undefined;
  let value = `max-age=${hsts.maxAge}`;
  if (hsts.includeSubdomains) value += '; includeSubDomains';
  if (hsts.preload) value += '; preload';
  return value;
}

/**
 * Preset + overrides. Header names compare case-insensitively; an override with an empty value removes
 * the preset's header; any other override sets (or adds) the header with the override's value.
 */
export function securityHeaders(
  preset: SecurityHeaderPreset,
  overrides: Readonly<Record<string, string>>,
): HeaderValues {
  const byLower = new Map<string, [string, string]>();
  for (const [name, value] of Object.entries(PRESETS[preset])) byLower.set(name.toLowerCase(), [name, value]);
  for (const [name, value] of Object.entries(overrides)) {
    const lower = name.toLowerCase();
    if (value === '') {
      byLower.delete(lower);
      continue;
    }
    const existing = byLower.get(lower);
    byLower.set(lower, [existing ? existing[0] : name, value]);
  }
  const out: HeaderValues = {};
  for (const [name, value] of byLower.values()) out[name] = value;
  return out;
}

/** The two header sets a response can get: HSTS is only sent over HTTPS (RFC 6797 §7.2). */
export interface ResponseHeaderSets {
  https: HeaderValues;
  http: HeaderValues;
}

export function responseHeaderSets(base: HeaderValues, hsts: HstsSettings): ResponseHeaderSets {
  const sts = hstsValue(hsts);
  return { http: { ...base }, https: sts === undefined ? { ...base } : { ...base, [HSTS_HEADER]: sts } };
}
