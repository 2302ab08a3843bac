-- Claim one outbound message for a send attempt.
-- KEYS[1] its state hash. ARGV[1] now, ARGV[2] seconds after which 'sending' is stale, ARGV[3] ttl.
-- Returns {verdict, attempts, unknown}: 'sent'/'failed' (done: do nothing), 'busy' (another worker
-- is sending it now), 'stale' (a worker died while sending: outcome unknown), 'go' (attempts counted).
local st = redis.call('HMGET', KEYS[1], 'status', 'updated', 'attempts', 'unknown')
local status = st[1]
local attempts = tonumber(st[3] or '0') or 0
local unknown = tonumber(st[4] or '0') or 0
if status == 'sent' or status == 'failed' then
  return {status, attempts, unknown}
end
if status == 'sending' then
  if (tonumber(st[2] or '0') or 0) > tonumber(ARGV[1]) - tonumber(ARGV[2]) then
    return {'busy', attempts, unknown}
  end
  return {'stale', attempts, unknown}
end
attempts = attempts + 1
redis.call('HSET', KEYS[1], 'status', 'sending', 'updated', ARGV[1], 'attempts', attempts)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {'go', attempts, unknown}
