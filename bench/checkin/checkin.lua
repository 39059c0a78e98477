-- wrk script for bench/checkin: every request is a different device's check-in.
--
-- BENCH_REQUESTS names a file with one line per device, "<Authorization value>\t<JSON body>",
-- in the order they are sent (run.py shuffles them).  The requests are built once in
-- init(), so request() only picks the next one.  BENCH_OFFSET is where this run starts in
-- the file (the measured run continues where the warm-up stopped).
--
-- done() prints one line "BENCH_RESULT {json}" with the counts and latencies (µs), and
-- "BENCH_SAMPLE <status> <body>" for the first response that was not 2xx, if any.

local path = "/device/v1/checkin"
local requests_file = os.getenv("BENCH_REQUESTS")
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
local prepared = {}
local count = 0
local threads = {}

-- read by done() through thread:get, so these are globals of each thread's state
sent = 0
statuses = {}
sample = ""

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(requests_file) do
    local auth, body = line:match("^([^\t]+)\t(.+)$")
    headers["Authorization"] = auth
    count = count + 1
    prepared[count] = wrk.format("POST", path, headers, body)
  end
  if count == 0 then
    error("no requests in " .. tostring(requests_file))
  end
end

function request()
  local r = prepared[((offset + sent) % count) + 1]
  sent = sent + 1
  return r
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status < 200 or status > 299) and sample == "" then
    sample = status .. " " .. string.sub(body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local total_sent = 0
  local codes = {}
  local first_sample = ""
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    for code, n in pairs(thread:get("statuses")) do
      codes[code] = (codes[code] or 0) + n
    end
    if first_sample == "" then
      first_sample = thread:get("sample")
    end
  end
  local parts = {}
  for code, n in pairs(codes) do
    table.insert(parts, string.format('"%d":%d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"sent":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"statuses":{%s},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f,"stdev":%.1f}}\n',
    summary.requests, total_sent, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ","),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, latency.stdev
  ))
  if first_sample ~= "" then
    io.write("BENCH_SAMPLE " .. string.gsub(first_sample, "[\r\n]", " ") .. "\n")
  end
end
