-- Replay dead letters: ARGV 1 events channel, 2 channel name, 3 chunk size for 'all' (the oldest N) or '0' for the
-- ids in 4.. (the caller repeats an 'all' call until fewer than N come back, so no call blocks Redis for long).
-- Replayed messages go to the back of the queue in dead-letter order, keep their id, start again at attempt 1
-- and get a fresh TTL counted from now. Not refused by max_queue_size (an operator's decision).
-- Returns { replayed_count, not_found_id1, ... }.
local now = now_ms()
local ttl = cfg_number('ttl_ms', 86400000)
local ids
if ARGV[3] ~= '0' then
  ids = redis.call('ZRANGE', K_DLQ, 0, tonumber(ARGV[3]) - 1)
else
  ids = {}
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
  -- keep dead-letter order for the ones found
  table.sort(ids, function(a, b)
    local sa = tonumber(redis.call('ZSCORE', K_DLQ, a) or '0')
    local sb = tonumber(redis.call('ZSCORE', K_DLQ, b) or '0')
    if sa == sb then return a < b end
    return sa < sb
  end)
end
local out = { 0 }
for _, id in ipairs(ids) do
  if redis.call('ZREM', K_DLQ, id) == 1 then
    redis.call('HDEL', K_DLQ_INFO, id)
    redis.call('HDEL', K_STATE, id)
    redis.call('ZADD', K_READY, redis.call('INCR', K_SEQ), id)
    redis.call('ZADD', K_EXPIRY, now + ttl, id)
    hist_update(id, 'W', now, '')
    tail('R', now, id, redis.call('HGET', K_MESSAGES, id) or '')
    out[1] = out[1] + 1
  else
    out[#out + 1] = id
  end
end
if out[1] > 0 then wake(ARGV[1], ARGV[2]) end
return out
