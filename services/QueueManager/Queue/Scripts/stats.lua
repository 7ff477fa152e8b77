-- A consistent snapshot of one channel's numbers. ARGV: none.
-- Returns { exists, ready, leases, delayed, dlq, live_connections, paused, oldest_envelope_or_false, counters... }
-- (counters as a flat field/value list from the stats hash).
if redis.call('EXISTS', K_CONFIG) == 0 then return { 0 } end
local now = now_ms()
local front = redis.call('ZRANGE', K_READY, 0, 0)
local oldest = false
if #front == 1 then oldest = redis.call('HGET', K_MESSAGES, front[1]) or false end
local out = {
  1,
  redis.call('ZCARD', K_READY),
  redis.call('ZCARD', K_LEASES),
  redis.call('ZCARD', K_DELAYED),
  redis.call('ZCARD', K_DLQ),
  redis.call('ZCOUNT', K_CONNS, '(' .. now, '+inf'),
  cfg_number('paused', 0),
  oldest,
}
local counters = redis.call('HGETALL', K_STATS)
for i = 1, #counters do out[#out + 1] = counters[i] end
out[#out + 1] = 'history_messages'
out[#out + 1] = redis.call('ZCARD', K_HIST)
return out
