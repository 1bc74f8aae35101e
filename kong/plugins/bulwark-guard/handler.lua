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
-- wrapper (plugins/lib/plugin.ts) must have recorded its decision with one
-- kong.log.set_serialize_value("bulwark.decisions.<plugin>", record) RPC; when the record is missing or is not a
-- decision to continue, the request ends here with 503.
--
-- Where the record is: Kong 3.9.3 kong/pdk/log.lua set_serialize_value (lines 636-662) appends
-- {key = ..., value = ..., mode = ...} to ngx.ctx.serialize_values (nil until the first call), per request and
-- only inside Kong; serialize() applies the list in order, so the last "set" of a key is what every log entry
-- carries (edit_result, lines 708-755). The guard reads the same list for the plugin's key (no RPC).
--
-- Nothing needs configuring: loading the plugin (kong.conf `plugins = bundled,bulwark-guard,...`) is enough, and
-- it guards exactly the Bulwark plugins configured for each request, whatever their scope. A plugin entity
-- for bulwark-guard is accepted but does nothing.
local RECORD_PREFIX = "bulwark.decisions."
local NAME_PREFIX = "bulwark-"
local SELF = "bulwark-guard"

local BulwarkGuard = {
  PRIORITY = 1,  -- unused: the guard has no request phase of its own; it runs inside each Bulwark plugin's access
  VERSION = "1.0.0",
}

-- The value `key` ends with in ngx.ctx.serialize_values: the list applied in order with edit_result's modes ("set"
-- always writes, "add" only a missing value, "replace" only an existing one). Bulwark writes "set". The list is
-- short: one record per Bulwark plugin plus bulwark-audit's redactions.
local function serialize_value(serialize_values, key)
  if type(serialize_values) ~= "table" then
    return nil
  end
  local value
  for _, item in ipairs(serialize_values) do
    if type(item) == "table" and item.key == key then
      local mode = item.mode
      if mode == "set" or (mode == "add" and value == nil) or (mode == "replace" and value ~= nil) then
        value = item.value
      end
    end
  end
  return value
end

-- The check after a Bulwark plugin's access handler returned without ending the request.
local function check_decision(name)
  local ctx = ngx.ctx
  if ctx.delayed_response then
    return  -- the request already ends with a response (the plugin or Kong decided)
  end
  local record = serialize_value(ctx.serialize_values, RECORD_PREFIX .. name)
  -- The record is a table {decision = "allow" | "monitor-deny" | ..., reason = ...} (plugins/lib/security-event.ts).
  -- Only a decision that lets the request continue counts: a "deny" record whose exit never came (the RPC failed)
  -- is refused here too. A record in kong.ctx.shared (where a plugin server of an older release wrote it) does not
  -- count: guard and plugin server ship together; a mix fails closed.
  local decision = type(record) == "table" and record.decision or nil
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
