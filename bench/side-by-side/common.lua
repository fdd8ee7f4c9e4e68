-- Shared by the side-by-side wrk scripts (loaded with dofile; BENCH_LUA_DIR = this dir).
-- Prints one machine-readable line at the end of a run, read by run.sh:
--   RESULT requests=N duration_us=N rps=X p50_us=N p90_us=N p99_us=N max_us=N non2xx=N timeouts=N errors=N
local M = {}

function M.env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then
    if default == nil then error("environment variable " .. name .. " is not set") end
    return default
  end
  return v
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d timeouts=%d errors=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.timeout, e.connect + e.read + e.write))
end

return M
