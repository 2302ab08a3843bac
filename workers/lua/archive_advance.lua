-- Move the archive cursor after a batch of records was processed (workers/archive/puller.py), only while
-- the pull lock is still ours, and renew the lock.
-- KEYS[1] lock, KEYS[2] cursor; ARGV[1] token, ARGV[2] new seq (decimal), ARGV[3] lock ttl ms.
-- Returns 1 advanced (or already there), 0 the lock is not ours any more (nothing changed).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local cur = redis.call('GET', KEYS[2]) or '0'
local new = ARGV[2]
if #new > #cur or (#new == #cur and new > cur) then
  redis.call('SET', KEYS[2], new)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
