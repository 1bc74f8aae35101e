// Kong's plugin-schema layer for the emulator: dump parsing, metaschema, config processing, Lua patterns.
export * from './plugin-info';
export { validatePluginSchema } from './metaschema';
export { processPluginConfig, processPluginConfigUpdate, readConfig, validateField } from './config';
export type { ConfigResult, ReadOptions } from './config';
export { schemaViolation } from './errors';
export { luaPatternFind, LuaPatternError } from './lua-pattern';
