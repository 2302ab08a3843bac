-- Take a group's gathered replies to post them as one message (workers/replies.py).
-- KEYS[1] the gathered batch being posted, KEYS[2] the buffer, KEYS[3] the groups with a buffer.
-- ARGV[1] the group.
-- Returns the batch (a JSON list): one already taken and maybe not posted yet, else the buffer's;
-- false when there is nothing to post (the group then leaves the groups with a buffer).
local p = redis.call('GET', KEYS[1])
if p then return p end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
if #items == 0 then
  redis.call('SREM', KEYS[3], ARGV[1])
  return false
end
redis.call('DEL', KEYS[2])
local joined = '[' .. table.concat(items, ',') .. ']'
redis.call('SET', KEYS[1], joined, 'EX', 86400)
return joined
