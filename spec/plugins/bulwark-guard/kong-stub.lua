-- Runs kong/plugins/bulwark-guard/handler.lua on LuaJIT (the engine Kong uses) against a stub of the Kong pieces it
-- touches, calling access handlers the way Kong 3.9.3 does: each in its own coroutine
-- (kong/init.lua execute_collecting_plugins_iterator), kong.response.exit in access records the delayed response
-- and yields (kong/pdk/response.lua). Prints one line per case: "<case> <status or -> <log count>".
-- usage: luajit kong-stub.lua <repo root>
local root = assert(arg[1], "repo root")
package.path = root .. "/kong/plugins/?.lua;" .. package.path

local request  -- per-case state
local logs = {}
ngx = { ctx = setmetatable({}, {
  __index = function(_, k) return request.ngx_ctx[k] end,
  __newindex = function(_, k, v) request.ngx_ctx[k] = v end,
}) }
kong = {
  ctx = { shared = setmetatable({}, {
    __index = function(_, k) return request.shared[k] end,
    __newindex = function(_, k, v) request.shared[k] = v end,
  }) },
  response = { exit = function(status, body)
    request.ngx_ctx.delayed_response = { status_code = status, content = body }
    coroutine.yield()
  end },
  log = setmetatable({
    -- kong/pdk/log.lua 3.9.3 set_serialize_value (lines 636-662): appends {key, value, mode} to ngx.ctx.serialize_values
    set_serialize_value = function(key, value, options)
      local data = { key = key, value = value, mode = options and options.mode or "set" }
      local list = ngx.ctx.serialize_values
      if list then list[#list + 1] = data else ngx.ctx.serialize_values = { data } end
    end,
  }, { __index = function(_, level) return function(...) logs[#logs + 1] = level .. " " .. table.concat({ ... }) end end }),
}

-- What an external plugin's access does for each case (plugin_servers/plugin.lua: handle_event over RPC).
local behaviour
local KEY = "bulwark.decisions.bulwark-jwt"
local function record(decision) return { decision = decision, reason = "x", mode = "enforce" } end
local function external_access(self, conf)
  local set = kong.log.set_serialize_value
  if behaviour == "allow" then set(KEY, { decision = "allow", reason = "allowed", mode = "enforce" })
  elseif behaviour == "monitor" then set(KEY, { decision = "monitor-deny", reason = "x", mode = "monitor" })
  elseif behaviour == "after-redactions" then
    set("request.headers.x-api-key", "REDACTED", { mode = "replace" })
    set(KEY, record("allow"))
    set("request.querystring.apikey", "REDACTED", { mode = "replace" })
  elseif behaviour == "deny-then-allow" then set(KEY, record("deny")); set(KEY, record("allow"))
  elseif behaviour == "allow-then-deny" then set(KEY, record("allow")); set(KEY, record("deny"))
  elseif behaviour == "replace-missing" then set(KEY, record("allow"), { mode = "replace" })
  elseif behaviour == "other-plugin" then set("bulwark.decisions.bulwark-rate-limit", record("allow"))
  elseif behaviour == "ctx-shared-only" then kong.ctx.shared["bulwark.decision.bulwark-jwt"] = record("allow")
  elseif behaviour == "deny-no-exit" then set(KEY, record("deny"))
  elseif behaviour == "reject" then kong.response.exit(401, { message = "Unauthorized" })
  elseif behaviour == "rpc-failed" then return  -- Kong logs the RPC error and returns: the plugin is "done"
  elseif behaviour == "wrong-record" then set(KEY, "allow")
  end
end

local jwt = { PRIORITY = 1460, access = external_access }
local cors_access = function() end
local cors = { PRIORITY = 2000, access = cors_access }
local guard = require("bulwark-guard.handler")
local schema = require("bulwark-guard.schema")
assert(schema.name == "bulwark-guard")
local handlers = { { name = "cors", handler = cors }, { name = "bulwark-jwt", handler = jwt }, { name = "bulwark-guard", handler = guard } }
kong.db = { plugins = { get_handlers = function(self) assert(self == kong.db.plugins); return handlers end } }

guard:init_worker()
print("init-log " .. (logs[#logs] or ""))
local once = jwt.access
guard:init_worker() -- a second call must not wrap twice
print("wrapped-jwt " .. tostring(jwt.access ~= external_access) .. " " .. tostring(jwt.access == once))
print("wrapped-cors " .. tostring(cors.access ~= cors_access))

for _, case in ipairs({ "allow", "monitor", "after-redactions", "deny-then-allow", "allow-then-deny", "replace-missing",
                        "other-plugin", "ctx-shared-only", "deny-no-exit", "reject", "rpc-failed", "wrong-record",
                        "already-answered" }) do
  behaviour = case
  logs = {}
  request = { shared = {}, ngx_ctx = {} }
  if case == "already-answered" then request.ngx_ctx.delayed_response = { status_code = 403 } end
  local co = coroutine.create(jwt.access)
  local ok, err = coroutine.resume(co, jwt, {})
  assert(ok, err)
  local d = request.ngx_ctx.delayed_response
  print(case .. " " .. (d and tostring(d.status_code) or "-") .. " " .. #logs .. " " .. (d and d.content and d.content.message or "") .. " " .. (logs[1] or ""))
end
