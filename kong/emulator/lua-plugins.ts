// Lua plugins in the emulator: the REAL handler.lua of a plugin shipped for Kong (kong/plugins/<name>/), run in
// fengari (a Lua 5.3 VM in JavaScript), against a small emulation of what Kong gives a Lua plugin.
//
// Kong's side that this follows (Kong 3.9.3):
// - every loaded plugin's handler table has `init_worker` run at worker start, configured or not
//   (kong/runloop/plugins_iterator.lua get_init_worker_iterator over the loaded plugins);
// - `kong.db.plugins:get_handlers()` lists `{name, handler}` sorted by PRIORITY, the very tables the plugins
//   iterator calls (kong/db/dao/plugins.lua); an external plugin's handler has one function per dumped phase,
//   each doing `plugin.rpc:handle_event(conf, phase)` (kong/runloop/plugin_servers/plugin.lua build_phases);
// - access handlers run each in a new coroutine (kong/init.lua execute_collecting_plugins_iterator); a Lua error
//   there is a 500; `kong.response.exit` in access records the delayed response and yields the coroutine for
//   good (kong/pdk/response.lua), so nothing after it in that handler runs.
//
// What a Lua plugin can reach here (the rest of Kong's PDK is absent: calling it is a Lua error, i.e. a 500):
// `kong.ctx.shared` (read/write), `kong.response.exit(status, body?)`, `kong.log.err/warn/notice/info/debug`,
// `kong.db.plugins:get_handlers()`, `ngx.ctx.delayed_response` (truthy once the request has a response),
// `ngx.ctx.serialize_values` (read only: the list kong.log.set_serialize_value appends to, kong/pdk/log.lua 3.9.3
// lines 648-661; nil before the first call; each read is a fresh copy of the list).
// Shared tables (objects, arrays) read as Lua tables, copied up to 4 levels deep.
import * as fs from 'node:fs';
import * as path from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
const fengari: any = require('fengari');
const { lua, lauxlib, lualib, to_luastring, to_jsstring } = fengari;
/* eslint-enable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */

type LuaState = unknown;

/** What the Lua side needs from the request that is running Lua code right now. */
export interface LuaRequestBindings {
  sharedGet(key: string): unknown;
  sharedSet(key: string, value: unknown): void;
  /** kong.response.exit: the body is a JS value (a Lua table arrives as an object). */
  exit(status: number, body: unknown): void;
  hasResponse(): boolean;
  /** ngx.ctx.serialize_values: the kong.log.set_serialize_value calls so far ({key, value, mode}); empty: nil. */
  serializeValues(): readonly { key: string; value: unknown; mode: string }[];
  log(level: string, message: string): void;
}

/** What a plugin of the plugin server looks like to the Lua side. */
export interface ExternalHandlerInfo {
  name: string;
  priority: number;
  phases: string[];
}

export type AccessOutcome = { kind: 'done' } | { kind: 'exit' } | { kind: 'lua-error'; message: string };

// The emulation of Kong's globals. `emu` is a table of JS functions set by LuaPluginHost.
const PRELUDE = `
local emu = ...
local handlers, by_name = {}, {}

local function encode(v, depth)
  depth = depth or 0
  if depth > 20 then error("body too deep") end
  local t = type(v)
  if t == "table" then
    if #v > 0 or next(v) == nil then
      if next(v) == nil then return "{}" end
      local out = {}
      for i = 1, #v do out[i] = encode(v[i], depth + 1) end
      return "[" .. table.concat(out, ",") .. "]"
    end
    local out = {}
    for k, val in pairs(v) do out[#out + 1] = emu.quote(tostring(k)) .. ":" .. encode(val, depth + 1) end
    return "{" .. table.concat(out, ",") .. "}"
  elseif t == "string" then return emu.quote(v)
  elseif t == "number" or t == "boolean" then return tostring(v)
  elseif v == nil then return "null"
  end
  error("cannot encode a " .. t)
end

local function log_fn(level)
  return function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    emu.log(level, table.concat(parts))
  end
end

kong = {
  ctx = {
    shared = setmetatable({}, {
      __index = function(_, k) return emu.shared_get(k) end,
      __newindex = function(_, k, v) emu.shared_set(k, v) end,
    }),
  },
  response = {
    exit = function(status, body)
      if type(body) == "table" then emu.exit(status, encode(body), true) else emu.exit(status, body, false) end
      coroutine.yield("exit")
    end,
  },
  log = { err = log_fn("err"), warn = log_fn("warn"), notice = log_fn("notice"), info = log_fn("info"), debug = log_fn("debug") },
  db = { plugins = { get_handlers = function(self)
    local list = {}
    for i, h in ipairs(handlers) do list[i] = { name = h.name, handler = h.handler } end
    return list
  end } },
}

ngx = { ctx = setmetatable({}, { __index = function(_, k)
  if k == "delayed_response" then return emu.has_response() or nil end
  if k == "serialize_values" then return emu.serialize_values() end
  return nil
end }) }

local function add(name, handler)
  handlers[#handlers + 1] = { name = name, handler = handler }
  by_name[name] = handler
  table.sort(handlers, function(a, b)
    if a.handler.PRIORITY ~= b.handler.PRIORITY then return a.handler.PRIORITY > b.handler.PRIORITY end
    return a.name > b.name
  end)
end

return {
  -- plugin_servers/plugin.lua build_phases: the phase functions of an external plugin.
  add_external = function(name, priority, phases)
    local handler = { PRIORITY = priority, VERSION = "0.0.0" }
    for phase in string.gmatch(phases, "[^,]+") do
      handler[phase] = function(self, conf) coroutine.yield("external") end
    end
    add(name, handler)
  end,
  add_lua = function(name, handler) add(name, handler) end,
  init_worker = function(name) local h = by_name[name]; if h.init_worker then h:init_worker() end end,
  access = function(name) local h = by_name[name]; return h.access(h, {}) end,
}
`;

