-- Publish one or more messages of one channel, in order (concurrent publishes are grouped into one call).
-- ARGV: 1 events channel, 2 channel name, 3 default max_queue_bytes (for channels stored without the field),
--       then 7 per message: id, envelope (Message protobuf), received_at ms, idempotency key or '', body bytes,
--       replay key position in KEYS (0: none), replay window ms.
-- KEYS: the channel's keys (common.lua), then one wc:{channel}:replay:<key> per message that has a replay key.
-- Returns 2 per message: outcome ('queued', 'already_queued', 'duplicate', 'not_found', 'too_large', 'full',
-- 'over_budget') and a detail (the original id for 'duplicate', the limit for 'too_large' and 'full',
-- 'limit|held bytes' for 'over_budget', '' otherwise).
-- Invariants: a message id is queued at most once (while it is in messages or recently settled); the channel
-- never holds more than max_queue_size unacked messages (ready + delayed + leases) nor more than max_queue_bytes
-- of stored envelopes (queue_bytes, dead letters included; see store_message); a replay key names at most one
-- queued message for its window (it is set only when its message is queued, so a refused one may be sent again);
-- counters change only together with the write they count; with history on (history_retention > 0) every queued
-- message is listed in hist with a fresh record (common.lua).
local out = {}
local count = (#ARGV - 3) / 7
if redis.call('EXISTS', K_CONFIG) == 0 then
  for i = 1, count do
    out[#out + 1] = 'not_found'
    out[#out + 1] = ''
  end
  return out
end
local cfg = redis.call('HMGET', K_CONFIG, 'max_message_bytes', 'max_queue_size', 'ttl_ms', 'max_queue_bytes', 'history_retention_ms')
local max_bytes = tonumber(cfg[1] or '10485760')
local max_size = tonumber(cfg[2] or '10000')
local ttl = tonumber(cfg[3] or '86400000')
local budget = tonumber(cfg[4] or ARGV[3])
local history_on = tonumber(cfg[5] or '86400000') > 0
local held = tonumber(redis.call('HGET', K_STATS, QUEUE_BYTES) or '0')
local now = now_ms()
local waiting = redis.call('ZCARD', K_READY)
local was_empty = waiting == 0
local size = waiting + redis.call('ZCARD', K_DELAYED) + redis.call('ZCARD', K_LEASES)
local published, duplicates, rejected = 0, 0, 0
-- The writes of the queued messages are gathered and made with one command per structure after the loop, instead
-- of one per message and structure; what a later message of the same call checks is answered from `queued` (its id)
-- and `sequence` (seq), so the outcomes are those of one message at a time. Idempotency and replay keys are still
-- written at once (a later message may ask for them; they are rare).
local queued = {}
local envelopes, ready, expiry, hist, recs = {}, {}, {}, {}, {}
local sequence = nil
local added_bytes = 0

local function publish_one(id, envelope, received, idem_key, body_size, replay_key, replay_ms)
  if body_size > max_bytes then return 'too_large', tostring(max_bytes) end
  if queued[id] or redis.call('HEXISTS', K_MESSAGES, id) == 1 or redis.call('ZSCORE', K_SETTLED, id) then
    return 'already_queued', ''
  end
  if idem_key ~= '' then
    local original = redis.call('HGET', K_IDEM, idem_key)
    local forget_at = redis.call('ZSCORE', K_IDEM_EXP, idem_key)
    if original and forget_at and tonumber(forget_at) > now then
      duplicates = duplicates + 1
      return 'duplicate', original
    end
  end
  if replay_key then
    local original = redis.call('GET', replay_key)
    if original then
      duplicates = duplicates + 1
      return 'duplicate', original
    end
  end
  if size >= max_size then
    rejected = rejected + 1
    return 'full', tostring(max_size)
  end
  if held + #envelope > budget then
    rejected = rejected + 1
    return 'over_budget', string.format('%d|%d', budget, held)
  end
  local expires = received + ttl
  queued[id] = true
  push(envelopes, id, envelope)
  added_bytes = added_bytes + #envelope
  held = held + #envelope
  sequence = (sequence or tonumber(redis.call('GET', K_SEQ) or '0')) + 1
  push(ready, sequence, id)
  push(expiry, expires, id)
  if history_on then
    push(hist, string.format('%d', received * 1000 + sequence % 1000), id)
    push(recs, id, table.concat({ 'W', '', '', '0' }, US))
  end
  tail('A', now, id, envelope)
  if idem_key ~= '' then
    redis.call('HSET', K_IDEM, idem_key, id)
    redis.call('ZADD', K_IDEM_EXP, expires, idem_key)
  end
  if replay_key then redis.call('SET', replay_key, id, 'PX', replay_ms) end
  size = size + 1
  published = published + 1
  return 'queued', ''
end

for i = 0, count - 1 do
  local base = 4 + i * 7
  local replay_at = tonumber(ARGV[base + 5])
  local replay_key = nil
  if replay_at > 0 then replay_key = KEYS[replay_at] end
  local outcome, detail = publish_one(ARGV[base], ARGV[base + 1], tonumber(ARGV[base + 2]), ARGV[base + 3], tonumber(ARGV[base + 4]),
    replay_key, ARGV[base + 6])
  out[#out + 1] = outcome
  out[#out + 1] = detail
end
if published > 0 then
  store_messages(envelopes, added_bytes)
  redis.call('INCRBY', K_SEQ, published)
  write_many('ZADD', K_READY, ready)
  write_many('ZADD', K_EXPIRY, expiry)
  write_many('ZADD', K_HIST, hist)
  write_many('HSET', K_HIST_REC, recs)
  redis.call('HINCRBY', K_STATS, 'published_total', published)
end
if duplicates > 0 then redis.call('HINCRBY', K_STATS, 'duplicates_total', duplicates) end
if rejected > 0 then redis.call('HINCRBY', K_STATS, 'rejected_total', rejected) end
if was_empty and published > 0 then wake(ARGV[1], ARGV[2]) end
return out
