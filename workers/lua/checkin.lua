-- Count one check-in of one member on one day, exactly once per message.
-- KEYS[1] effect key (per message and member)  KEYS[2] days bitmap  KEYS[3] group base day
-- KEYS[4] names hash  KEYS[5] days-off bitmap  KEYS[6] the day's note links hash  KEYS[7] goals hash
-- KEYS[8] (optional) the metrics hash: its `checkins` field counts each new day in the same atomic step,
-- so the metric stays exact whatever crash or replay happens around the script
-- ARGV[1] day  ARGV[2] base to use if the group has none  ARGV[3] userid  ARGV[4] display name
-- ARGV[5] note links, space-separated ('' for none)  ARGV[6] effect ttl seconds
-- ARGV[7] links kept per member and day: the first ones, each once (a post of 1,000 links must not
-- make every digest 100 messages long)
-- Returns {status, replayed, days bitmap, off bitmap, base, goals}; status 1 = a new day was counted,
-- 0 = the day was already counted, -1 = the day is before the group's first day.
local base = tonumber(redis.call('GET', KEYS[3]))
if not base then
  base = tonumber(ARGV[2])
  redis.call('SET', KEYS[3], base)
end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
end
local day = tonumber(ARGV[1])
if day < base then
  return {-1, 0, '', '', base, {}}
end
local replayed = 0
local status = redis.call('GET', KEYS[1])
if status then
  status = tonumber(status)
  replayed = 1
else
  status = 1 - redis.call('SETBIT', KEYS[2], day - base, 1)
  redis.call('SET', KEYS[1], status, 'EX', ARGV[6])
  if status == 1 and KEYS[8] then
    redis.call('HINCRBY', KEYS[8], 'checkins', 1)
  end
  if ARGV[5] ~= '' then
    local keep = tonumber(ARGV[7]) or 3
    local kept, seen = {}, {}
    local cur = redis.call('HGET', KEYS[6], ARGV[3]) or ''
    for link in string.gmatch(cur .. ' ' .. ARGV[5], '%S+') do
      if #kept >= keep then break end
      if not seen[link] then
        seen[link] = true
        kept[#kept + 1] = link
      end
    end
    redis.call('HSET', KEYS[6], ARGV[3], table.concat(kept, ' '))
    redis.call('EXPIRE', KEYS[6], 1209600)
  end
end
return {status, replayed, redis.call('GET', KEYS[2]) or '', redis.call('GET', KEYS[5]) or '', base,
        redis.call('HGETALL', KEYS[7])}
