-- Take the waiting badges to queue them (workers/pictures/badges.py, from the minute tick).
-- KEYS[1] the batch being queued (keys.BADGE_SENDING)  KEYS[2] the waiting badges (keys.BADGE_PENDING)
-- ARGV[1] at most this many  ARGV[2] the batch's ttl
-- Returns the batch (a JSON list): one taken by an earlier try and maybe not queued yet, else the
-- oldest waiting ones; false when none wait. Dropped with out_cad.lua once queued.
local p = redis.call('GET', KEYS[1])
if p then return p end
local items = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return false end
redis.call('LTRIM', KEYS[2], #items, -1)
local joined = '[' .. table.concat(items, ',') .. ']'
redis.call('SET', KEYS[1], joined, 'EX', ARGV[2])
return joined
