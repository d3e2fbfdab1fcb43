-- wrk script for bench/compare.sh (same requests, keys and values as the
-- reference harness's lib/workload.lua, so figures can be cross-checked).
--
-- wrk hands no arguments to done(), so everything comes from the environment:
--   BENCH_MODE      sys_health | token_lookup_self | kv_read | kv_write | transit_encrypt | db_creds
--                   | approle_login | userpass_login | k8s_login | jwt_login
--   BENCH_TOKEN     sent as X-Vault-Token (not sent for sys_health)
--   BENCH_NKEYS     distinct keys the KV workloads spread over (default 1000)
--   BENCH_KV_MOUNT  kv-v2 mount (default secret)
--   BENCH_OUT       where done() writes its JSON summary (default stdout)
--   BENCH_ROLE_ID, BENCH_SECRET_ID   approle_login credentials
--   BENCH_USER, BENCH_PASSWORD       userpass_login credentials
--   BENCH_JWT, BENCH_K8S_ROLE, BENCH_JWT_ROLE   k8s_login / jwt_login
--   BENCH_CAPTURE   if set: also record the non-2xx answers (status, count and
--                   the first body per thread) into the summary. Off during
--                   measurements: a response() callback costs wrk CPU per request.
--
-- Requests:
--   sys_health         GET  /v1/sys/health
--   token_lookup_self  GET  /v1/auth/token/lookup-self
--   kv_read            GET  /v1/<mount>/data/k<i>, i uniform in [0, NKEYS)
--   kv_write           POST /v1/<mount>/data/w<i>, i uniform in [0, NKEYS),
--                      body {"data":{"value":"<i as 64 zero-padded digits>"}}
--   transit_encrypt    POST /v1/transit/encrypt/k, 64-byte plaintext
--   db_creds           GET  /v1/database/creds/app (a new PostgreSQL user and a
--                      lease per request)
--   approle_login      POST /v1/auth/approle/login {"role_id":...,"secret_id":...}
--   userpass_login     POST /v1/auth/userpass/login/<user> {"password":...}
--   k8s_login          POST /v1/auth/kubernetes/login {"role":...,"jwt":...}
--   jwt_login          POST /v1/auth/jwt/login {"role":...,"jwt":...}
--   (logins send no X-Vault-Token; every one creates a token on the server)
-- Requests are formatted once per thread in init(); request() only picks one.

local mode    = os.getenv("BENCH_MODE") or "sys_health"
local token   = os.getenv("BENCH_TOKEN") or "root"
local nkeys   = tonumber(os.getenv("BENCH_NKEYS") or "1000")
local kv      = os.getenv("BENCH_KV_MOUNT") or "secret"
local capture = os.getenv("BENCH_CAPTURE")

local PLAINTEXT_B64 =
  "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg=="

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_no", #threads)
end

local reqs = {}
local paths = {}

local function need(name)
  local v = os.getenv(name)
  if not v or v == "" then error(name .. " is not set (BENCH_MODE " .. mode .. ")") end
  return v
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_no or 0))
  local h = { ["X-Vault-Token"] = token }
  local jh = { ["X-Vault-Token"] = token, ["Content-Type"] = "application/json" }
  if mode == "kv_read" then
    for i = 0, nkeys - 1 do
      reqs[#reqs + 1] = wrk.format("GET", "/v1/" .. kv .. "/data/k" .. i, h)
    end
  elseif mode == "kv_write" then
    -- Writes go to their own key space (w<i>): the read workload always reads
    -- the same one-version secrets, however often it is re-run.
    for i = 0, nkeys - 1 do
      local body = string.format('{"data":{"value":"%064d"}}', i)
      reqs[#reqs + 1] = wrk.format("POST", "/v1/" .. kv .. "/data/w" .. i, jh, body)
    end
  elseif mode == "transit_encrypt" then
    reqs[1] = wrk.format("POST", "/v1/transit/encrypt/k", jh, '{"plaintext":"' .. PLAINTEXT_B64 .. '"}')
  elseif mode == "db_creds" then
    reqs[1] = wrk.format("GET", "/v1/database/creds/app", h)
  elseif mode == "token_lookup_self" then
    reqs[1] = wrk.format("GET", "/v1/auth/token/lookup-self", h)
  elseif mode == "approle_login" then
    reqs[1] = wrk.format("POST", "/v1/auth/approle/login", { ["Content-Type"] = "application/json" },
      string.format('{"role_id":"%s","secret_id":"%s"}', need("BENCH_ROLE_ID"), need("BENCH_SECRET_ID")))
  elseif mode == "userpass_login" then
    reqs[1] = wrk.format("POST", "/v1/auth/userpass/login/" .. need("BENCH_USER"),
      { ["Content-Type"] = "application/json" }, string.format('{"password":"%s"}', need("BENCH_PASSWORD")))
  elseif mode == "k8s_login" then
    reqs[1] = wrk.format("POST", "/v1/auth/kubernetes/login", { ["Content-Type"] = "application/json" },
      string.format('{"role":"%s","jwt":"%s"}', need("BENCH_K8S_ROLE"), need("BENCH_JWT")))
  elseif mode == "jwt_login" then
    reqs[1] = wrk.format("POST", "/v1/auth/jwt/login", { ["Content-Type"] = "application/json" },
      string.format('{"role":"%s","jwt":"%s"}', need("BENCH_JWT_ROLE"), need("BENCH_JWT")))
  elseif mode == "sys_health" then
    reqs[1] = wrk.format("GET", "/v1/sys/health", {})
  else
    error("unknown BENCH_MODE " .. mode)
  end
end

function request()
  if #reqs == 1 then return reqs[1] end
  return reqs[math.random(#reqs)]
end

if capture then
  non2xx = 0
  statuses = ""
  first_body = ""
  local seen = {}
  function response(status, headers, body)
    if status < 200 or status >= 300 then
      non2xx = non2xx + 1
      if not seen[status] then
        seen[status] = true
        statuses = statuses .. (statuses == "" and "" or ",") .. status
        if first_body == "" then
          first_body = status .. " " .. string.sub(body or "", 1, 400)
        end
      end
    end
  end
end

local function json_str(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

-- Latencies from wrk are in microseconds; the JSON is in milliseconds.
function done(summary, latency, requests)
  local out = os.getenv("BENCH_OUT")
  local f = out and io.open(out, "w") or io.stdout
  local e = summary.errors
  local secs = summary.duration / 1e6
  local ms = function(us) return us / 1000.0 end
  local extra = ""
  if capture then
    local n, st, bodies, seen = 0, {}, {}, {}
    for _, t in ipairs(threads) do
      n = n + (t:get("non2xx") or 0)
      for s in string.gmatch(t:get("statuses") or "", "%d+") do
        if not seen[s] then seen[s] = true; st[#st + 1] = s end
      end
      local b = t:get("first_body") or ""
      if b ~= "" then bodies[#bodies + 1] = json_str(b) end
    end
    extra = string.format(',"capture":{"non2xx":%d,"statuses":%s,"first_bodies":[%s]}',
      n, json_str(table.concat(st, ",")), table.concat(bodies, ","))
  end
  f:write(string.format(
    '{"mode":"%s","requests":%d,"duration_s":%.3f,"rps":%.1f,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_ms":{"mean":%.3f,"stdev":%.3f,"min":%.3f,"p50":%.3f,"p75":%.3f,' ..
    '"p90":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f}%s}\n',
    mode, summary.requests, secs, summary.requests / secs, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    ms(latency.mean), ms(latency.stdev), ms(latency.min),
    ms(latency:percentile(50)), ms(latency:percentile(75)), ms(latency:percentile(90)),
    ms(latency:percentile(99)), ms(latency:percentile(99.9)), ms(latency.max), extra))
  if f ~= io.stdout then f:close() end
end
