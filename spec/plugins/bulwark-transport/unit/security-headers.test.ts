import { parseTransportConfig } from '../../../../plugins/bulwark-transport/config';
import { PRESETS, hstsValue, securityHeaders } from '../../../../plugins/bulwark-transport/security-headers';

describe('security header presets', () => {
  it('api: the documented set', () => {
    expect(securityHeaders('api', {})).toEqual({
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'X-Frame-Options': 'DENY',
    });
  });

  it('browser: cross-origin isolation, permissions and a self-only CSP', () => {
    const h = securityHeaders('browser', {});
    expect(h).toMatchObject({
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'strict-origin-when-cross-origin',
    });
    expect(h['Content-Security-Policy']).toMatch(/default-src 'self'/);
    expect(h['Content-Security-Policy']).toMatch(/object-src 'none'/);
  });

  it('none: nothing', () => {
    expect(securityHeaders('none', {})).toEqual({});
    expect(PRESETS.none).toEqual({});
  });

  it('overrides replace case-insensitively (keeping the preset spelling), add, and remove with ""', () => {
    expect(
      securityHeaders('api', { 'cache-control': 'private, max-age=60', 'X-Frame-Options': '', 'X-New': 'v' }),
    ).toEqual({
      'Cache-Control': 'private, max-age=60',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'X-New': 'v',
    });
    expect(securityHeaders('none', { 'X-Gone': '' })).toEqual({});
  });
});

describe('HSTS', () => {
  it('formats the directives', () => {
    expect(hstsValue({ enabled: true, maxAge: 31536000, includeSubdomains: true, preload: false })).toBe(
      'max-age=31536000; includeSubDomains',
    );
    expect(hstsValue({ enabled: true, maxAge: 63072000, includeSubdomains: true, preload: true })).toBe(
      'max-age=63072000; includeSubDomains; preload',
    );
    expect(hstsValue({ enabled: true, maxAge: 0, includeSubdomains: false, preload: false })).toBe('max-age=0');
    expect(hstsValue({ enabled: false, maxAge: 1, includeSubdomains: true, preload: false })).toBeUndefined();
  });

  it('is only in the HTTPS header set', () => {
    const c = parseTransportConfig({ hsts: { max_age: 600, include_subdomains: false } });
    expect(c.headers.https['Strict-Transport-Security']).toBe('max-age=600');
    expect('Strict-Transport-Security' in c.headers.http).toBe(false);
  });
});
