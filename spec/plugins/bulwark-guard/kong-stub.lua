-- Runs kong/plugins/bulwark-guard/handler.lua on LuaJIT (the engine Kong uses) against a stub of the Kong pieces it
-- touches, calling access handlers the way Kong 3.9.3 does: each in its own coroutine
-- (kong/init.lua execute_collecting_plugins_iterator), kong.response.exit in access records the delayed response
-- and yields (kong/pdk/response.lua). Prints one line per case: "<case> <status or -> <log count>".
-- usage: luajit kong-stub.lua <repo root>
local root = assert(arg[1], "repo root")
package.path = root .. "/kong/plugins/?.lua;" .. package.path

local request  -- per-case state
local logs = {}
ngx = { ctx = setmetatable({}, { __index = function(_, k) return request.ngx_ctx[k] end }) }
kong = {
  ctx = { shared = setmetatable({}, {
    __index = function(_, k) return request.shared[k] end,
    __newindex = function(_, k, v) request.shared[k] = v end,
  }) },
  response = { exit = function(status, body)
    request.ngx_ctx.delayed_response = { status_code = status, content = body }
    coroutine.yield()
  end },
  log = setmetatable({}, { __index = function(_, level) return function(...) logs[#logs + 1] = level .. " " .. table.concat({ ... }) end end }),
}

-- What an external plugin's access does for each case (plugin_servers/plugin.lua: handle_event over RPC).
local behaviour
local function external_access(self, conf)
  if behaviour == "allow" then
    kong.ctx.shared["bulwark.decision.bulwark-jwt"] = { decision = "allow", reason = "allowed", mode = "enforce" }
  elseif behaviour == "monitor" then
    kong.ctx.shared["bulwark.decision.bulwark-jwt"] = { decision = "monitor-deny", reason = "x", mode = "monitor" }
  elseif behaviour == "legacy" then kong.ctx.shared["bulwark.decision.bulwark-jwt"] = "allow"
  elseif behaviour == "deny-no-exit" then
    kong.ctx.shared["bulwark.decision.bulwark-jwt"] = { decision = "deny", reason = "x", mode = "enforce" }
  elseif behaviour == "reject" then kong.response.exit(401, { message = "Unauthorized" })
  elseif behaviour == "rpc-failed" then return  -- Kong logs the RPC error and returns: the plugin is "done"
  elseif behaviour == "wrong-record" then kong.ctx.shared["bulwark.decision.bulwark-jwt"] = "maybe"
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

for _, case in ipairs({ "allow", "monitor", "legacy", "deny-no-exit", "reject", "rpc-failed", "wrong-record", "already-answered" }) do
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
