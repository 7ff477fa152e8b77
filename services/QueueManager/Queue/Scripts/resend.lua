-- Resend a message from the history (admin ResendMessage, ReplayRange): ARGV 1 events channel, 2 channel name,
-- 3 message id, 4 the new envelope (the caller's copy with Message.resend = series + 1), 5 the series the caller
-- read (so a concurrent resend is noticed, not doubled).
-- Returns { 'ok', new series } or { refusal }: 'not_found' (not listed, or its envelope is gone), 'queued' (waiting or
-- in flight: it will be delivered anyway), 'conflict' (the record changed since the caller read it: read again).
-- Invariant: the copy is queued like a replayed dead letter (back of the queue, attempt series from 1, fresh TTL,
-- not refused by max_queue_size), its envelope counted in queue_bytes again and out of history_bytes; a dead letter
-- leaves the dead-letter queue.
local id, envelope, expected = ARGV[3], ARGV[4], tonumber(ARGV[5])
local rec = redis.call('HGET', K_HIST_REC, id)
if not rec then return { 'not_found' } end
local state, _, _, series, attempts = hist_split(rec)
if series ~= expected then return { 'conflict' } end
if state == 'W' or state == 'F' then return { 'queued' } end
local now = now_ms()
if state == 'D' then
  redis.call('ZREM', K_DLQ, id)
  redis.call('HDEL', K_DLQ_INFO, id)
  forget_message(id)
else
  if not hist_reopen(id) then return { 'not_found' } end
  redis.call('ZREM', K_SETTLED, id)
end
store_message(id, envelope)
redis.call('HDEL', K_STATE, id)
redis.call('ZADD', K_READY, redis.call('INCR', K_SEQ), id)
redis.call('ZADD', K_EXPIRY, now + cfg_number('ttl_ms', 86400000), id)
series = series + 1
redis.call('HSET', K_HIST_REC, id, table.concat({ 'W', '0', '', series }, US) .. attempts)
wake(ARGV[1], ARGV[2])
tail('R', now, id, envelope)
return { 'ok', series }
