-- wrk script for the ingest benchmark: POST pre-generated, distinct, signed and encrypted robot
-- callbacks, each thread cycling through its own share of the lines of a file "path<TAB>body".
--   wrk -t2 -c8 -d10s -s bench/wrk_cycle.lua http://127.0.0.1:PORT -- FILE NTHREADS
-- A thread that runs out of lines starts again from its first (then the server sees retries of
-- MsgIds it already stored); `wraps` in the summary says whether that happened.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local nthreads = tonumber(args[2] or '1')
  local n = 0
  reqs = {}
  local headers = {["Content-Type"] = "text/xml; charset=utf-8"}
  for line in io.lines(path) do
    if n % nthreads == tid then
      local tab = line:find("\t", 1, true)
      if tab then
        reqs[#reqs + 1] = wrk.format("POST", line:sub(1, tab - 1), headers, line:sub(tab + 1))
      end
    end
    n = n + 1
  end
  i = 0
  wraps = 0
  statuses = {}
end

function request()
  i = i + 1
  if i > #reqs then
    i = 1
    wraps = wraps + 1
  end
  return reqs[i]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local wraps_total = 0
  local by_status = {}
  for _, t in ipairs(threads) do
    wraps_total = wraps_total + (t:get("wraps") or 0)
    local st = t:get("statuses") or {}
    for k, v in pairs(st) do
      by_status[k] = (by_status[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(by_status) do
    parts[#parts + 1] = string.format('"%d":%d', k, v)
  end
  io.write(string.format(
    'WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"wraps":%d,"statuses":{%s}}\n',
    summary.duration, summary.requests, summary.bytes, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    wraps_total, table.concat(parts, ",")))
end
