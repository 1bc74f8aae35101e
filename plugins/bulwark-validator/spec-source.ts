// The document loader moved to plugins/lib/openapi-source.ts (shared with bulwark-docs and bulwark-authz); this
// module keeps bulwark-validator's import paths.
export * from '../lib/openapi-source';
