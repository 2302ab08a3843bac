-- One private note the bot sends a member on its own initiative (goal question, nudges, streak
-- reminder, chase, recognition) asks for a place in that member's budget of the local day.
-- KEYS[1]: the member's budget hash of the day (note id -> 1)
-- ARGV[1]: the note's id (its outbound id: a retried slot asks again with the same id)
-- ARGV[2]: how many notes the day may hold when this one is added (its kind's ceiling)
-- ARGV[3]: the hash's TTL in seconds
-- Returns 1 when the note may go (now, or again for the same id), 0 when the day is full for it.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 1
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
