-- POST /api/auth/sign-up/email with a unique email per request:
-- bench-<BENCH_RUN_ID>-<thread>-<counter>@example.com (one scrypt hash per request).
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local run = c.env("BENCH_RUN_ID", tostring(os.time()))
local origin = c.env("BENCH_ORIGIN")
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

local counter = 0
function request()
  counter = counter + 1
  local body = string.format(
    '{"email":"bench-%s-%d-%d@example.com","password":"correct-horse-battery-staple","name":"Bench User"}',
    run, tid or 0, counter)
  return wrk.format("POST", "/api/auth/sign-up/email",
    { ["Content-Type"] = "application/json", ["Origin"] = origin }, body)
end

done = c.done
