-- Enqueue the parts of one outbound message atomically, at most once per dedupe key.
-- KEYS[1] stream, KEYS[2] wake flag, KEYS[3] dedupe key, KEYS[4] delayed zset, KEYS[5] failed hash,
-- KEYS[6] sequence counter (orders delayed messages due at the same time), KEYS[6+i] state hash of part i.
-- ARGV[1] dedupe ttl (0: no dedupe), ARGV[2] wake flag ttl (0: leave the flag alone, caller drains),
-- ARGV[3] state ttl, ARGV[4] now, ARGV[5] failed-registry field to remove ('' none), ARGV[6] n parts,
-- then per part i: ARGV[5+2i] due score ('' = into the stream now), ARGV[6+2i] payload.
-- Returns {added, must_wake}.
if ARGV[1] ~= '0' then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[1]) then
    return {0, 0}
  end
end
local n = tonumber(ARGV[6])
local streamed = 0
for i = 1, n do
  local due = ARGV[5 + 2 * i]
  local payload = ARGV[6 + 2 * i]
  if due == '' then
    redis.call('XADD', KEYS[1], '*', 'p', payload)
    streamed = streamed + 1
  else
    local seq = redis.call('INCR', KEYS[6])
    redis.call('ZADD', KEYS[4], due, string.format('%012d', seq) .. ':' .. payload)
  end
  redis.call('HSET', KEYS[6 + i], 'status', 'queued', 'attempts', 0, 'unknown', 0, 'updated', ARGV[4])
  redis.call('EXPIRE', KEYS[6 + i], ARGV[3])
end
if ARGV[5] ~= '' then
  redis.call('HDEL', KEYS[5], ARGV[5])
end
if streamed > 0 and ARGV[2] ~= '0' then
  if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
    return {1, 1}
  end
end
return {1, 0}
