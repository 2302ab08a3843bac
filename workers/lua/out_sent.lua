-- Record one outbound message as sent, in one step: its state, the sends metric, and the end of its
-- channel's failure run.
-- KEYS[1] the message's state hash, KEYS[2] the metrics hash, KEYS[3] the channel's failure-run key.
-- ARGV[1] now, ARGV[2] state ttl, ARGV[3] the metric to count (sends_ok / sends_dry_run), ARGV[4] dry run (0/1).
redis.call('HSET', KEYS[1], 'status', 'sent', 'updated', ARGV[1], 'sent_at', ARGV[1], 'dry_run', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('DEL', KEYS[3])
return 1
