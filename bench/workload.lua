-- wrk script for bench/compare.sh. BENCH_MODE selects the request:
--   sys_health          GET  /v1/sys/health
--   token_lookup_self   GET  /v1/auth/token/lookup-self
--   kv_read             GET  /v1/secret/data/k<i>      (i uniform in [0, BENCH_NKEYS))
--   kv_write            POST /v1/secret/data/w<i>
-- At the end it prints one JSON line: requests, errors, rps, latency percentiles (ms).
local mode = os.getenv("BENCH_MODE") or "sys_health"
local token = os.getenv("BENCH_TOKEN") or "root"
local nkeys = tonumber(os.getenv("BENCH_NKEYS") or "100")
local value = string.rep("v", 64)

request = function()
  if mode == "sys_health" then
    return wrk.format("GET", "/v1/sys/health")
  elseif mode == "token_lookup_self" then
    return wrk.format("GET", "/v1/auth/token/lookup-self", { ["X-Vault-Token"] = token })
  elseif mode == "kv_read" then
    local i = math.random(0, nkeys - 1)
    return wrk.format("GET", "/v1/secret/data/k" .. i, { ["X-Vault-Token"] = token })
  elseif mode == "kv_write" then
    local i = math.random(0, nkeys - 1)
    local body = '{"data":{"value":"' .. value .. '"}}'
    return wrk.format("POST", "/v1/secret/data/w" .. i, { ["X-Vault-Token"] = token }, body)
  end
end

local non2xx = 0
response = function(status, headers, body)
  if status >= 300 then
    non2xx = non2xx + 1
  end
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests":%d,"errors":%d,"status_errors":%d,"duration_us":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, errors, summary.errors.status, summary.duration,
    latency:percentile(50) / 1000.0, latency:percentile(99) / 1000.0))
end
