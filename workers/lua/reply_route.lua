-- Route one check-in's reply (workers/replies.py): post it on its own, or gather it with others while
-- the group's robot is near its limit. Decided once per message: the same message asked again goes
-- the same way.
-- KEYS[1] the message's route (keys.reply_route)  KEYS[2] the group's replies of the last minute
-- KEYS[3] the group's reply buffer  KEYS[4] the groups with a buffer (keys.REPLY_GROUPS)
-- KEYS[5..] the robot's (or appchat chat's) rate-window keys
-- ARGV[1] now  ARGV[2] window seconds  ARGV[3] sends allowed in the window  ARGV[4] the reply's id
-- ARGV[5] the buffer entry (JSON {id, name, words, at})  ARGV[6] route ttl seconds  ARGV[7] the group
-- Returns 'post' or 'buf'.
local d = redis.call('GET', KEYS[1])
if d then return d end
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[2])
for i = 5, #KEYS do
  local n = redis.call('ZCOUNT', KEYS[i], now - window, '+inf')
  if n > used then used = n end
end
if used >= tonumber(ARGV[3]) then
  redis.call('RPUSH', KEYS[3], ARGV[5])
  redis.call('EXPIRE', KEYS[3], 86400)
  redis.call('SADD', KEYS[4], ARGV[7])
  d = 'buf'
else
  redis.call('ZADD', KEYS[2], now, ARGV[4])
  redis.call('EXPIRE', KEYS[2], 120)
  d = 'post'
end
redis.call('SET', KEYS[1], d, 'EX', ARGV[6])
return d
