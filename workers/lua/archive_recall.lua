-- A message was recalled (撤回) on the day it was posted: take back the check-in it counted.
-- Called by workers.archive.unrecord() only after it checked that the recall happened on the same
-- local day as the message. Atomic, and idempotent: running it again changes nothing.
-- KEYS[1] the recalled message's effect key (keys.effect(msgid, group, userid))
-- KEYS[2] the member's days bitmap   KEYS[3] the group's base day   KEYS[4] that day's note links hash
-- KEYS[5] the set of the member's archive messages of that day (the recalled msgid is taken out)
-- KEYS[6..] effect keys of the member's other archive posts and of the group's 接龙 posts of that day
--           (candidates to carry the day; recalled ones left out by the caller)
-- ARGV[1] the day   ARGV[2] effect ttl seconds   ARGV[3] userid   ARGV[4] the recalled msgid
-- Returns 1 the day was un-counted, 2 the message was not processed yet and now never counts,
-- 3 the message had counted the day but another post of that day now carries it, 0 nothing to do.
redis.call('SREM', KEYS[5], ARGV[4])
local status = redis.call('GET', KEYS[1])
if not status then
  -- still waiting in the inbox (or never a check-in): make it count nothing when it is processed
  redis.call('SET', KEYS[1], '0', 'EX', ARGV[2])
  return 2
end
if status ~= '1' then
  return 0
end
redis.call('SET', KEYS[1], '0', 'KEEPTTL')
for i = 6, #KEYS do
  if redis.call('GET', KEYS[i]) == '0' then
    -- that post was a check-in too, on the same day: it carries the day from now on
    redis.call('SET', KEYS[i], '1', 'KEEPTTL')
    return 3
  end
end
local base = tonumber(redis.call('GET', KEYS[3]))
local day = tonumber(ARGV[1])
if base and day >= base then
  redis.call('SETBIT', KEYS[2], day - base, 0)
end
redis.call('HDEL', KEYS[4], ARGV[3])
return 1
