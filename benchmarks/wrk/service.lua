-- wrk script of benchmarks/bench_service.py: builds each request, prints a JSON summary.
--
-- Environment (set by bench_service.py):
--   BENCH_MODE     track  - POST /v1/track, every request a new messageId
--                  replay - POST /v1/track with messageIds already stored (the dedupe path)
--                  get    - GET /v1/customers/{userId} of a seeded customer
--   BENCH_TOKEN    the API key (Bearer)
--   BENCH_RUN      a prefix unique to this run (messageIds and order ids)
--   BENCH_USERS    userIds u0 .. u(N-1) for track events (default 10000)
--   BENCH_SEEDED   customers u0 .. u(N-1) exist (get), seed events seed-0 .. (replay)
--   BENCH_ORDERS   share of track requests that are Order Completed (default 0.1)

local mode = os.getenv("BENCH_MODE") or "track"
local token = os.getenv("BENCH_TOKEN") or ""
local run = os.getenv("BENCH_RUN") or "r"
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
local seeded = tonumber(os.getenv("BENCH_SEEDED") or "3000")
local order_share = tonumber(os.getenv("BENCH_ORDERS") or "0.1")

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

local auth = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
local products = { "mug", "tea", "kettle", "filter", "honey", "cup", "pot", "spoon", "sugar", "milk",
                   "coffee", "grinder", "scale", "tray", "cozy", "strainer", "jar", "lid", "box", "bag" }
local context = '"context":{"library":{"name":"analytics.js","version":"4.1.0"},'
   .. '"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",'
   .. '"page":{"path":"/products","url":"https://shop.example/products"}}'

local function viewed(id, user)
   local p = products[math.random(#products)]
   return '{"messageId":"' .. id .. '","type":"track","userId":"u' .. user
      .. '","anonymousId":"a' .. user .. '","event":"Product Viewed","properties":{"product_id":"'
      .. p .. '","name":"' .. p .. '","price":' .. math.random(2, 60) .. '.5,"currency":"EUR"},'
      .. context .. '}'
end

local function order(id, user)
   local n = math.random(2, 3)
   local lines, total = {}, 0
   for i = 1, n do
      local p = products[math.random(#products)]
      local price = math.random(2, 60)
      local q = math.random(1, 2)
      total = total + price * q
      lines[i] = '{"product_id":"' .. p .. '","name":"' .. p .. '","price":' .. price
         .. ',"quantity":' .. q .. '}'
   end
   return '{"messageId":"' .. id .. '","type":"track","userId":"u' .. user
      .. '","event":"Order Completed","properties":{"order_id":"o-' .. id .. '","total":' .. total
      .. ',"revenue":' .. total .. ',"currency":"EUR","products":[' .. table.concat(lines, ",")
      .. ']},' .. context .. '}'
end

function request()
   counter = counter + 1
   if mode == "get" then
      return wrk.format("GET", "/v1/customers/u" .. math.random(0, seeded - 1), auth)
   end
   local id, user
   if mode == "replay" then
      id = "seed-" .. math.random(0, seeded - 1)
      user = math.random(0, seeded - 1)
   else
      id = run .. "-" .. (tid or 0) .. "-" .. counter
      user = math.random(0, users - 1)
   end
   local body
   if math.random() < order_share then
      body = order(id, user)
   else
      body = viewed(id, user)
   end
   return wrk.format("POST", "/v1/track", auth, body)
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,'
      .. '"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,"non2xx":%d,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
      e.status, e.connect, e.read, e.write, e.timeout))
end
