// The signing-key ring moved to plugins/lib/signing-keys.ts (bulwark-upstream-trust signs with the same keys).
export * from '../lib/signing-keys';
