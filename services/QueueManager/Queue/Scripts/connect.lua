-- Register a connection: ARGV 1 connection id, 2 alive ms, 3 Connection protobuf.
-- Returns { 'ok', '', stale } or { 'full', max, stale }, where stale lists the connection ids of crashed replicas
-- removed here (the caller removes them from the cross-slot wc:connection-index); or { 'not_found' }.
-- Invariant: conns never holds more live entries than max_connections; entries of crashed replicas stop
-- counting when their alive-until passes (they are removed here first).
if redis.call('EXISTS', K_CONFIG) == 0 then return { 'not_found' } end
local now = now_ms()
local stale = redis.call('ZRANGEBYSCORE', K_CONNS, '-inf', now)
for _, connection in ipairs(stale) do
  redis.call('ZREM', K_CONNS, connection)
  redis.call('HDEL', K_CONN_INFO, connection)
end
local max = cfg_number('max_connections', 10)
if redis.call('ZCARD', K_CONNS) >= max then return { 'full', tostring(max), stale } end
redis.call('ZADD', K_CONNS, now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', K_CONN_INFO, ARGV[1], ARGV[3])
return { 'ok', '', stale }