export class LuaPluginHost {
  private readonly L: LuaState;
  private current: LuaRequestBindings | undefined;
  private readonly luaPlugins: string[] = [];

  constructor(private readonly logStartup: (level: string, message: string) => void) {
    const L = lauxlib.luaL_newstate();
    lualib.luaL_openlibs(L);
    this.L = L;
    // A JavaScript error inside an emulated PDK function (e.g. an exit status out of range) becomes a Lua error, as
    // the PDK's own error() is in Kong: the coroutine dies and the request gets Kong's 500.
    lua.lua_atnativeerror(L, (S: LuaState) => {
      const e: unknown = lua.lua_touserdata(S, -1);
      lua.lua_pushstring(S, to_luastring(e instanceof Error ? e.message : String(e)));
      return 1;
    });
    this.check(lauxlib.luaL_loadbuffer(L, to_luastring(PRELUDE), null, to_luastring('=emulator-prelude')), 'prelude');
    lua.lua_createtable(L, 0, 8);
    const fn = (name: string, f: (L: LuaState) => number) => {
      lua.lua_pushjsfunction(L, f);
      lua.lua_setfield(L, -2, to_luastring(name));
    };
    fn('quote', (S) => {
      lua.lua_pushstring(S, to_luastring(JSON.stringify(lua.lua_tojsstring(S, 1))));
      return 1;
    });
    fn('shared_get', (S) => {
      pushValue(S, this.bindings().sharedGet(lua.lua_tojsstring(S, 1)));
      return 1;
    });
    fn('shared_set', (S) => {
      this.bindings().sharedSet(lua.lua_tojsstring(S, 1), toJsValue(S, 2));
      return 0;
    });
    fn('exit', (S) => {
      const status = lua.lua_tonumber(S, 1);
      const raw = lua.lua_isnil(S, 2) ? undefined : lua.lua_tojsstring(S, 2);
      const body = raw !== undefined && lua.lua_toboolean(S, 3) ? JSON.parse(raw) : raw;
      this.bindings().exit(status, body);
      return 0;
    });
    fn('serialize_values', (S) => {
      const list = this.bindings().serializeValues();
      if (list.length === 0) lua.lua_pushnil(S);
      else pushValue(S, list);
      return 1;
    });
    fn('has_response', (S) => {
      lua.lua_pushboolean(S, this.bindings().hasResponse());
      return 1;
    });
    fn('log', (S) => {
      const level = lua.lua_tojsstring(S, 1);
      const message = lua.lua_tojsstring(S, 2);
      if (this.current) this.current.log(level, message);
      else this.logStartup(level, message);
      return 0;
    });
    this.check(lua.lua_pcall(L, 1, 1, 0), 'prelude');
    lua.lua_setglobal(L, to_luastring('__emulator'));
  }

  private bindings(): LuaRequestBindings {
    if (!this.current) throw new Error('no request is running Lua code');
    return this.current;
  }

  private check(status: number, what: string): void {
    if (status === lua.LUA_OK) return;
    const msg = lua.lua_tojsstring(this.L, -1);
    lua.lua_pop(this.L, 1);
    throw new Error(`${what}: ${msg}`);
  }

  /** Calls `__emulator.<fn>(args...)` on the main state (no yields allowed there). */
  private callHelper(fn: string, args: (string | number)[], what: string): void {
    const L = this.L;
    lua.lua_getglobal(L, to_luastring('__emulator'));
    lua.lua_getfield(L, -1, to_luastring(fn));
    lua.lua_remove(L, -2);
    for (const a of args) {
      if (typeof a === 'number') lua.lua_pushnumber(L, a);
      else lua.lua_pushstring(L, to_luastring(a));
    }
    this.check(lua.lua_pcall(L, args.length, 0, 0), what);
  }

  /** Registers a plugin of the plugin server as Kong's plugin loader would (its phase functions). */
  addExternal(info: ExternalHandlerInfo): void {
    this.callHelper('add_external', [info.name, info.priority, info.phases.join(',')], `external plugin ${info.name}`);
  }

