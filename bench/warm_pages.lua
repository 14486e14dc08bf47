-- wrk script for bench/warm_start: GETs of user pages at random among
-- /users/<FIRST> .. /users/<LAST> (from the environment), each connection
-- pausing DELAY_MS between requests when set, counting the answers whose
-- X-Cache says HIT; prints `hits <hits> <answers>` when done, then one line
-- `label <status> <x-cache> <count>` per kind of answer.
local first = tonumber(os.getenv("FIRST") or "1")
local last = tonumber(os.getenv("LAST") or "100")
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local threads = {}

if pause > 0 then
  delay = function()
    return pause
  end
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  hits = 0
  answers = 0
  labels = {}
end

request = function()
  return wrk.format("GET", "/users/" .. math.random(first, last))
end

function response(status, headers, body)
  answers = answers + 1
  local x_cache = headers["x-cache"] or headers["X-Cache"] or ""
  if string.find(x_cache, "HIT", 1, true) then
    hits = hits + 1
  end
  local label = status .. " " .. (x_cache == "" and "-" or x_cache)
  if x_cache ~= "HIT" then
    local why = headers["cache-status"] or headers["Cache-Status"] or ""
    label = label .. " (" .. why .. ")"
  end
  labels[label] = (labels[label] or 0) + 1
end

function done(summary, latency, requests)
  local h, a, all = 0, 0, {}
  for _, thread in ipairs(threads) do
    h = h + thread:get("hits")
    a = a + thread:get("answers")
    for label, n in pairs(thread:get("labels")) do
      all[label] = (all[label] or 0) + n
    end
  end
  io.write(string.format("hits %d %d\n", h, a))
  for label, n in pairs(all) do
    io.write(string.format("label %s %d\n", label, n))
  end
end
