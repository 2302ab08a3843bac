-- May a badge picture go in the group now (workers/pictures/badges.py)? Only while the group's robot
-- (or appchat chat) keeps room beyond what check-in replies and scheduled posts need: the badge then
-- takes a place among the group's recent replies, so that the replies routed after it count it.
-- KEYS[1] the group's replies of the last minute (keys.replies_recent)  KEYS[2..] the rate-window keys
-- ARGV[1] now  ARGV[2] window seconds  ARGV[3] sends allowed before a badge stays out of the group
-- ARGV[4] the badge's message id
-- Returns 1 (the group) or 0 (privately).
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
for i = 2, #KEYS do
  local n = redis.call('ZCOUNT', KEYS[i], now - window, '+inf')
  if n > used then used = n end
end
if used >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], 120)
return 1