  /** Loads kong/plugins/<name>/handler.lua (and checks schema.lua loads) from `pluginsDir`. */
  addLua(name: string, pluginsDir: string): void {
    const L = this.L;
    const dir = path.join(pluginsDir, name);
    for (const file of ['schema.lua', 'handler.lua']) {
      const src = fs.readFileSync(path.join(dir, file));
      this.check(lauxlib.luaL_loadbuffer(L, src, null, to_luastring(`@${name}/${file}`)), `${name}/${file}`);
      this.check(lua.lua_pcall(L, 0, 1, 0), `${name}/${file}`);
      if (file === 'schema.lua') {
        lua.lua_pop(L, 1);
        continue;
      }
      if (!lua.lua_istable(L, -1)) throw new Error(`${name}/handler.lua must return a table`);
      lua.lua_getfield(L, -1, to_luastring('PRIORITY'));
      const priorityOk = lua.lua_isinteger(L, -1);
      lua.lua_pop(L, 1);
      // kong/db/dao/plugins.lua load_plugin_handler: PRIORITY must be an integer.
      if (!priorityOk)
        throw new Error(`Plugin "${name}" cannot be loaded because its PRIORITY field is not a valid integer number`);
      lua.lua_getglobal(L, to_luastring('__emulator'));
      lua.lua_getfield(L, -1, to_luastring('add_lua'));
      lua.lua_remove(L, -2);
      lua.lua_pushstring(L, to_luastring(name));
      lua.lua_pushvalue(L, -3);
      this.check(lua.lua_pcall(L, 2, 0, 0), `${name}/handler.lua`);
      lua.lua_pop(L, 1);
    }
    this.luaPlugins.push(name);
  }

  /** init_worker of every loaded Lua plugin (a Lua error stops the emulator, as a broken plugin would stop Kong). */
  initWorker(): void {
    for (const name of this.luaPlugins) this.callHelper('init_worker', [name], `${name} init_worker`);
  }

  get loadedLuaPlugins(): readonly string[] {
    return this.luaPlugins;
  }

  /**
   * Runs `handler.access` of a plugin in a new coroutine, as Kong does. When the call reaches the external plugin's
   * own access function, `runExternal` runs the real plugin-server event; its outcome decides whether the coroutine
   * goes on ('done': the handler returns, and any wrapping code after it runs) or is abandoned (an exit yields
   * for good; a Lua error kills the coroutine).
   */
  async runAccess(
    name: string,
    bindings: LuaRequestBindings,
    runExternal: () => Promise<AccessOutcome>,
  ): Promise<AccessOutcome> {
    const L = this.L;
    const co = lua.lua_newthread(L);
    const ref = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX); // keeps the coroutine alive while it waits
    try {
      lua.lua_getglobal(co, to_luastring('__emulator'));
      lua.lua_getfield(co, -1, to_luastring('access'));
      lua.lua_remove(co, -2);
      lua.lua_pushstring(co, to_luastring(name));
      let nargs = 1;
      for (;;) {
        this.current = bindings;
        let status: number;
        try {
          status = lua.lua_resume(co, L, nargs);
        } finally {
          this.current = undefined;
        }
        nargs = 0;
        if (status === lua.LUA_OK) return { kind: 'done' };
        if (status !== lua.LUA_YIELD) {
          const message = lua.lua_tojsstring(co, -1) ?? 'unknown Lua error';
          return { kind: 'lua-error', message };
        }
        const marker = lua.lua_tojsstring(co, -1);
        lua.lua_settop(co, 0);
        if (marker === 'exit') return { kind: 'exit' };
        if (marker !== 'external') return { kind: 'lua-error', message: `unexpected yield from ${name}: ${marker}` };
        const outcome = await runExternal();
        if (outcome.kind !== 'done') return outcome;
      }
    } finally {
      lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, ref);
    }
  }
}

// Tables (JS objects and arrays, e.g. Bulwark's decision records) are copied a few levels deep, as Kong's
// msgpack decoding gives a Lua plugin a real table (kong/runloop/plugin_servers/plugin.lua).
function pushValue(L: LuaState, v: unknown, depth = 0): void {
  if (v === undefined || v === null) lua.lua_pushnil(L);
  else if (typeof v === 'string') lua.lua_pushstring(L, to_luastring(v));
  else if (typeof v === 'number') lua.lua_pushnumber(L, v);
  else if (typeof v === 'boolean') lua.lua_pushboolean(L, v);
  else if (typeof v === 'object' && depth < 4) {
    const entries = Array.isArray(v) ? v.map((e, i) => [i + 1, e] as const) : Object.entries(v as object);
    lua.lua_createtable(L, 0, entries.length);
    for (const [k, e] of entries) {
      if (typeof k === 'number') lua.lua_pushnumber(L, k);
      else lua.lua_pushstring(L, to_luastring(k));
      pushValue(L, e, depth + 1);
      lua.lua_settable(L, -3);
    }
  } else lua.lua_createtable(L, 0, 0);
}

function toJsValue(L: LuaState, idx: number): unknown {
  switch (lua.lua_type(L, idx)) {
    case lua.LUA_TSTRING:
      return to_jsstring(lua.lua_tostring(L, idx));
    case lua.LUA_TNUMBER:
      return lua.lua_tonumber(L, idx);
    case lua.LUA_TBOOLEAN:
      return lua.lua_toboolean(L, idx);
    default:
      return undefined;
  }
}
