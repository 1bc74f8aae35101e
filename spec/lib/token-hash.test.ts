import { tokenFingerprint, tokenHash, uuidFromParts } from '../../plugins/lib/token-hash';

describe('tokenHash', () => {
  it('is the base64url SHA-256 of the token (43 chars), distinct per token', () => {
    expect(tokenHash('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(tokenHash('abd')).not.toBe(tokenHash('abc'));
    expect(tokenFingerprint('abc')).toBe('ungWv48Bz-pB');
  });
});

describe('uuidFromParts', () => {
  it('is stable, UUID-shaped (version 8, RFC variant) and separates the parts', () => {
    const id = uuidFromParts('iss', 'sub');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidFromParts('iss', 'sub')).toBe(id);
    expect(uuidFromParts('is', 'ssub')).not.toBe(id);
  });
});
