-- The gathered replies taken by reply_take.lua are queued (workers/replies.py): drop the batch, and the
-- group from the groups with a buffer unless new replies were gathered meanwhile.
-- KEYS[1] the gathered batch being posted, KEYS[2] the buffer, KEYS[3] the groups with a buffer.
-- ARGV[1] the batch as taken (deleted only if KEYS[1] still holds it), ARGV[2] the group.
-- Returns 1.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return 1
