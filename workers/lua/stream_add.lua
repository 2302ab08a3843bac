-- Durably add payloads to a stream, each at most once per dedupe key, in one call, and say whether
-- the caller must wake a drain job (the wake flag was not already set). Several callbacks of one web
-- process share this call (workers/group_commit.py); each learns its own outcome.
-- KEYS[1] stream, KEYS[2] wake flag, KEYS[3] metrics hash, KEYS[3 + i] dedupe key of payload i
-- ARGV[1] dedupe ttl seconds (0 = no dedupe), ARGV[2] wake flag ttl,
-- ARGV[1 + 2i] payload i, ARGV[2 + 2i] metrics field to count payload i in ('' = none): the
-- callback's status, so that counting costs no round trip of its own
-- Returns {must_wake, added_1, ..., added_n} (1 added, 0 a duplicate)
local out = {0}
local counts = {}
local added_any = false
for i = 1, (#ARGV - 2) / 2 do
  local field = ARGV[2 + 2 * i]
  if field ~= '' then
    counts[field] = (counts[field] or 0) + 1
  end
  -- The entry is written before its dedupe key: a script that fails half-way keeps what it wrote
  -- (Redis has no rollback), and a dedupe key without its entry would make WeCom's retry of a
  -- message answered 503 look like a duplicate, losing it. An entry without its key at worst comes
  -- twice, which the workers absorb (every effect is keyed by msgid).
  if ARGV[1] == '0' or redis.call('EXISTS', KEYS[3 + i]) == 0 then
    redis.call('XADD', KEYS[1], '*', 'p', ARGV[1 + 2 * i])
    if ARGV[1] ~= '0' then
      redis.call('SET', KEYS[3 + i], '1', 'EX', ARGV[1])
    end
    out[i + 1] = 1
    added_any = true
  else
    out[i + 1] = 0
  end
end
counts[KEYS[1] .. ':writes'] = 1   -- shared writes: callbacks per write = callbacks / writes
for field, n in pairs(counts) do
  redis.call('HINCRBY', KEYS[3], field, n)
end
if added_any and redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  out[1] = 1
end
return out
