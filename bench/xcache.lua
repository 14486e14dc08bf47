-- wrk script for bench/run's verification pass (never the timed pass: a Lua
-- `response` callback slows wrk down). Counts every response by status and
-- X-Cache value and prints one line per kind: `xcache <status> <x-cache> <count>`,
-- `-` when the response has no X-Cache header; a response with a Content-Encoding
-- is labelled `<x-cache>+<coding>` (`HIT+br`).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
end

function response(status, headers, body)
  local label = headers["x-cache"] or headers["X-Cache"] or "-"
  local coding = headers["content-encoding"] or headers["Content-Encoding"]
  if coding then
    label = label .. "+" .. coding
  end
  local kind = status .. " " .. label
  counts[kind] = (counts[kind] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for kind, n in pairs(thread:get("counts")) do
      total[kind] = (total[kind] or 0) + n
    end
  end
  for kind, n in pairs(total) do
    io.write(string.format("xcache %s %d\n", kind, n))
  end
end
