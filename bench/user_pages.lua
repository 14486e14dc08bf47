-- wrk script for bench/external_writes: each request asks for a user page at
-- random among /users/2 .. /users/<USERS + 1> (USERS from the environment).
local users = tonumber(os.getenv("USERS") or "100")

request = function()
  return wrk.format("GET", "/users/" .. math.random(2, users + 1))
end
