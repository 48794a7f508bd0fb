-- wrk script for the Export Responses benchmark.
-- Arguments after `--`: MODE TOKEN [SYSTEM_ID FIRST_RESPONSE_ID REPLAY_UUID]
--   ceiling   POST a rejected-shaped command (the ceiling app ignores it)
--   rejected  POST a command to an unknown external system, fresh uuid each time
--   accepted  POST a command for one new response to SYSTEM_ID, fresh uuid each time
--   replay    POST the same, already accepted command under REPLAY_UUID
-- Each thread takes its own block of BLOCK response ids, so accepted commands keep
-- queueing new exports rather than finding pending ones.

BLOCK = 10000

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1]
  token = args[2]
  system_id = tonumber(args[3] or "-1")
  base_id = tonumber(args[4] or "1")
  first_id = base_id + thread_number * BLOCK
  replay_uuid = args[5]
  sent = 0
  math.randomseed(os.time() * 1000 + thread_number * 7919)
  headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
end

local function uuid4()
  return (string.gsub("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

local function command(uuid, system, response_id)
  return string.format(
    '{"uuid":"%s","command":"ExportResponses","async":false,"data":{"external_system_id":%d,"response_ids":[%d]}}',
    uuid, system, response_id)
end

function request()
  sent = sent + 1
  local body
  if mode == "replay" then
    body = command(replay_uuid, system_id, base_id)
  elseif mode == "accepted" then
    body = command(uuid4(), system_id, first_id + (sent % BLOCK))
  else
    body = command(uuid4(), -1, 1)
  end
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
