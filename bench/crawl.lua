-- wrk script for bench/sizes' crawler case: every connection asks for a list URL
-- it has not asked for before, taken from the links of the pages it got back
-- (first, previous, the numbered pages, next, last), as a crawler would.
--
-- Each thread starts from the first pages of its share of the page sizes the
-- list offers, and from pages spread over the whole table (`?after=<id>`, as
-- links from elsewhere would lead a crawler in; CRAWL_MAX_ID is the table's
-- largest id, CRAWL_SEEDS how many such pages in all), so threads never ask for
-- the same seed and there are always more URLs to ask for than connections. Prints how many responses
-- had each status and X-Cache (`crawl <status> <x-cache> <count>`) and how many
-- requests had to repeat a URL because none was left (`crawl repeats <count>`).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  repeats = 0
  -- A FIFO with explicit ends: `#` of a table whose first slots were cleared
  -- is not its length.
  queue = {}
  head = 1
  tail = 0
  seen = {}
  local count = tonumber(os.getenv("CRAWL_THREADS") or "1")
  local function seed(url)
    seen[url] = true
    tail = tail + 1
    queue[tail] = url
  end
  for i, size in ipairs({20, 5, 10, 50, 100}) do
    if i % count == id % count then
      seed(size == 20 and "/" or "/?per_page=" .. size)
    end
  end
  local max_id = tonumber(os.getenv("CRAWL_MAX_ID") or "0")
  local seeds = tonumber(os.getenv("CRAWL_SEEDS") or "40000")
  if max_id > 1 then
    local step = math.max(1, math.floor(max_id / seeds))
    local k = id
    while (k + 1) * step < max_id do
      seed("/?after=" .. ((k + 1) * step))
      k = k + count
    end
  end
  last = queue[1]
  -- CRAWL_ACCEPT_ENCODING: what the crawler says it decodes (none by default,
  -- as wrk; "gzip, deflate, br" as search engines' crawlers send).
  headers = {}
  local accept = os.getenv("CRAWL_ACCEPT_ENCODING") or ""
  if accept ~= "" then
    headers["Accept-Encoding"] = accept
  end
end

function request()
  local url = nil
  if head <= tail then
    url = queue[head]
    queue[head] = nil
    head = head + 1
    last = url
  else
    repeats = repeats + 1
    url = last
  end
  return wrk.format("GET", url, headers)
end

function response(status, headers, body)
  local label = headers["x-cache"] or headers["X-Cache"] or "-"
  local kind = status .. " " .. label
  counts[kind] = (counts[kind] or 0) + 1
  if body then
    for href in body:gmatch('href="(/%?[^"]*)"') do
      local url = href:gsub("&amp;", "&")
      if not seen[url] then
        seen[url] = true
        tail = tail + 1
        queue[tail] = url
      end
    end
  end
end

function done(summary, latency, requests)
  local total = {}
  local repeated = 0
  for _, thread in ipairs(threads) do
    for kind, n in pairs(thread:get("counts")) do
      total[kind] = (total[kind] or 0) + n
    end
    repeated = repeated + thread:get("repeats")
  end
  for kind, n in pairs(total) do
    io.write(string.format("crawl %s %d\n", kind, n))
  end
  io.write(string.format("crawl repeats %d\n", repeated))
end
