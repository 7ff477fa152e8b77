-- Refresh a live connection: ARGV 1 connection id, 2 alive ms, 3 Connection protobuf, 4 created_ms of the
-- channel the stream subscribed to.
-- Returns 1, or 0 when that channel no longer exists (deleted, or deleted and created again under the same name:
-- the stream belongs to the old one and must close).
-- Re-adds an entry a long Redis outage let lapse; the connection is real, so it counts again.
local created = redis.call('HGET', K_CONFIG, 'created_ms')
if not created or created ~= ARGV[4] then return 0 end
redis.call('ZADD', K_CONNS, now_ms() + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', K_CONN_INFO, ARGV[1], ARGV[3])
return 1
