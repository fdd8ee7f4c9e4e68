-- POST /api/sync/push (Kernia only; the reference has no sync): one `put` per push,
-- bearer of a pre-created session, one clientId per wrk thread, mids from a counter.
-- With several connections per thread a push can overtake one with a smaller mid; that
-- push then answers 200 with skipped=1 — still a full transaction, counted like the others.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local token = c.env("BENCH_TOKEN")
local run = c.env("BENCH_RUN_ID", tostring(os.time()))
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

local mid = 0
function request()
  mid = mid + 1
  local body = string.format(
    '{"clientId":"bench-%s-%d","mutations":[{"mid":%d,"op":"put","collection":"bench","id":"r%d","data":{"n":%d,"text":"side-by-side benchmark record"}}]}',
    run, tid or 0, mid, mid % 1000, mid)
  return wrk.format("POST", "/api/sync/push",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end

done = c.done
