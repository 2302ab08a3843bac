-- Take one outbound message for a send attempt, in one step: its state, the rate window, the claim.
-- KEYS[1] the message's state hash; KEYS[2..] the window keys (a robot; or every user of an app
-- message; none when the channel has no limit). Each window key is a zset of send times, reserved
-- future times included.
-- ARGV[1] now, ARGV[2] seconds after which 'sending' is stale, ARGV[3] state ttl, ARGV[4] window
-- seconds (safety margin included), ARGV[5] limit per window, ARGV[6] this message's reservation
-- ('' none), ARGV[7] new member name, ARGV[8] how late a reservation may still be used (seconds).
-- Returns {verdict, attempts, unknown, due, member}:
--   'sent' / 'failed'  done already: do nothing;
--   'busy'             another worker is sending it now (its entry is pending there);
--   'stale'            a worker died while sending it: the outcome is unknown. The claim is taken
--                      here, so of two reclaimers only one gets 'stale' (the other 'busy');
--   'wait'             the window is full: `due` is the earliest time it fits, reserved as `member`,
--                      so later messages queue behind it and a full minute spreads over the next;
--   'go'               claimed for a send, attempts counted.
local now = tonumber(ARGV[1])
local st = redis.call('HMGET', KEYS[1], 'status', 'updated', 'attempts', 'unknown')
local status = st[1]
local attempts = tonumber(st[3] or '0') or 0
local unknown = tonumber(st[4] or '0') or 0
if status == 'sent' or status == 'failed' then
  return {status, attempts, unknown, '', ''}
end
if status == 'sending' then
  if (tonumber(st[2] or '0') or 0) > now - tonumber(ARGV[2]) then
    return {'busy', attempts, unknown, '', ''}
  end
  redis.call('HSET', KEYS[1], 'updated', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {'stale', attempts, unknown, '', ''}
end

local window = tonumber(ARGV[4])
local limit = tonumber(ARGV[5])
local rsv = ARGV[6]
local grace = tonumber(ARGV[8])
local member = ARGV[7]
local t = now
local fits = false
if #KEYS > 1 then
  for i = 2, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  end
  if rsv ~= '' then
    local all, latest = true, nil
    for i = 2, #KEYS do
      local s = redis.call('ZSCORE', KEYS[i], rsv)
      if not s then
        all = false
        break
      end
      s = tonumber(s)
      if latest == nil or s > latest then latest = s end
    end
    if all and latest > now + 0.5 then
      return {'wait', attempts, unknown, tostring(latest), rsv}
    end
    if all and latest >= now - grace then
      fits = true
      member = rsv
    else
      for i = 2, #KEYS do
        redis.call('ZREM', KEYS[i], rsv)
      end
    end
  end
  if not fits then
    for i = 2, #KEYS do
      local n = redis.call('ZCARD', KEYS[i])
      if n >= limit then
        local e = redis.call('ZRANGE', KEYS[i], n - limit, n - limit, 'WITHSCORES')
        local need = tonumber(e[2]) + window
        if need > t then t = need end
      end
    end
    for i = 2, #KEYS do
      redis.call('ZADD', KEYS[i], t, member)
      local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
      redis.call('EXPIRE', KEYS[i], math.ceil(tonumber(last[2]) - now + window) + 5)
    end
    if t > now then
      return {'wait', attempts, unknown, tostring(t), member}
    end
  end
end

attempts = attempts + 1
redis.call('HSET', KEYS[1], 'status', 'sending', 'updated', ARGV[1], 'attempts', attempts)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {'go', attempts, unknown, '', member}
