-- get.lua - wrk script: authenticated GET of one tenant.
-- env: CLAW_TOKEN (bearer token), CLAW_PATH (/v1/tenants/ID)
wrk.method = "GET"
wrk.path = os.getenv("CLAW_PATH")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("CLAW_TOKEN")
