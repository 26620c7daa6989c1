-- wrk script for bench/board.sh: POSTs the Kanban board query for a random
-- project per request, as the user whose access token is given.
--   wrk ... -s bench/board.lua URL/graphql -- PROJECT_IDS_FILE TOKEN_FILE
-- Counts non-200 answers and answers that carry "errors", and prints one line
-- `BOARD_JSON {...}` with requests/s and latency percentiles (milliseconds).

local query = "query($id: ID!) { project(id: $id) { name board { columns { status tasks "
  .. "{ id title priority orderKey version assignee { name } milestone { name } } } } } }"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(lines, line) end
  end
  return lines
end

function init(args)
  local ids = read_lines(args[1])
  local token = read_lines(args[2])[1]
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  wrk.headers["authorization"] = "Bearer " .. token
  requests_ = {}
  for i, id in ipairs(ids) do
    local body = '{"query":"' .. query .. '","variables":{"id":"' .. id .. '"}}'
    requests_[i] = wrk.format(nil, nil, nil, body)
  end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
  bad_status = 0
  graphql_errors = 0
end

function request()
  return requests_[math.random(#requests_)]
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif body:find('"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, requests)
  local bad, errs = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("bad_status") or 0)
    errs = errs + (thread:get("graphql_errors") or 0)
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BOARD_JSON {"requests":%d,"seconds":%.2f,"rps":%.1f,"latency_ms":{"mean":%.2f,"p50":%.2f,'
      .. '"p90":%.2f,"p99":%.2f,"max":%.2f},"non_200":%d,"graphql_errors":%d,'
      .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"bytes":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    bad, errs, e.connect, e.read, e.write, e.timeout, summary.bytes))
end
