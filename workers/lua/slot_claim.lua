-- Claim scheduled slots, each once (workers/schedule.py), in chunks of schedule.CLAIM_CHUNK claims.
-- KEYS: (slot key, paused key, pending zset) triples; ARGV[1] ttl, ARGV[2] now, then per triple its
-- value and its pending member. Returns per triple: 1 claimed with its value, 2 claimed as paused,
-- 0 already claimed. A won `sent` claim enters the pending set in the same step, so a tick that dies
-- before it enqueues the batch leaves a trace that a later tick recovers (recover_pending).
local out = {}
local n = 0
for i = 1, #KEYS, 3 do
  n = n + 1
  local value = ARGV[2 * n + 1]
  local status = 1
  if redis.call('EXISTS', KEYS[i + 1]) == 1 then
    value = 'paused'
    status = 2
  end
  if redis.call('SET', KEYS[i], value, 'NX', 'EX', ARGV[1]) then
    out[n] = status
    if status == 1 and string.sub(value, 1, 4) == 'sent' then
      redis.call('ZADD', KEYS[i + 2], ARGV[2], ARGV[2 * n + 2])
    end
  else
    out[n] = 0
  end
end
return out
