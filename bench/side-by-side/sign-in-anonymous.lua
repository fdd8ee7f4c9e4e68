-- POST /api/auth/sign-in/anonymous: every request creates a guest user + session.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/api/auth/sign-in/anonymous"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = c.env("BENCH_ORIGIN")
wrk.body = "{}"
done = c.done
