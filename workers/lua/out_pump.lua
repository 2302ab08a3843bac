-- Move delayed outbound messages that are due back into the stream, in (due, seq) order.
-- KEYS[1] delayed zset (members "<seq>:<payload>"), KEYS[2] stream, KEYS[3] wake flag
-- ARGV[1] now, ARGV[2] at most this many, ARGV[3] wake flag ttl (0: leave the flag alone)
-- Returns {moved, must_wake}.
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(items) do
  local sep = string.find(m, ':', 1, true)
  redis.call('XADD', KEYS[2], '*', 'p', string.sub(m, sep + 1))
  redis.call('ZREM', KEYS[1], m)
end
local wake = 0
if #items > 0 and ARGV[3] ~= '0' then
  if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[3]) then
    wake = 1
  end
end
return {#items, wake}
