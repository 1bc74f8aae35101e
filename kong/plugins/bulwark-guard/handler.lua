-- bulwark-guard: no request reaches the upstream unless every Bulwark plugin that ran in access decided.
--
-- Why: when a plugin-server RPC fails (server killed, restarting, socket error), Kong 3.9 logs the error and
-- treats the plugin as done (kong/runloop/plugin_servers/rpc/mp_rpc.lua handle_event): the request is proxied
-- unchecked. This plugin runs inside Kong, so it keeps working while the plugin server is down.
--
-- How: in init_worker it wraps the access handler of every loaded plugin whose name starts with "bulwark-"
-- (the handler tables Kong's plugins iterator calls: kong.db.plugins:get_handlers(), kong/db/dao/plugins.lua).
-- Kong runs each access handler in its own coroutine (kong/init.lua execute_collecting_plugins_iterator); a
-- plugin that rejects calls kong.response.exit, which yields that coroutine for good (kong/pdk/response.lua),
-- so the code after the original handler runs only when the plugin let the request continue. Then the Bulwark
-- wrapper (plugins/lib/plugin.ts) must have recorded its decision in kong.ctx.shared with one
-- kong.ctx.shared.set RPC; when the record is missing or is not a decision to continue, the request ends here
-- with 503.
--
-- Nothing needs configuring: loading the plugin (kong.conf `plugins = bundled,bulwark-guard,...`) is enough, and
-- it guards exactly the Bulwark plugins configured for each request, whatever their scope. A plugin entity
-- for bulwark-guard is accepted but does nothing.
local RECORD_PREFIX = "bulwark.decision."
local NAME_PREFIX = "bulwark-"
local SELF = "bulwark-guard"

local BulwarkGuard = {
  PRIORITY = 1,  -- unused: the guard has no request phase of its own; it runs inside each Bulwark plugin's access
  VERSION = "1.0.0",
}

-- The check after a Bulwark plugin's access handler returned without ending the request.
local function check_decision(name)
  local ctx = ngx.ctx
  if ctx.delayed_response then
    return  -- the request already ends with a response (the plugin or Kong decided)
  end
  local record = kong.ctx.shared[RECORD_PREFIX .. name]
  -- The record is a table {decision = "allow" | "monitor-deny" | ..., reason = ...} (plugins/lib/security-event.ts);
  -- the plain string "allow" is what Bulwark before the security events wrote. Only a decision that lets the
  -- request continue counts: a "deny" record whose exit never came (the RPC failed) is refused here too.
  local decision = record
  if type(record) == "table" then
    decision = record.decision
  end
  if decision == "allow" or decision == "monitor-deny" then
    return
  end
  kong.log.err('{"plugin":"', SELF, '","event":"undecided","guarded_plugin":"', name,
               '","reason":"', record == nil and "no decision recorded (plugin server unreachable or RPC failed)"
                                              or "unexpected decision record", '","action":"rejected with 503"}')
  return kong.response.exit(503, { message = "Service unavailable" })
end

local function guard(name, access)
  return function(self, conf)
    access(self, conf)
    return check_decision(name)
  end
end

function BulwarkGuard:init_worker()
  local handlers, err = kong.db.plugins:get_handlers()
  if not handlers then
    -- Without the wrapping, requests would pass unguarded: refuse to run quietly.
    error("bulwark-guard: cannot read plugin handlers: " .. tostring(err))
  end
  local guarded = {}
  for _, plugin in ipairs(handlers) do
    local name, handler = plugin.name, plugin.handler
    if name ~= SELF and name:sub(1, #NAME_PREFIX) == NAME_PREFIX and type(handler.access) == "function"
       and not handler.__bulwark_guarded then
      handler.access = guard(name, handler.access)
      handler.__bulwark_guarded = true
      guarded[#guarded + 1] = name
    end
  end
  kong.log.notice('{"plugin":"', SELF, '","event":"guarding","plugins":"', table.concat(guarded, ","), '"}')
end

return BulwarkGuard
