-- GET /api/auth/get-session with a pre-created session.
-- BENCH_TOKEN: the signed token (set-auth-token value). BENCH_AUTH=bearer (default) sends
-- "Authorization: Bearer <token>", BENCH_AUTH=cookie sends the session cookie instead.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local token = c.env("BENCH_TOKEN")
wrk.method = "GET"
wrk.path = "/api/auth/get-session"
if c.env("BENCH_AUTH", "bearer") == "cookie" then
  local enc = token:gsub("[+/=]", function(ch) return string.format("%%%02X", string.byte(ch)) end)
  wrk.headers["Cookie"] = "better-auth.session_token=" .. enc
else
  wrk.headers["Authorization"] = "Bearer " .. token
end
done = c.done
