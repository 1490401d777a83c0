-- post.lua - wrk script: authenticated POST /v1/tenants with a new random
-- slug each time (a rare collision answers 409 and is counted by wrk as a
-- non-2xx response).
-- env: CLAW_TOKEN
local token = os.getenv("CLAW_TOKEN")

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  local slug = string.format("b%08x%08x", math.random(0, 0x7fffffff),
                             math.random(0, 0x7fffffff))
  local body = '{"slug":"' .. slug .. '","name":"bench"}'
  return wrk.format("POST", "/v1/tenants", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
