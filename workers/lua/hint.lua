-- Decide, once per post, whether the "how to check in" hint answering it goes out (workers/ingest.py).
-- A hint is worth less than anything else the robot says: at most one per member per gate period, and
-- only while the robot keeps `keep` sends of its window free for check-in replies and scheduled posts,
-- counting the hints already let through in this window.
-- KEYS[1] the decision (per post)  KEYS[2] the member's gate  KEYS[3] the group's hints this window
-- KEYS[4..] the robot's (or appchat chat's) rate-window keys
-- ARGV[1] now  ARGV[2] window seconds  ARGV[3] sends the window allows  ARGV[4] sends to keep free
-- ARGV[5] the hint's message id  ARGV[6] gate seconds  ARGV[7] decision ttl seconds
-- Returns 1 (send it) or 0; the same post asked again gets the same answer.
local decided = redis.call('GET', KEYS[1])
if decided then
  return tonumber(decided)
end
local allowed = 0
if #KEYS >= 4 then
  local used = tonumber(redis.call('GET', KEYS[3]) or '0')
  local busiest = 0
  for i = 4, #KEYS do
    local n = redis.call('ZCOUNT', KEYS[i], tonumber(ARGV[1]) - tonumber(ARGV[2]), '+inf')
    if n > busiest then busiest = n end
  end
  if tonumber(ARGV[3]) - busiest - used > tonumber(ARGV[4]) then
    if redis.call('SET', KEYS[2], ARGV[5], 'NX', 'EX', ARGV[6]) then
      allowed = 1
      redis.call('INCR', KEYS[3])
      redis.call('EXPIRE', KEYS[3], math.ceil(tonumber(ARGV[2])))
    end
  end
end
redis.call('SET', KEYS[1], allowed, 'EX', ARGV[7])
return allowed
