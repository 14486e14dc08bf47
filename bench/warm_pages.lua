-- wrk script for bench/warm_start: GETs of user pages at random among
-- /users/<FIRST> .. /users/<LAST> (from the environment), each connection
-- pausing DELAY_MS between requests when set, counting the answers whose
-- X-Cache says HIT; prints `hits <hits> <answers>` when done.
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
end

function done(summary, latency, requests)
  local h, a = 0, 0
  for _, thread in ipairs(threads) do
    h = h + thread:get("hits")
    a = a + thread:get("answers")
  end
  io.write(string.format("hits %d %d\n", h, a))
end
