-- Publish one message.
-- ARGV: 1 message id, 2 envelope (Message protobuf), 3 received_at ms, 4 idempotency key or '', 5 body bytes,
--       6 events channel, 7 channel name
-- Invariants: a message id is queued at most once (while it is in messages or recently settled); the channel
-- never holds more than max_queue_size unacked messages (ready + delayed + leases); counters change only together
-- with the write they count.
local id, envelope, received, idem_key, body_size = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
if redis.call('EXISTS', K_CONFIG) == 0 then return { 'not_found' } end
local max_bytes = cfg_number('max_message_bytes', 10485760)
if body_size > max_bytes then return { 'too_large', tostring(max_bytes) } end
if redis.call('HEXISTS', K_MESSAGES, id) == 1 or redis.call('ZSCORE', K_SETTLED, id) then
  return { 'already_queued' }
end
local now = now_ms()
if idem_key ~= '' then
  local original = redis.call('HGET', K_IDEM, idem_key)
  local forget_at = redis.call('ZSCORE', K_IDEM_EXP, idem_key)
  if original and forget_at and tonumber(forget_at) > now then
    redis.call('HINCRBY', K_STATS, 'duplicates_total', 1)
    return { 'duplicate', original }
  end
end
local waiting = redis.call('ZCARD', K_READY)
local size = waiting + redis.call('ZCARD', K_DELAYED) + redis.call('ZCARD', K_LEASES)
local max_size = cfg_number('max_queue_size', 10000)
if size >= max_size then
  redis.call('HINCRBY', K_STATS, 'rejected_total', 1)
  return { 'full', tostring(max_size) }
end
local expires = received + cfg_number('ttl_ms', 86400000)
redis.call('HSET', K_MESSAGES, id, envelope)
redis.call('ZADD', K_READY, redis.call('INCR', K_SEQ), id)
redis.call('ZADD', K_EXPIRY, expires, id)
if idem_key ~= '' then
  redis.call('HSET', K_IDEM, idem_key, id)
  redis.call('ZADD', K_IDEM_EXP, expires, idem_key)
end
redis.call('HINCRBY', K_STATS, 'published_total', 1)
if waiting == 0 then wake(ARGV[6], ARGV[7]) end
return { 'queued' }
