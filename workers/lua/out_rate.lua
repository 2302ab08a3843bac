-- Sliding-window rate limit over one or more keys (a robot; or every user of an app message),
-- shared by all processes. Each key is a zset of send times, reserved future times included.
-- KEYS: the window keys. ARGV[1] now, ARGV[2] window seconds (safety margin included),
-- ARGV[3] limit per window, ARGV[4] this message's reservation ('' none), ARGV[5] new member name,
-- ARGV[6] how late a reservation may still be used (seconds).
-- Returns {allowed (1/0), due (string, '' when allowed), member}.
-- When the window is full the message gets the earliest time at which it fits, reserved at once,
-- so that later messages queue behind it and a full minute's sends spread over the next minutes.
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local rsv = ARGV[4]
local grace = tonumber(ARGV[6])
for _, k in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - window)
end
if rsv ~= '' then
  local all, latest = true, nil
  for _, k in ipairs(KEYS) do
    local s = redis.call('ZSCORE', k, rsv)
    if not s then
      all = false
      break
    end
    s = tonumber(s)
    if latest == nil or s > latest then latest = s end
  end
  if all then
    if latest > now + 0.5 then
      return {0, tostring(latest), rsv}
    end
    if latest >= now - grace then
      return {1, '', rsv}
    end
  end
  for _, k in ipairs(KEYS) do
    redis.call('ZREM', k, rsv)
  end
end
local t = now
for _, k in ipairs(KEYS) do
  local n = redis.call('ZCARD', k)
  if n >= limit then
    local e = redis.call('ZRANGE', k, n - limit, n - limit, 'WITHSCORES')
    local need = tonumber(e[2]) + window
    if need > t then t = need end
  end
end
local member = ARGV[5]
for _, k in ipairs(KEYS) do
  redis.call('ZADD', k, t, member)
  local last = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
  redis.call('EXPIRE', k, math.ceil(tonumber(last[2]) - now + window) + 5)
end
if t <= now then
  return {1, '', member}
end
return {0, tostring(t), member}
