// Moved to kong/schema/vault.ts (shipped: the bulwark command reads declarative files with it); re-exported for the emulator.
export * from '../schema/vault';
