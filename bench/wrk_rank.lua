-- wrk script for bench/wrk_rank.sh: POST /v1/rank with the JSON body in the
-- file named by $RANK_BODY; at the end prints one machine-readable line:
--   RESULT requests=N rps=R p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. errors=E non2xx=M
local path = os.getenv("RANK_BODY")
if path == nil then error("RANK_BODY: path of the request body is not set") end
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.path = "/v1/rank"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d non2xx=%d\n",
    summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
