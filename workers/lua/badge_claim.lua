-- Claim a member's one badge picture of a local day (workers/pictures/badges.py).
-- KEYS[1] the member's badge day (keys.badge_day)  KEYS[2] the badges waiting for the tick (keys.BADGE_PENDING)
-- ARGV[1] the decision (the check-in's msgid, or the weekly slot's id)  ARGV[2] the day key's ttl
-- ARGV[3] the badge to queue (JSON), '' to queue nothing (the caller sends it itself)  ARGV[4] the queue's ttl
-- Returns 1 when the day's badge is this decision's (claimed now, or by an earlier try of the same
-- decision: the caller re-sends the same message id, which the outbox sends once), 0 when another
-- decision had it. The badge is queued only by the claim that set the key, atomically with it.
local d = redis.call('GET', KEYS[1])
if d then
  if d == ARGV[1] then return 1 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if ARGV[3] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return 1
