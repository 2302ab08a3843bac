-- Durably add one payload to a stream, at most once per dedupe key, and say whether the
-- caller must wake a drain job (the wake flag was not already set).
-- KEYS[1] stream, KEYS[2] wake flag, KEYS[3] dedupe key (ignored when ARGV[2] == '0'),
-- KEYS[4] metrics hash (ignored when ARGV[4] == '')
-- ARGV[1] payload, ARGV[2] dedupe ttl seconds (0 = no dedupe), ARGV[3] wake flag ttl,
-- ARGV[4] metrics field to count this call in (the callback's status), so it costs no round trip
if ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
end
if ARGV[2] ~= '0' then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[2]) then
    return {0, 0}
  end
end
redis.call('XADD', KEYS[1], '*', 'p', ARGV[1])
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
  return {1, 1}
end
return {1, 0}
