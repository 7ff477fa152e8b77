-- Refresh a live connection: ARGV 1 connection id, 2 alive ms, 3 Connection protobuf.
-- Returns 1, or 0 when the channel no longer exists (it was deleted: the stream must close).
-- Re-adds an entry a long Redis outage let lapse; the connection is real, so it counts again.
if redis.call('EXISTS', K_CONFIG) == 0 then return 0 end
redis.call('ZADD', K_CONNS, now_ms() + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', K_CONN_INFO, ARGV[1], ARGV[3])
return 1
