-- Move the latest instant ticked forward, never back (workers/schedule.py).
-- KEYS[1] the last tick (keys.LAST_TICK); ARGV[1] this tick's instant (epoch seconds).
-- Returns the instant stored before (a string), or false when there was none.
local cur = tonumber(redis.call('GET', KEYS[1]))
if not cur or cur < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return cur and tostring(cur) or false
