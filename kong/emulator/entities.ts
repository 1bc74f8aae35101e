// Moved to kong/schema/entities.ts (shipped: the bulwark command reads declarative files with it); re-exported for the emulator.
export * from '../schema/entities';
