-- bulwark-guard has no settings: loading it (kong.conf `plugins`) guards every Bulwark plugin (see handler.lua).
return {
  name = "bulwark-guard",
  fields = {
    { config = { type = "record", fields = {} } },
  },
}
