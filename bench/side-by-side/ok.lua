-- GET /api/auth/ok: Better Auth's liveness endpoint ({"ok":true}; no session, no store). At
-- one connection it measures the round trip of a server's HTTP stack alone, the floor
-- under every other one-connection figure (see "Round-trip floor" in the report).
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/api/auth/ok"
done = c.done
